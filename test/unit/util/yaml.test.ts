/**
 * toYaml must write exactly what `yaml.stringify` writes, for every input: the fast emitter where it
 * applies, `stringify` itself where it does not. Held against stringify on awkward strings in every
 * position, on 24,000 generated documents, and on every document kubeseed writes for the examples —
 * which must all take the fast path (else the speed it exists for is silently gone).
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { describeHostPlan, placeholderSecrets } from '../../../generator/plan/document.ts';
import { buildCloudConfig } from '../../../generator/render/cloud-init.ts';
import { buildNetworkConfig } from '../../../generator/render/network-config.ts';
import { emitYaml, toYaml, type YamlOptions } from '../../../generator/util/yaml.ts';
import { EXAMPLES, IGNITION_EXAMPLES, planExample } from '../../support/fixtures.ts';

const OPTION_SETS: YamlOptions[] = [{ lineWidth: 0 }, { lineWidth: 0, version: '1.1' }, { version: '1.1' }, {}];

function reference(value: unknown, options: YamlOptions): string {
  return stringify(value, { version: options.version ?? '1.2', lineWidth: options.lineWidth ?? 80 });
}

/** Strings that make `yaml` use every scalar style, chomping mode and quoting rule it has. */
const AWKWARD = [
  '',
  ' ',
  'plain',
  'two words',
  'two\nlines\n',
  'no trailing newline\nat the end',
  'trailing newlines kept\n\n\n',
  '\n',
  '\n\n',
  '\n \n',
  ' \n',
  '  leading spaces need an indentation indicator\nsecond\n',
  '\n\nleading empty lines\n',
  '\n  leading break then spaces\nx\n',
  'empty\n\nlines\n\n\ninside\n',
  'whitespace-only\n   \nline\n',
  'trailing spaces   \nhere \n',
  'ends in spaces after text  ',
  'ends in blank line\n  ',
  'ends with tab\t',
  'tab\there\n\tand at the start\n',
  '\tstarts with tab',
  '#!/bin/sh\nset -eu\necho "quoted" \'single\' $VAR `cmd` \\ back\n',
  'key: value\n- dash\n? question\n',
  'a: b',
  'a:b',
  'a:',
  'x #y',
  'x#y',
  '#comment',
  '- dash',
  '-dash',
  '-',
  '?',
  '? q',
  '?q',
  ':',
  ':x',
  '[flow]',
  '{flow}',
  'a,b',
  '&anchor',
  '*alias',
  '!tag',
  '|',
  '>',
  "'single'",
  '"double"',
  'it\'s "both"',
  "it's",
  'say "hi"',
  '%directive',
  '---',
  '--- doc',
  '...',
  'line\n---\nmarker\n',
  'line\n...\nend\n',
  '@at',
  '`tick',
  '0755',
  '0644',
  '0o17',
  '0x1F',
  '0b101',
  '012',
  '1_000',
  '1:20',
  '190:20:30',
  '12',
  '-12',
  '+12',
  '1.5',
  '.5',
  '1e3',
  '1.0e+3',
  '.inf',
  '-.Inf',
  '.nan',
  '.NaN',
  'yes',
  'Yes',
  'NO',
  'on',
  'Off',
  'y',
  'N',
  'true',
  'False',
  'TRUE',
  'null',
  'Null',
  '~',
  '<<',
  '=',
  '2001-12-14',
  '2001-12-14t21:59:43.10-05:00',
  '10.0.0.1',
  '10.0.0.1/24',
  '::1',
  'fe80::1',
  'sha256:abc',
  'https://host:9443/path',
  'node-role.kubernetes.io/worker',
  'unicode ✓ ünïcödé\n',
  'ünïcödé',
  'line separator \u2028 inside\n',
  'nbsp\u00a0inside',
  'carriage\r\nreturns\r\n',
  'control \u0007 bell\n',
  'del \u007f',
  'lone \ud800 surrogate',
  'emoji 😀',
  'x'.repeat(100),
  `${'word '.repeat(30)}end`,
  `${'long line '.repeat(20)}\nsecond\n`,
];

const KEYS = [
  'plain',
  'with-dash',
  'a.b/c',
  'x_y',
  '',
  ' ',
  'a b',
  'a: b',
  '1',
  '0644',
  'true',
  'yes',
  '~',
  '-',
  'k#',
  '#k',
  '<<',
  'ü',
  'x'.repeat(1100),
  'multi\nline',
  '---',
];

describe('toYaml', () => {
  it('writes what stringify writes for awkward strings as values, items, nested items and keys', () => {
    for (const options of OPTION_SETS) {
      for (const s of AWKWARD) {
        for (const doc of [
          { k: s },
          { a: { b: { c: s } } },
          [s],
          [[s]],
          { list: [s, { k: s }] },
          [{ k: s, next: 1 }],
          { [s]: 1 },
          { a: { [s]: [s] } },
        ]) {
          expect(toYaml(doc, options), JSON.stringify({ doc, options })).toBe(reference(doc, options));
        }
      }
      for (const k of KEYS) {
        const doc = { [k]: 'v', nested: { [k]: { [k]: [k] } } };
        expect(toYaml(doc, options), JSON.stringify({ k, options })).toBe(reference(doc, options));
      }
    }
  });

  it('writes what stringify writes for scalars, empty collections, undefined and non-plain values', () => {
    const values: unknown[] = [
      0,
      -0,
      1,
      -7,
      2 ** 53,
      1.5,
      1e21,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      true,
      false,
      null,
      {},
      [],
      { gone: undefined },
      [null],
      [[]],
      [{}],
      { a: null, b: null },
      { a: null },
      new Date(0),
      new Map([['a', 1]]),
      new Set([1]),
      Object.create(null),
      'top-level string',
      'top\nlevel\n',
      42,
    ];
    for (const options of OPTION_SETS) {
      for (const [i, v] of values.entries()) {
        for (const doc of [v, { k: v }, [v], { a: [v, { b: v }] }]) {
          expect(toYaml(doc, options), `value #${i}`).toBe(reference(doc, options));
        }
      }
    }
  });

  it('writes what stringify writes for 24,000 generated documents', () => {
    let seed = 0x9e3779b9;
    const rand = () => {
      // xorshift32: reproducible, so a failure names the same document every run
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const CHARS = [
      'a',
      'b',
      'z',
      'A',
      '0',
      '1',
      '9',
      ' ',
      ' ',
      '\n',
      '\n',
      '\t',
      ':',
      '#',
      '-',
      '?',
      "'",
      '"',
      '.',
      '/',
      ',',
      '[',
      '{',
      '%',
      '|',
      '>',
      '!',
      '&',
      '*',
      '@',
      '`',
      '~',
      'ü',
      '\r',
      '\u0085',
    ];
    const str = (): string => {
      if (rand() < 0.3) return pick(AWKWARD);
      let s = '';
      const n = Math.floor(rand() * 12);
      for (let i = 0; i < n; i++) s += pick(CHARS);
      return s;
    };
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.45) return str();
      if (r < 0.5) return pick([0, 1, -3, 4096, true, false, null, undefined]);
      if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1) ?? null);
      const o: Record<string, unknown> = {};
      const n = Math.floor(rand() * 5);
      for (let i = 0; i < n; i++) o[rand() < 0.7 ? pick(['a', 'b', 'path', 'content', 'x-y', 'k.z/w']) : str()] = value(depth + 1);
      return o;
    };
    let fast = 0;
    for (const options of OPTION_SETS) {
      for (let i = 0; i < 6000; i++) {
        const doc = rand() < 0.5 ? { root: value(0) } : [value(1) ?? null];
        const want = reference(doc, options);
        const got = emitYaml(doc, options);
        if (got !== undefined) {
          fast++;
          expect(got, JSON.stringify({ i, doc, options })).toBe(want);
        }
        expect(toYaml(doc, options)).toBe(want);
      }
    }
    // The generator must exercise the fast path, not only the fallback.
    expect(fast).toBeGreaterThan(8000);
  });

  it('takes the fast path for every document kubeseed writes for the examples, with the same bytes', () => {
    let documents = 0;
    for (const example of [...EXAMPLES, ...IGNITION_EXAMPLES]) {
      const plan = planExample(example);
      for (const hp of plan.hosts) {
        const docs: [unknown, YamlOptions][] = [[describeHostPlan(plan, hp.name, placeholderSecrets), { lineWidth: 0 }]];
        if (hp.provisioning) docs.push([buildCloudConfig(hp.provisioning), { lineWidth: 0, version: '1.1' }]);
        const host = plan.spec.hosts.find((h) => h.name === hp.name)!;
        docs.push([buildNetworkConfig(host), { lineWidth: 0, version: '1.1' }]);
        docs.push([{ 'instance-id': `iid-${host.name}-0123456789ab`, 'local-hostname': host.name }, { version: '1.1' }]);
        for (const [doc, options] of docs) {
          expect(emitYaml(doc, options), `${example} ${hp.name}`).toBe(reference(doc, options));
          documents++;
        }
      }
    }
    expect(documents).toBeGreaterThan(100);
  });
});
