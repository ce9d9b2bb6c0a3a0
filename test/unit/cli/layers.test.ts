/**
 * The import arrows of STYLE.md, checked on the real sources: cli/ is the outer edge (it may use
 * generator/ and server/; only tests and bin/ import it), generator/ imports nothing from server/
 * or cli/, server/ nothing from cli/, and the agent only protocol/ of our folders. Every
 * static import, re-export and `import()` with a literal specifier is read; a violation names
 * the file, the line and the arrow it breaks. (npm packages the agent bundles, like undici, are
 * the agent build's concern, not an arrow between our folders.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SCANNED = ['agent', 'bench', 'bin', 'cli', 'generator', 'protocol', 'scripts', 'server', 'templates'];

/** For each top-level folder: the top-level folders its modules must not import. */
const FORBIDDEN: Record<string, string[]> = {
  generator: ['cli', 'server', 'agent', 'bench', 'test', 'scripts'],
  server: ['cli', 'agent', 'bench', 'test', 'scripts'],
  protocol: ['cli', 'server', 'agent', 'generator', 'templates', 'bench', 'test', 'scripts'],
  templates: ['cli', 'server', 'agent', 'bench', 'test', 'scripts'],
  bench: ['cli'],
  scripts: ['cli'],
  cli: ['agent', 'bench', 'scripts'],
};
/** The agent runs alone on a host: of our folders, only its own and protocol/. */
const AGENT_ALLOWED = new Set(['agent', 'protocol']);

interface Violation {
  file: string;
  line: number;
  specifier: string;
  rule: string;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

/** The top-level folder a repository-relative path lies in ('' for a file at the root). */
function topOf(path: string): string {
  return path.includes('/') ? path.slice(0, path.indexOf('/')) : '';
}

/** Violations in one source file (`file` is repository-relative, with forward slashes). */
function importViolations(file: string, text: string): Violation[] {
  const from = topOf(file);
  const found: Violation[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const specifier = m[1]!;
    const line = text.slice(0, m.index).split('\n').length;
    const relativeImport = specifier.startsWith('.');
    const to = relativeImport ? topOf(join(dirname(file), specifier).split(sep).join('/')) : null;
    if (from === 'agent') {
      if (to !== null && !AGENT_ALLOWED.has(to)) {
        found.push({ file, line, specifier, rule: 'agent/ imports only protocol/ of our folders' });
      }
      continue;
    }
    if (to === null) continue;
    if (FORBIDDEN[from]?.includes(to)) found.push({ file, line, specifier, rule: `${from}/ must not import ${to}/` });
  }
  return found;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...sources(path));
    } else if (/\.(ts|mts|mjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.mts')) out.push(path);
  }
  return out;
}

describe('import arrows (STYLE.md layers)', () => {
  it('hold across the repository: cli/ is the outer edge, generator/ and server/ never import it', () => {
    const files = SCANNED.flatMap(sources);
    expect(files.length).toBeGreaterThan(100);
    const violations = files.flatMap((f) => importViolations(f, readFileSync(join(ROOT, f), 'utf8')));
    expect(violations.map((v) => `${v.file}:${v.line}: ${v.specifier} (${v.rule})`)).toEqual([]);
  });

  it('cli/ exists and holds the command table; generator/cli/ is gone', () => {
    expect(readdirSync(join(ROOT, 'cli'))).toContain('commands.ts');
    expect(() => readdirSync(join(ROOT, 'generator', 'cli'))).toThrow();
  });

  it.each([
    ['generator/plan/x.ts', "import { cmdServe } from '../../cli/coordinator-commands.ts';", 'generator/ must not import cli/'],
    ['generator/cli-ish.ts', "const s = () => import('../server/serve.ts');", 'generator/ must not import server/'],
    ['server/app.ts', "export { main } from '../cli/main.ts';", 'server/ must not import cli/'],
    ['agent/main.ts', "import { spec } from '../cli/commands.ts';", 'agent/ imports only protocol/ of our folders'],
    ['agent/steps/run.ts', "import { x } from '../../generator/util/text.ts';", 'agent/ imports only protocol/ of our folders'],
    ['bench/run.ts', "import { main } from '../cli/main.ts';", 'bench/ must not import cli/'],
  ])('finds a violation: %s', (file, text, rule) => {
    expect(importViolations(file, `// header\n${text}\n`)).toEqual([expect.objectContaining({ file, line: 2, rule })]);
  });

  it.each([
    ['cli/main.ts', "import { SpecError } from '../generator/errors.ts';"],
    ['cli/serve.ts', "const s = () => import('../server/serve.ts');"],
    ['agent/main.ts', "import { readFile } from 'node:fs/promises';\nimport { X } from '../protocol/schemas.ts';"],
    ['server/app.ts', "import fastify from 'fastify';\nimport { planRollout } from '../generator/plan/plan.ts';"],
  ])('allows %s', (file, text) => {
    expect(importViolations(file, text)).toEqual([]);
  });
});
