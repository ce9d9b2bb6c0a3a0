/**
 * The CLI bundle (dist/cli/, docs/adr/0013): bin/kubeseed.mjs runs it only while every source it
 * was built from is unchanged, and the sources through tsx otherwise; both give the same answers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshCliBundle } from '../../../bin/cli-bundle.mjs';
import { packageRoot } from '../../../generator/util/package-root.ts';
import { ROOT } from '../../support/fixtures.ts';
import { tempDir } from '../../support/temp-dir.ts';

const work = tempDir('ks-cli-bundle-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fresh = freshCliBundle;

/** A package root with one source file and a manifest recording it as it is now. */
function fakeRoot(name: string): { root: string; source: string } {
  const root = join(work, name);
  mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
  mkdirSync(join(root, 'generator'), { recursive: true });
  const source = join(root, 'generator', 'a.ts');
  writeFileSync(source, 'export const a = 1;\n');
  const st = statSync(source);
  const manifest = { version: 1, entry: 'run.js', inputs: { 'generator/a.ts': { size: st.size, mtimeMs: st.mtimeMs } } };
  writeFileSync(join(root, 'dist', 'cli', 'manifest.json'), JSON.stringify(manifest));
  return { root, source };
}

describe('freshCliBundle', () => {
  it('answers the entry while every recorded source is unchanged', () => {
    const { root } = fakeRoot('unchanged');
    expect(fresh(root)).toEqual({ entry: join(root, 'dist', 'cli', 'run.js'), reason: null });
  });

  it('is stale when a source changed in size or in mtime alone', () => {
    const { root, source } = fakeRoot('edited');
    writeFileSync(source, 'export const a = 22;\n');
    expect(fresh(root)).toEqual({ entry: null, reason: 'generator/a.ts changed since the CLI bundle was built' });

    const touched = fakeRoot('touched');
    const st = statSync(touched.source);
    utimesSync(touched.source, st.atime, new Date(st.mtimeMs + 5000));
    expect(fresh(touched.root).reason).toBe('generator/a.ts changed since the CLI bundle was built');
  });

  it('is stale when a source is gone, and absent without a manifest', () => {
    const { root, source } = fakeRoot('gone');
    rmSync(source);
    expect(fresh(root)).toEqual({ entry: null, reason: 'generator/a.ts is gone since the CLI bundle was built' });
    expect(fresh(join(work, 'nowhere')).entry).toBeNull();
    expect(fresh(join(work, 'nowhere')).reason).toMatch(/^no CLI bundle in .*npm run build makes one/);
  });

  it('refuses a manifest of another version', () => {
    const { root } = fakeRoot('other-version');
    writeFileSync(join(root, 'dist', 'cli', 'manifest.json'), JSON.stringify({ version: 99, entry: 'run.js', inputs: {} }));
    expect(fresh(root).reason).toMatch(/is not a manifest this CLI reads$/);
  });
});

describe('packageRoot', () => {
  it('finds the repository from a source directory and from dist/cli/', () => {
    expect(packageRoot(join(ROOT, 'server', 'status-page'))).toBe(ROOT);
    expect(packageRoot(join(ROOT, 'dist', 'cli'))).toBe(ROOT);
    expect(() => packageRoot(work)).toThrow(/no kubeseed package.json above/);
  });
});

describe('bin/kubeseed.mjs', () => {
  const cli = (env: Record<string, string>, ...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin', 'kubeseed.mjs'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

  it('gives the same answers from the bundle and from the sources', () => {
    // The bundle exists after `npm run build` (which `npm test` and CI run first); sources always.
    const viaBundle = fresh(ROOT).entry !== null;
    for (const args of [['--version'], ['validate', join(ROOT, 'examples', 'ha-stacked.yaml')], ['nonsense']]) {
      const sources = cli({ KUBESEED_FROM_SOURCES: '1' }, ...args);
      const either = cli({}, ...args);
      expect([either.status, either.stdout, either.stderr]).toEqual([sources.status, sources.stdout, sources.stderr]);
    }
    if (viaBundle) {
      // A lazily loaded command (demo, serve, status) must load from dist/cli/ too: a path resolved
      // relative to its source file breaks there (stop 16: the demo's doubles table did).
      const dir = join(ROOT, 'dist', 'cli');
      const lazy = readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'run.js' && f !== 'write-worker.js');
      expect(lazy.length).toBeGreaterThan(0);
      const script = `for (const f of ${JSON.stringify(lazy)}) await import(${JSON.stringify(`${dir}/`)} + f);`;
      const loaded = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(loaded.stderr).toBe('');
      expect(loaded.status).toBe(0);
    }
    if (!viaBundle) {
      const why = `no fresh CLI bundle: ${fresh(ROOT).reason}; both runs used the sources`;
      if (process.env.KUBESEED_REQUIRE_ALL === '1') throw new Error(`${why} — KUBESEED_REQUIRE_ALL=1 wants the bundle tested`);
      console.warn(`!! ${why}`);
    }
  });
});
