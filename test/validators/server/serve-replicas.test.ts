/**
 * Two live replicas of `kubeseed serve` on one real etcd (Debian's 3.4, TLS with client
 * certificates, 127.0.0.1), each a child process with its own state directory (issue 20):
 * - exactly one leads; both answer `GET /v1/status` with `coordinator: {id, role, store}`, the
 *   standby naming the leader and its URL;
 * - the standby answers agent calls and operator actions with 503, `Retry-After` and
 *   `x-kubeseed-leader`, and changes nothing;
 * - the leader is SIGKILLed mid-rollout: the standby leads within the lease TTL and finishes the
 *   rollout (agents follow the leader's URL, as they would behind a VIP); `kubeadm init` once, no
 *   step released twice;
 * - a leader whose term ends under it (its leader key deleted in etcd) stops and exits, so its
 *   service manager starts it again as a standby.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { EtcdClient } from '../../../server/store/etcd-client.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { RolloutTracker, SimAgent } from '../../unit/server/agent-sim.ts';
import { etcdFileFixture, freePort, killHard, prepareStateDir, startServer, waitFor } from '../../unit/server/child-server.ts';
import { makePlan } from '../../unit/server/fixtures.ts';
import { createAgent } from '../../unit/server/support.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });
const { dispatchers, etcd: running } = etcdFileFixture(skip, 'ks-replicas-etcd-');

interface ReplicaView {
  id: string;
  role: 'leader' | 'standby';
  store: string;
  leader?: { id: string; url?: string };
}

describe.skipIf(skip)('replicas of serve on one etcd', () => {
  it('one leads, the standby refuses agent calls naming it, takes over when it is killed, and a leader that loses its term exits', async () => {
    const workers = 6;
    const plan = makePlan({ workers, workerParallelism: 3 });
    const prefix = `kubeseed/replicas-${process.pid}/`;
    const [dirA, dirB] = [tempDir('ks-replica-a-'), tempDir('ks-replica-b-')];
    const { ca } = prepareStateDir(dirA);
    for (const f of ['tls.crt', 'tls.key']) copyFileSync(join(dirA, f), join(dirB, f));
    const [portA, portB] = [await freePort(), await freePort()];
    const urlOf = (port: number) => `https://127.0.0.1:${port}`;
    const env = (port: number) => ({
      KS_STORE: `etcd://${new URL(running().clientUrl).host}?prefix=${prefix}`,
      KS_ETCD_TLS_DIR: running().dir,
      KS_LEASE_SECONDS: '4',
      KS_ADVERTISE: urlOf(port),
    });
    const a = await startServer(dirA, portA, workers, 'stacked', env(portA));
    let bOutput = '';
    const b = await startServer(dirB, portB, workers, 'stacked', env(portB));
    b.stdout!.on('data', (d) => {
      bOutput += String(d);
    });
    const dispatcher = new Agent({ connect: { ca }, connections: 32 });
    dispatchers.push(dispatcher);
    const tokenOf = (dir: string) => readFileSync(join(dir, 'operator-token'), 'utf8').trim();
    const replicaAt = async (port: number, dir: string): Promise<ReplicaView> => {
      const res = await request(`${urlOf(port)}/v1/status`, { dispatcher, headers: { authorization: `Bearer ${tokenOf(dir)}` } });
      expect(res.statusCode).toBe(200);
      return ((await res.body.json()) as { coordinator: ReplicaView }).coordinator;
    };

    // One leader (the first started), one standby that names it.
    const first = await replicaAt(portA, dirA);
    const second = await replicaAt(portB, dirB);
    expect(first).toMatchObject({ role: 'leader', store: 'etcd' });
    expect(second).toMatchObject({ role: 'standby', store: 'etcd', leader: { id: first.id, url: urlOf(portA) } });
    expect(second.id).not.toBe(first.id);

    // The standby refuses what only the leader may do, and says where the leader is.
    const agentCall = await request(`${urlOf(portB)}/v1/enroll`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(agentCall.statusCode).toBe(503);
    expect(agentCall.headers['retry-after']).toBe('2');
    expect(agentCall.headers['x-kubeseed-leader']).toBe(urlOf(portA));
    expect(((await agentCall.body.json()) as { message: string }).message).toContain(`the leader is ${first.id} at ${urlOf(portA)}`);
    const action = await request(`${urlOf(portB)}/v1/admin/hosts/w1/retry`, {
      method: 'POST',
      dispatcher,
      headers: { authorization: `Bearer ${tokenOf(dirB)}` },
    });
    expect(action.statusCode).toBe(503);
    await action.body.dump();

    // A rollout on the leader; agents follow the leader's URL.
    let leaderUrl = urlOf(portA);
    const tracker = new RolloutTracker();
    const agents = plan.hosts.map(
      (h, i) =>
        new SimAgent(createAgent(h.name, i), {
          baseUrl: () => leaderUrl,
          dispatcher,
          tracker,
          deadline: Date.now() + 60_000,
          waitMs: 2000,
          workMs: () => 20 + Math.random() * 40,
        }),
    );
    const run = Promise.all(agents.map((agent) => agent.run()));
    run.catch(() => {});
    await waitFor(() => tracker.acknowledgedDone.size >= 5, 30_000);
    await killHard(a);
    const killedAt = Date.now();
    // Bounded: 150 polls of 100 ms.
    let took: ReplicaView | undefined;
    for (let i = 0; i < 150 && took?.role !== 'leader'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      took = await replicaAt(portB, dirB).catch(() => undefined);
    }
    expect(took?.role).toBe('leader');
    const gapMs = Date.now() - killedAt;
    leaderUrl = urlOf(portB);
    await run;
    expect(tracker.violations).toEqual([]);
    expect(agents.every((agent) => agent.done)).toBe(true);
    const init = agents.find((agent) => agent.identity.host === 'cp1')!.steps.filter((s) => s.startsWith('cp1/kubeadm-init'));
    expect(new Set(init)).toEqual(new Set(['cp1/kubeadm-init@1']));
    console.log(`[replicas] the standby led ${gapMs} ms after the leader was killed (lease TTL 4 s)`);
    expect(bOutput).toContain('leads now; the rollout continues here');

    // The term ends under the leader (its key deleted, as when its lease lapses unseen): it stops and exits.
    const exited = new Promise<number | null>((resolve) => b.once('exit', (code) => resolve(code)));
    const client = new EtcdClient({ endpoints: [running().clientUrl], tls: running().clientTls() });
    try {
      await client.txn([], [{ delete: { key: `${prefix}leader` } }]);
    } finally {
      client.close();
    }
    await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`no exit; printed:\n${bOutput}`)), 10_000))]);
    expect(bOutput).toContain('lost the lead');
  }, 120_000);
});
