#!/usr/bin/env node
// Entry point of the `kubeseed` command. Loads the TypeScript sources through tsx so that a clone
// works right after `npm ci`, with no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../generator/cli/run.ts');
process.exitCode = await runCli(process.argv.slice(2));
