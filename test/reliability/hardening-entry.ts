/**
 * `kubeseed serve` for the hardening test: runServe (the code `kubeseed serve` runs) with the
 * fixture plan, fake secrets and API server, the TLS identity the test wrote into the state
 * directory, the passphrase from KUBESEED_PASSPHRASE and info-level logs on stdout (the test reads them).
 * Usage: node --import tsx test/reliability/hardening-entry.ts STATE_DIR PORT
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runServe } from '../../server/serve.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { FakeKubernetes, makeInputs } from '../unit/server/support.ts';

const [stateDir, port] = process.argv.slice(2);
if (!stateDir || !port) {
  process.stderr.write('usage: hardening-entry.ts STATE_DIR PORT\n');
  process.exit(2);
}
const plan = makePlan({ workers: 1, workerParallelism: 1 });
const tls = {
  cert: readFileSync(join(stateDir, 'tls.crt'), 'utf8'),
  key: readFileSync(join(stateDir, 'tls.key'), 'utf8'),
  ca: readFileSync(join(stateDir, 'tls.crt'), 'utf8'),
};
const passphrase = process.env.KUBESEED_PASSPHRASE;
await runServe({
  stateDir,
  listen: `127.0.0.1:${port}`,
  ...(passphrase ? { passphrase } : {}),
  loadState: async () => ({ ...makeInputs(plan, { tls }), kubernetes: new FakeKubernetes() }),
  logger: { level: 'info' },
  defaultWaitMs: 2000,
});
