#!/usr/bin/env node
// kubeseed e2e: `kubeseed serve` with the scheduler scaled down: the kubeadm-certs window (scenario 3),
// the automatic retries of a failed step (scenario 6). The CLI has no option for it (a real cluster
// never wants one); runServe takes it as `scheduler`.
// usage: serve-scaled.mjs --state DIR --dist DIR [--window-ms N --margin-ms N] [--max-attempts N] [--backoff-ms N]
import { register } from 'tsx/esm/api';

register();
const arg = (name) => process.argv[process.argv.indexOf(name) + 1];
const has = (name) => process.argv.includes(name);
const { runServe } = await import('../../../server/serve.ts');
const { loadCoordinatorState } = await import('../../../server/load-state.ts');
const handle = await runServe({
  stateDir: arg('--state'),
  distDir: arg('--dist'),
  loadState: loadCoordinatorState,
  scheduler: {
    ...(has('--window-ms') ? { uploadCertsWindowMs: Number(arg('--window-ms')), uploadCertsMarginMs: Number(arg('--margin-ms')) } : {}),
    ...(has('--max-attempts') ? { maxAttempts: Number(arg('--max-attempts')) } : {}),
    ...(has('--backoff-ms') ? { backoffBaseMs: Number(arg('--backoff-ms')) } : {}),
  },
});
await handle.stopped;
