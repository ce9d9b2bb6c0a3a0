/**
 * docs/architecture.md names real places: every repository path it puts in backticks exists, and
 * every top-level source folder appears in it (a new folder must be placed in the picture).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');

describe('docs/architecture.md', () => {
  it('every path it names exists', () => {
    const paths = [...doc.matchAll(/`((?:agent|cli|generator|protocol|server|templates|test)\/[\w./-]*)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(20);
    const missing = paths.filter((p) => !existsSync(join(ROOT, p)));
    expect(missing).toEqual([]);
  });

  it('places every top-level source folder', () => {
    const folders = readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && ['agent', 'cli', 'generator', 'protocol', 'server', 'templates'].includes(e.name))
      .map((e) => e.name);
    for (const f of folders) expect(doc, f).toContain(`${f}/`);
    for (const sub of readdirSync(join(ROOT, 'generator'), { withFileTypes: true }).filter((e) => e.isDirectory()))
      expect(doc, `generator/${sub.name}`).toMatch(new RegExp(`generator/${sub.name}\\b`));
  });
});
