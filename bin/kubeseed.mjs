#!/usr/bin/env node
// Entry point of the `kubeseed` command. Runs the esbuild bundle of the CLI when it matches the
// sources (npm ci's `prepare` and `npm run build` make it), else loads the TypeScript sources
// through tsx, so a clone works right after `npm ci` either way (docs/adr/0013).
// KUBESEED_FROM_SOURCES=1 always takes the sources.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshCliBundle } from './cli-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = process.env.KUBESEED_FROM_SOURCES ? { entry: null } : freshCliBundle(root);
let runCli;
if (bundle.entry) {
  process.setSourceMapsEnabled(true);
  ({ runCli } = await import(pathToFileURL(bundle.entry).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runCli } = await import('../cli/run.ts'));
}
process.exitCode = await runCli(process.argv.slice(2));
