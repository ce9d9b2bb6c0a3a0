#!/usr/bin/env node
// kubeseed e2e: `kubeseed serve` with the scheduler's kubeadm-certs window scaled down (scenario 3).
// The CLI has no option for it (a real cluster never wants one); runServe takes it as `scheduler`.
// usage: serve-scaled.mjs --state DIR --dist DIR --window-ms N --margin-ms N
import { register } from 'tsx/esm/api';

register();
const arg = (name) => process.argv[process.argv.indexOf(name) + 1];
const { runServe } = await import('../../../server/serve.ts');
const { loadCoordinatorState } = await import('../../../server/load-state.ts');
const handle = await runServe({
  stateDir: arg('--state'),
  distDir: arg('--dist'),
  loadState: loadCoordinatorState,
  scheduler: { uploadCertsWindowMs: Number(arg('--window-ms')), uploadCertsMarginMs: Number(arg('--margin-ms')) },
});
await handle.stopped;
