/**
 * `kubeseed serve --store etcd://…` through a rollout (issue 20): the coordinator runs as a child
 * process on a real etcd (Debian's 3.4, TLS with client certificates, 127.0.0.1) and is killed with
 * SIGKILL mid-rollout; a second coordinator, on ANOTHER state directory (only the TLS identity
 * copied — the rollout state lives in etcd), takes over. The rollout completes, `kubeadm init` ran
 * once, no step was handed out again after its success was acknowledged, and the status says done.
 * The second waits as a standby until the dead one's lease (4 s here) expires, then leads
 * (live replicas side by side: serve-replicas.test.ts).
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { EtcdClient } from '../../../server/store/etcd-client.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { expectRolloutCompleted, RolloutTracker, simulateFleet } from '../../unit/server/agent-sim.ts';
import { etcdFileFixture, freePort, killHard, prepareStateDir, startServer, waitFor } from '../../unit/server/child-server.ts';
import { makePlan } from '../../unit/server/fixtures.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });
const { dispatchers, etcd: running } = etcdFileFixture(skip, 'ks-serve-etcd-');

describe.skipIf(skip)('serve on an etcd store', () => {
  it('a coordinator killed mid-rollout is replaced by one on another state directory; the rollout completes from etcd', async () => {
    const workers = 8;
    const plan = makePlan({ workers, workerParallelism: 3 });
    const first = tempDir('ks-serve-etcd-a-');
    const second = tempDir('ks-serve-etcd-b-');
    const { ca } = prepareStateDir(first);
    for (const f of ['tls.crt', 'tls.key']) copyFileSync(join(first, f), join(second, f));
    const env = {
      KS_STORE: `etcd://${new URL(running().clientUrl).host}?prefix=kubeseed/serve-test-${process.pid}/`,
      KS_ETCD_TLS_DIR: running().dir,
      KS_LEASE_SECONDS: '4',
    };
    const port = await freePort();
    let child = await startServer(first, port, workers, 'stacked', env);
    const dispatcher = new Agent({ connect: { ca }, connections: 32 });
    dispatchers.push(dispatcher);
    const tracker = new RolloutTracker();
    const { agents, run } = simulateFleet(plan.hosts, { port, dispatcher, tracker, deadline: Date.now() + 60_000 });

    await waitFor(() => tracker.acknowledgedDone.size >= 5, 30_000);
    await killHard(child);
    child = await startServer(second, port, workers, 'stacked', env);

    await run;
    await expectRolloutCompleted(agents, tracker, { port, dispatcher, stateDir: second });
    // The records are in etcd (and no journal was written in either state directory).
    const client = new EtcdClient({ endpoints: [running().clientUrl], tls: running().clientTls() });
    try {
      const { kvs } = await client.rangePrefix(`kubeseed/serve-test-${process.pid}/kv/`);
      expect(kvs.some((kv) => kv.key.endsWith('/kv/lock/init'))).toBe(true);
      expect(kvs.filter((kv) => kv.key.includes('/kv/step/')).length).toBeGreaterThan(workers);
    } finally {
      client.close();
    }
    for (const d of [first, second]) expect(existsSync(join(d, 'store', 'journal.log'))).toBe(false);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }, 120_000);
});
