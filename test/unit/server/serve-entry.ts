/**
 * A `kubeseed serve` stand-in for the restart test: runServe with the fixture plan, fake secrets,
 * a fake API server and the TLS identity the test wrote into the state directory.
 * Usage: node --import tsx test/unit/server/serve-entry.ts STATE_DIR PORT WORKERS [stacked|external-etcd]
 * KS_STORE: a store URL (default: the journal in STATE_DIR); KS_ETCD_TLS_DIR: ca.crt and
 * healthcheck-client.{crt,key} there for an etcd:// store (test/support/etcd-server.ts writes them);
 * KS_ADVERTISE: the replica's URL standbys name; KS_LEASE_SECONDS: the leader lease TTL.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runServe } from '../../../server/serve.ts';
import { makePlan } from './fixtures.ts';
import { FakeKubernetes, makeInputs } from './support.ts';

const [stateDir, port, workers, topology = 'stacked'] = process.argv.slice(2);
if (!stateDir || !port || !workers) {
  process.stderr.write('usage: serve-entry.ts STATE_DIR PORT WORKERS\n');
  process.exit(2);
}
const plan = makePlan({
  workers: Number(workers),
  workerParallelism: 3,
  topology: topology === 'external-etcd' ? 'external-etcd' : 'stacked',
});
const tls = {
  cert: readFileSync(join(stateDir, 'tls.crt'), 'utf8'),
  key: readFileSync(join(stateDir, 'tls.key'), 'utf8'),
  ca: readFileSync(join(stateDir, 'tls.crt'), 'utf8'),
};
const etcdTls = process.env.KS_ETCD_TLS_DIR;
const read = (name: string) => readFileSync(join(etcdTls!, name), 'utf8');
await runServe({
  stateDir,
  ...(process.env.KS_STORE ? { store: process.env.KS_STORE } : {}),
  ...(etcdTls ? { etcd: { ca: read('ca.crt'), cert: read('healthcheck-client.crt'), key: read('healthcheck-client.key') } } : {}),
  listen: `127.0.0.1:${port}`,
  loadState: async () => ({ ...makeInputs(plan, { tls }), kubernetes: new FakeKubernetes() }),
  logger: { level: 'warn' },
  defaultWaitMs: 2000,
  ...(process.env.KS_ADVERTISE ? { advertiseUrl: process.env.KS_ADVERTISE } : {}),
  ...(process.env.KS_LEASE_SECONDS ? { leaseSeconds: Number(process.env.KS_LEASE_SECONDS) } : {}),
});
