/**
 * Seeded fuzzing helpers for the reliability tier: a small deterministic PRNG (mulberry32) and
 * spec mutators that turn a valid cluster.yaml into hostile input — type swaps, out-of-range
 * numbers, deleted/duplicated/unknown keys, and YAML oddities (anchors, alias bombs, merge keys,
 * tags, huge documents, deep nesting, tabs, BOMs, non-UTF-8 bytes, NUL, very long lines, torn
 * text). Every mutation is reproducible from (seed, index).
 */
import { parse, stringify } from 'yaml';

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: tiny, fast, good enough for fuzzing, and the same sequence on every machine. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)]!, chance: (p) => next() < p };
}

/** Values of every type and many edges, to put where the schema expects something else. */
export const HOSTILE_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  65536,
  2 ** 31,
  2 ** 53 + 1,
  -(2 ** 63),
  1e308,
  '',
  ' ',
  'x'.repeat(300),
  '../../../etc/passwd',
  '$(reboot)',
  '`id`',
  "'; DROP TABLE hosts; --",
  '%n%n%n%s',
  '\u0000',
  '\u202e',
  'ünïcødé-ホスト',
  '10.0.0.1/33',
  '999.1.1.1',
  '::1',
  'v0.0.0',
  'v1.99.0',
  'v1.37.0',
  '1.37',
  'NaN',
  '.inf',
  [],
  [null],
  [1, 'a', {}],
  {},
  { nested: { deeper: [1, 2, 3] } },
  JSON.parse('{"__proto__": {"polluted": true}}'),
  { constructor: { prototype: { polluted: true } } },
];

type Tree = unknown;

/** Paths (arrays of keys/indices) to every node in a plain tree. */
function collectPaths(tree: Tree, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(tree)) {
    tree.forEach((child, i) => {
      out.push([...prefix, i]);
      collectPaths(child, [...prefix, i], out);
    });
  } else if (tree && typeof tree === 'object') {
    for (const [k, child] of Object.entries(tree)) {
      out.push([...prefix, k]);
      collectPaths(child, [...prefix, k], out);
    }
  }
  return out;
}

function parentOf(tree: Tree, path: (string | number)[]): Record<string | number, unknown> | undefined {
  let node = tree as Record<string | number, unknown> | undefined;
  for (const part of path.slice(0, -1)) {
    node = node?.[part] as Record<string | number, unknown> | undefined;
    if (!node || typeof node !== 'object') return undefined;
  }
  return node;
}

/** Structural mutations on the parsed document, re-serialized. */
const TREE_MUTATIONS: ((tree: Tree, rng: Rng) => void)[] = [
  // type swap / hostile value
  (tree, rng) => {
    const paths = collectPaths(tree);
    const path = paths.length ? rng.pick(paths) : undefined;
    const parent = path && parentOf(tree, path);
    if (path && parent) parent[path[path.length - 1]!] = structuredCloneSafe(rng.pick(HOSTILE_VALUES));
  },
  // numbers out of range
  (tree, rng) => {
    for (const path of collectPaths(tree)) {
      const parent = parentOf(tree, path);
      const key = path[path.length - 1]!;
      if (parent && typeof parent[key] === 'number' && rng.chance(0.7)) parent[key] = rng.pick([-1, 0, 65536, 4294967296, 1e21, 0.25, -0]);
    }
  },
  // delete a key
  (tree, rng) => {
    const paths = collectPaths(tree);
    const path = paths.length ? rng.pick(paths) : undefined;
    const parent = path && parentOf(tree, path);
    if (!path || !parent) return;
    const key = path[path.length - 1]!;
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  },
  // unknown key
  (tree, rng) => {
    const paths = collectPaths(tree).filter((p) => {
      const parent = parentOf(tree, p);
      const v = parent?.[p[p.length - 1]!];
      return v && typeof v === 'object' && !Array.isArray(v);
    });
    const path = paths.length ? rng.pick(paths) : undefined;
    const parent = path && parentOf(tree, path);
    if (path && parent)
      (parent[path[path.length - 1]!] as Record<string, unknown>)[rng.pick(['extra', 'Name', 'hosts ', '__proto__', 'ROLE'])] = 1;
  },
  // duplicate an array element (duplicate hosts, duplicate addresses)
  (tree, rng) => {
    const arrays = collectPaths(tree).filter((p) => Array.isArray(parentOf(tree, p)?.[p[p.length - 1]!]));
    const path = arrays.length ? rng.pick(arrays) : undefined;
    const list = path && (parentOf(tree, path)?.[path[path.length - 1]!] as unknown[]);
    if (list?.length) list.push(structuredCloneSafe(rng.pick(list)));
  },
  // many hosts
  (tree, rng) => {
    const spec = (tree as { spec?: { hosts?: unknown[] } })?.spec;
    if (!spec || !Array.isArray(spec.hosts)) return;
    const n = rng.pick([50, 300, 1500]);
    for (let i = 0; i < n; i++)
      spec.hosts.push({
        name: `w${i}`,
        role: rng.pick(['worker', 'control-plane', 'etcd', 'load-balancer', 'nope']),
        address: `10.9.${i >> 8}.${i & 255}/16`,
      });
  },
];

function structuredCloneSafe<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Textual mutations: what a structural round trip cannot produce. */
const TEXT_MUTATIONS: ((text: string, rng: Rng) => string | Uint8Array)[] = [
  // duplicate a line (duplicate keys)
  (text, rng) => {
    const lines = text.split('\n');
    const i = rng.int(lines.length);
    lines.splice(i, 0, lines[i] ?? '');
    return lines.join('\n');
  },
  // delete a line
  (text, rng) => {
    const lines = text.split('\n');
    lines.splice(rng.int(lines.length), 1);
    return lines.join('\n');
  },
  // swap two lines
  (text, rng) => {
    const lines = text.split('\n');
    const a = rng.int(lines.length);
    const b = rng.int(lines.length);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    return lines.join('\n');
  },
  // tabs for indentation
  (text, rng) => text.replace(/^( {2})+/gm, (m) => (rng.chance(0.5) ? '\t'.repeat(m.length / 2) : m)),
  // BOM(s)
  (text, rng) => '\ufeff'.repeat(1 + rng.int(2)) + text,
  // NUL and control characters
  (text, rng) => {
    const at = rng.int(text.length + 1);
    return text.slice(0, at) + rng.pick(['\u0000', '\u0007', '\u001b[2J', '\u2028', '\ud800', '\r', '\u0085']) + text.slice(at);
  },
  // non-UTF-8 bytes
  (text, rng) => {
    const bytes = Buffer.from(text, 'utf8');
    const at = rng.int(bytes.length + 1);
    const bad = Buffer.from(rng.pick([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x28, 0x8c, 0xbc], [0xed, 0xa0, 0x80], [0x80]]));
    return new Uint8Array(Buffer.concat([bytes.subarray(0, at), bad, bytes.subarray(at)]));
  },
  // a very long line
  (text, rng) => {
    const lines = text.split('\n');
    const i = rng.int(lines.length);
    lines[i] = `${lines[i] ?? ''}${rng.pick(['x', ' ', '#', 'a: ', '['])}`.padEnd(50_000 + rng.int(150_000), rng.pick(['x', 'y', '9']));
    return lines.join('\n');
  },
  // torn: cut at a random byte
  (text, rng) => text.slice(0, rng.int(text.length)),
  // random byte flips
  (text, rng) => {
    const bytes = Buffer.from(text, 'utf8');
    for (let i = 0; i < 1 + rng.int(8); i++) if (bytes.length) bytes[rng.int(bytes.length)] = rng.int(256);
    return new Uint8Array(bytes);
  },
  // alias bomb (billion laughs)
  (_text, rng) => {
    const levels = 4 + rng.int(6);
    const out = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i <= levels; i++) out.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    out.push(`apiVersion: kubeseed.dev/v1alpha1\nkind: Cluster\nmetadata: { name: *a${levels} }`);
    return out.join('\n');
  },
  // anchors, aliases and merge keys inside the real spec
  (text, rng) => {
    const lines = text.split('\n');
    const i = rng.int(lines.length);
    const line = lines[i] ?? '';
    const m = /^(\s*)([A-Za-z]+):\s*(.*)$/.exec(line);
    if (!m) return `${text}\nx: &x { <<: *x }\n`;
    lines[i] =
      `${m[1]}${m[2]}: ${rng.pick([`&anc ${m[3]}`, '*undefined', '*anc', `!!binary ${m[3]}`, `!custom ${m[3]}`, `!!set { a }`, '<<: *anc', `!!js/function "x"`])}`;
    return lines.join('\n');
  },
  // deep nesting
  (_text, rng) => {
    const depth = rng.pick([100, 1000, 5000, 20_000]);
    return rng.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `spec: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`;
  },
  // deep block nesting
  (_text, rng) => {
    const depth = rng.pick([50, 500, 2000]);
    return Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1';
  },
  // huge document (over the 4 MiB limit or just under it)
  (text, rng) => (rng.chance(0.7) ? `${text}\n# ${'z'.repeat(4 * 1024 * 1024 + 10)}\n` : `${text}\n${'#'.repeat(120)}\n`.repeat(50)),
  // several documents
  (text) => `${text}\n---\n${text}`,
  // CRLF line ends and trailing junk
  (text, rng) => text.replace(/\n/g, '\r\n') + rng.pick(['', '\u0000', '...', '---', '%YAML 1.1\n']),
  // directives and odd scalars
  (text, rng) => `${rng.pick(['%YAML 1.1\n---\n', '%TAG ! tag:x,2000:\n---\n', '%FOO bar\n---\n', '? complex\n: key\n'])}${text}`,
  // empty / whitespace / comment-only
  (_text, rng) => rng.pick(['', ' ', '\n\n', '# only a comment\n', '~', 'null', '[]', '{}', '"just a string"', '42', '---\n...\n']),
];

/** Mutations whose inputs are large (slow to parse by design): used for about 5% of the inputs. */
const EXPENSIVE_TEXT = new Set([7, 12, 13, 14]);
const EXPENSIVE_TREE = new Set([5]);
const CHEAP_TEXT = TEXT_MUTATIONS.map((_, i) => i).filter((i) => !EXPENSIVE_TEXT.has(i));
const CHEAP_TREE = TREE_MUTATIONS.map((_, i) => i).filter((i) => !EXPENSIVE_TREE.has(i));

export interface MutatedSpec {
  /** Index of the input, for reproducing a failure with the same seed. */
  index: number;
  description: string;
  input: string | Uint8Array;
}

const treeCache = new Map<string, Tree>();

/**
 * Mutates `base` (valid YAML text): 0–2 structural mutations on its parsed tree (serialized once),
 * then 0–2 textual ones, at least one in all. Deterministic for the rng's state.
 */
export function mutateSpec(base: string, rng: Rng, index: number): MutatedSpec {
  const steps: string[] = [];
  let input: string | Uint8Array = base;
  const treeRounds = rng.int(3);
  const textRounds = Math.max(treeRounds === 0 ? 1 : 0, rng.int(3));
  const expensive = rng.chance(0.05);
  if (treeRounds > 0) {
    if (!treeCache.has(base)) treeCache.set(base, parse(base));
    const tree = structuredClone(treeCache.get(base));
    for (let round = 0; round < treeRounds; round++) {
      const m = expensive && textRounds === 0 && round === treeRounds - 1 ? [...EXPENSIVE_TREE][0]! : rng.pick(CHEAP_TREE);
      TREE_MUTATIONS[m]!(tree, rng);
      steps.push(`tree#${m}`);
    }
    input = stringify(tree, { lineWidth: 0 });
  }
  for (let round = 0; round < textRounds; round++) {
    // Large inputs are not mutated further: compounding only measures this machine's memory.
    if (input.length > 64 * 1024) break;
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
    const m = expensive && round === textRounds - 1 ? rng.pick([...EXPENSIVE_TEXT]) : rng.pick(CHEAP_TEXT);
    input = TEXT_MUTATIONS[m]!(text, rng);
    steps.push(`text#${m}`);
  }
  return { index, description: steps.join('+'), input };
}
