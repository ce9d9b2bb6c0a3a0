/**
 * What `npm pack` ships and which Node it promises (issue 21). The allowlist (`files`) is checked
 * with the real `npm pack --dry-run --json` on a copy of the checkout whose agent executables are
 * small stand-ins (packing the real 100 MB ones takes a minute); `engines.node` is checked
 * against the `engines` of every installed runtime dependency, read from node_modules.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../support/fixtures.ts';
import { tempDir } from '../../support/temp-dir.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  files: string[];
  engines: { node: string };
  bin: Record<string, string>;
  scripts: Record<string, string>;
};
// fastify's own semver (no types of its own here).
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { major: number; version: string } | null;
  satisfies(version: { version: string }, range: string): boolean;
};
const work = tempDir('ks-pack-');

describe('npm pack', () => {
  it('ships the CLI, its sources, the agent executables and the demo doubles, and no test, bench or tooling file', () => {
    const copy = join(work, 'kubeseed');
    mkdirSync(copy);
    for (const entry of readdirSync(ROOT)) {
      if (['node_modules', '.git', 'dist'].includes(entry)) continue;
      cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
    }
    mkdirSync(join(copy, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(copy, 'dist', 'cli', 'run.js'), '');
    for (const f of ['kubeseed-agent-linux-x64', 'kubeseed-agent-linux-arm64', 'kubeseed-agent.cjs', 'SHA256SUMS'])
      writeFileSync(join(copy, 'dist', f), 'stand-in');
    // What a working checkout also has: build leftovers and an npm pack result.
    mkdirSync(join(copy, 'dist', '.sea'));
    writeFileSync(join(copy, 'dist', '.sea', 'sea-prep.blob'), 'x');
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: copy, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path).sort();

    for (const needed of [
      'package.json',
      'README.md',
      pkg.bin.kubeseed!,
      'bin/cli-bundle.mjs',
      'dist/cli/run.js',
      'dist/kubeseed-agent-linux-x64',
      'dist/kubeseed-agent-linux-arm64',
      'dist/SHA256SUMS',
      'generator/spec/parse.ts',
      'server/serve.ts',
      'agent/main.ts',
      'protocol/index.ts',
      'templates/index.ts',
      'examples/ha-stacked.yaml',
      // The demo runs its agents with the kubeadm/kubectl/… TEST DOUBLES (docs/adr/0025).
      'doubles/index.ts',
      'doubles/bin/kubeadm',
    ])
      expect(files).toContain(needed);
    const forbidden = files.filter(
      (f) =>
        /\.test\.[cm]?[jt]s$/.test(f) ||
        f.startsWith('test/') ||
        /^doubles\/bin\/(qm|pvesm)$/.test(f) ||
        /^(bench|node_modules|\.git|\.github)\//.test(f) ||
        f.startsWith('dist/.sea/') ||
        ['vitest.config.ts', 'biome.json', 'BENCHMARKS.md', 'package-lock.json'].includes(f),
    );
    expect(forbidden).toEqual([]);
  }, 150_000);
});

describe('engines', () => {
  it('the Node range satisfies every runtime dependency (read from node_modules) and is an LTS range', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const lowest = semver.minVersion(pkg.engines.node)!;
    const refusing: string[] = [];
    let checked = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path || entry.dev) continue;
      const manifest = join(ROOT, path, 'package.json');
      if (!existsSync(manifest)) continue; // an optional package for another platform
      const wants = (JSON.parse(readFileSync(manifest, 'utf8')) as { engines?: { node?: string } }).engines?.node;
      if (!wants) continue;
      checked++;
      if (!semver.satisfies(lowest, wants)) refusing.push(`${path.replace(/^.*node_modules\//, '')} wants node ${wants}`);
    }
    expect(checked).toBeGreaterThan(10);
    expect(refusing, `engines.node ${pkg.engines.node} starts at ${lowest}`).toEqual([]);
    // Node 22 is the oldest LTS line still supported (Node 20 left support in 2026).
    expect(lowest.major).toBeGreaterThanOrEqual(22);
  });
});
