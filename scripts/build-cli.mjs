#!/usr/bin/env node
/**
 * Bundles the `kubeseed` CLI (cli/run.ts and everything it imports, each command as a lazily
 * loaded chunk) into dist/cli/ with esbuild: ESM, platform node, packages left to
 * node_modules, not minified, with source maps. dist/cli/manifest.json records the size and
 * mtime of every source file in the bundle; bin/kubeseed.mjs runs the bundle only while they all
 * match, else the sources through tsx (docs/adr/0013). Written to a temporary directory and
 * renamed into place, so a CLI starting meanwhile sees the old bundle or none, never half of one.
 *
 * usage: node scripts/build-cli.mjs   (also run by `npm run build` and by `npm ci` as `prepare`)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { CLI_BUNDLE_DIR, CLI_MANIFEST, CLI_MANIFEST_VERSION } from '../bin/cli-bundle.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildCli() {
  const started = Date.now();
  const final = join(ROOT, CLI_BUNDLE_DIR);
  const temp = `${final}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  try {
    const result = await build({
      absWorkingDir: ROOT,
      // The write worker is a second entry: generate starts it as its own thread (docs/adr/0015).
      entryPoints: { run: 'cli/run.ts', 'write-worker': 'cli/write-worker.ts' },
      outdir: temp,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      sourcemap: true,
      metafile: true,
      logLevel: 'warning',
    });
    const inputs = {};
    for (const file of Object.keys(result.metafile.inputs).sort()) {
      const st = statSync(join(ROOT, file));
      inputs[file] = { size: st.size, mtimeMs: st.mtimeMs };
    }
    // `kubeseed version` outside a checkout (an installed package) reports the commit it was built from.
    const git = existsSync(join(ROOT, '.git')) ? spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }) : null;
    const commit = git?.status === 0 ? git.stdout.trim() : null;
    writeFileSync(
      join(temp, CLI_MANIFEST),
      `${JSON.stringify({ version: CLI_MANIFEST_VERSION, entry: 'run.js', commit, inputs }, null, 1)}\n`,
    );
    rmSync(final, { recursive: true, force: true });
    renameSync(temp, final);
    return { dir: relative(ROOT, final), inputs: Object.keys(inputs).length, ms: Date.now() - started };
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await buildCli();
  process.stdout.write(`[build] CLI bundle ${r.dir}/ from ${r.inputs} sources in ${r.ms} ms\n`);
}
