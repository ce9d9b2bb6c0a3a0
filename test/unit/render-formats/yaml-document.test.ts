/**
 * YamlDocumentWriter must give exactly the bytes of `stringify` of the whole document, whatever the
 * items hold, and reuse an item's text only for an equal item.
 */
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { buildCloudConfig, cloudConfigWriter, renderCloudConfig } from '../../../generator/render/cloud-init.ts';
import { YamlDocumentWriter } from '../../../generator/render/yaml-document.ts';
import { EXAMPLES, planExample } from '../../support/fixtures.ts';

const OPTIONS = { lineWidth: 0, version: '1.1' } as const;

/** Contents that make `yaml` pick every scalar style and indentation indicator it has. */
const AWKWARD = [
  '',
  'plain',
  'two\nlines\n',
  'no trailing newline\nat the end',
  'trailing newlines kept\n\n\n',
  '  leading spaces need an indentation indicator\nsecond\n',
  '\n\nleading empty lines\n',
  'empty\n\nlines\n\n\ninside\n',
  'whitespace-only\n   \nline\n',
  'trailing spaces   \nhere \n',
  'tab\there\n\tand at the start\n',
  '#!/bin/sh\nset -eu\necho "quoted" \'single\' $VAR `cmd` \\ back\n',
  'key: value\n- dash\n? question\n',
  '0755',
  'yes',
  'null',
  '- starts with a dash',
  ': colon',
  'unicode ✓ ünïcödé\n',
  'line separator \u2028 inside\n',
  'carriage\r\nreturns\r\n',
  'control \u0007 bell\n',
  '"quoted"',
  'x'.repeat(5000),
];

describe('YamlDocumentWriter', () => {
  it('writes what stringify writes, for every awkward content, nested and repeated', () => {
    const writer = new YamlDocumentWriter(OPTIONS);
    for (const [i, content] of AWKWARD.entries()) {
      const doc = {
        hostname: `h${i}`,
        write_files: [
          { path: '/a', content, owner: 'root:root', permissions: '0644' },
          { path: '/b', content, append: true },
          { path: '/c', content: AWKWARD[(i + 1) % AWKWARD.length], permissions: '0600' },
        ],
        runcmd: [['sh', '-c', content]],
      };
      const whole = stringify(doc, OPTIONS);
      // Twice: the second time every item comes from the writer's cache.
      expect(writer.write(doc, ['write_files'])).toBe(whole);
      expect(writer.write(doc, ['write_files'])).toBe(whole);
      expect(parse(writer.write(doc, ['write_files']), { version: '1.1' })).toEqual(doc);
    }
  });

  it('reuses text only for equal items: same content under another path or mode is its own text', () => {
    const writer = new YamlDocumentWriter(OPTIONS);
    const a = writer.write({ write_files: [{ path: '/x', content: 'same\n', permissions: '0644' }] }, ['write_files']);
    const b = writer.write({ write_files: [{ path: '/y', content: 'same\n', permissions: '0644' }] }, ['write_files']);
    const c = writer.write({ write_files: [{ path: '/x', content: 'same\n', permissions: '0600' }] }, ['write_files']);
    expect(a).toContain('path: /x');
    expect(b).toContain('path: /y');
    expect(c).toContain('permissions: "0600"');
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('leaves empty sequences, undefined values and other keys to stringify', () => {
    const writer = new YamlDocumentWriter(OPTIONS);
    const doc = { a: 1, write_files: [], gone: undefined, nested: { write_files: [{ path: '/n' }] }, list: [1, 'two'] };
    expect(writer.write(doc, ['write_files', 'list'])).toBe(stringify(doc, OPTIONS));
  });

  it.each(EXAMPLES)('renders every host of example %s as stringify does, through one shared writer', (example) => {
    const plan = planExample(example);
    const writer = cloudConfigWriter();
    for (const hp of plan.hosts) {
      const batch = renderCloudConfig(hp.provisioning!, writer);
      expect(batch).toBe(`#cloud-config\n${stringify(buildCloudConfig(hp.provisioning!), OPTIONS)}`);
      expect(batch).toBe(renderCloudConfig(hp.provisioning!));
    }
  });
});
