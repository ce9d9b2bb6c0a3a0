/**
 * docs/architecture.md names real places: every repository path it puts in backticks exists, and
 * every top-level source folder appears in it (a new folder must be placed in the picture). The
 * functions ../shared/STYLE.md's layer picture names are exported by the code under those names.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
const STYLE = join(ROOT, '..', 'shared', 'STYLE.md');

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

  it.skipIf(!existsSync(STYLE))("uses the names of ../shared/STYLE.md's layer picture (skipped without ../shared)", async () => {
    const style = readFileSync(STYLE, 'utf8');
    const picture = /## Layers[^\n]*\n```\n([\s\S]*?)```/.exec(style)?.[1] ?? '';
    const names = [...new Set([...picture.matchAll(/─(\w+)(?:\(\w*\))?─▶/g)].map((m) => m[1]!))];
    expect(names).toEqual(expect.arrayContaining(['parseSpec', 'planCluster', 'renderCloudConfig', 'renderIgnition']));
    const modules = {
      parseSpec: '../../../generator/spec/parse.ts',
      planCluster: '../../../generator/plan/plan.ts',
      toProvisioning: '../../../generator/plan/provision.ts',
      renderCloudConfig: '../../../generator/render/cloud-init.ts',
      renderIgnition: '../../../generator/render/ignition.ts',
    } as Record<string, string>;
    for (const name of names) {
      expect(modules[name], `${name}: STYLE.md names it; say here where it lives`).toBeDefined();
      const mod = (await import(modules[name]!)) as Record<string, unknown>;
      expect(typeof mod[name], `${name} exported by ${modules[name]}`).toBe('function');
      expect(doc, `docs/architecture.md names ${name}`).toContain(`\`${name}\``);
    }
  });
});
