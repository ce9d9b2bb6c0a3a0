/**
 * Scenario 8 (issue 20): the coordinator as two replicas of `kubeseed serve` on a real 3-member
 * etcd (Debian's etcd-server, TLS, one member per namespace), each replica in its own namespace,
 * real agents booted by cloud-init with both replica URLs in their user-data.
 *
 * 1. When the first control-plane join is released, the leader is SIGKILLed (and kept down): the
 *    standby must lead within 15 s. The killed replica is then started again (it rejoins as standby).
 * 2. When the second control-plane join is released, the leader's link to etcd is taken down
 *    (agents still reach it on the cluster network): it must stop leading within its lease TTL —
 *    it says `lost the lead` and exits 1 (ADR 0036) — the other replica leads, and when the link
 *    returns the old leader's restart comes back as a standby.
 * Throughout: exactly one `kubeadm init`, every kubeadm join once per host, no step released twice
 * (attempt 1, no failures), control-plane joins never overlap, every host done.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { analyseRollout, type RolloutFacts } from './harness/checks.ts';
import type { CoordinatorStatus, StepStatus } from './harness/cluster.ts';
import { sleep, waitFor } from './harness/exec.ts';
import { HaCluster, type ReplicaSupervisor } from './harness/ha.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { fleet } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';

const LEASE_SECONDS = 6;
const SUBNET = '10.231.8';

interface Failover {
  /** Replica names. */
  from: string;
  to: string;
  /** The fault (kill or link down) → the other replica answering as leader. */
  takeoverMs: number;
}

interface Partition extends Failover {
  /** The link down → the partitioned replica's process exited. */
  exitMs: number;
  exitCode: number;
  lostLeadLogged: boolean;
  /** The link up again → the old leader answering as standby naming the new leader. */
  rejoinMs: number;
  rejoinedAs: CoordinatorStatus['coordinator'];
}

describe.skipIf(skipUnless('e2e', { root: true, commands: [...E2E_COMMANDS, 'etcd', 'etcdctl'] }))(
  'e2e scenario 8: two coordinator replicas on a 3-member etcd, leader killed and partitioned mid-rollout',
  () => {
    let cluster: HaCluster;
    let facts: RolloutFacts;
    let steps: StepStatus[];
    let kill: Failover | undefined;
    let partition: Partition | undefined;
    let final: CoordinatorStatus;
    const stores = new Set<string>();

    keepLogsOnFailure();

    const other = (r: ReplicaSupervisor) => cluster.replicas.find((x) => x !== r)!;
    const released = (s: CoordinatorStatus, kind: string) =>
      s.hosts.flatMap((h) => h.steps).filter((x) => x.kind === kind && x.releasedAt !== undefined).length;

    /** Waits (bounded) until `to` answers as leader; the time from `since`. */
    const takeover = async (to: ReplicaSupervisor, since: number): Promise<number> => {
      await waitFor(
        `replica ${to.name} to lead`,
        40_000,
        async () => (await cluster.replicaStatus(to))?.coordinator?.role === 'leader',
        250,
      );
      return Date.now() - since;
    };

    const killLeader = async () => {
      const leading = await cluster.leader();
      if (!leading) return;
      const at = Date.now();
      await leading.replica.killAndHold();
      const to = other(leading.replica);
      kill = { from: leading.replica.name, to: to.name, takeoverMs: await takeover(to, at) };
      console.info(`[e2e] killed leader ${kill.from}; ${kill.to} led after ${kill.takeoverMs} ms`);
      leading.replica.resume();
    };

    const partitionLeader = async () => {
      const leading = await cluster.leader();
      if (!leading) return;
      const victim = leading.replica;
      const exitsBefore = victim.exits.length;
      const logBefore = serveLog(victim).length;
      const at = Date.now();
      await cluster.setStoreLink(victim, false);
      const to = other(victim);
      const takeoverMs = await takeover(to, at);
      const exit = await waitFor('the partitioned replica to exit', 40_000, async () => victim.exits[exitsBefore], 100);
      // Keep it away from etcd a little longer: its restarts cannot reach the store.
      await sleep(2000);
      const up = Date.now();
      await cluster.setStoreLink(victim, true);
      const rejoined = await waitFor(
        'the old leader to come back as a standby',
        60_000,
        async () => {
          const s = await cluster.replicaStatus(victim);
          return s?.coordinator?.role === 'standby' && s.coordinator.leader ? s.coordinator : null;
        },
        500,
      );
      partition = {
        from: victim.name,
        to: to.name,
        takeoverMs,
        exitMs: exit.at - at,
        exitCode: exit.code,
        lostLeadLogged: serveLog(victim).slice(logBefore).includes('lost the lead'),
        rejoinMs: Date.now() - up,
        rejoinedAs: rejoined,
      };
      console.info(`[e2e] partitioned leader ${victim.name}: ${JSON.stringify(partition)}`);
    };

    beforeAll(async () => {
      cluster = new HaCluster({
        prefix: `ks-${process.pid}-8-`,
        spec: {
          id: 's8',
          subnet: SUBNET,
          topology: 'stacked',
          certificates: 'coordinator',
          packages: 'preinstalled',
          hosts: fleet({ lb: 1, cp: 3, w: 2 }),
          replicaUrls: [`https://${SUBNET}.7:9443`],
        },
        storeSubnet: '10.232.8',
        leaseSeconds: LEASE_SECONDS,
        // Long enough joins that each fault lands while a control plane is joining.
        doubleEnv: { KUBESEED_DOUBLE_SLEEP_MS: 'kubeadm init=2000,kubeadm join-control-plane=8000,kubeadm join=2000' },
      });
      await cluster.start();
      let phase: 'kill' | 'partition' | 'run' = 'kill';
      final = await cluster.waitForRollout(420_000, async (s) => {
        if (s.coordinator) stores.add(s.coordinator.store);
        if (phase === 'kill' && released(s, 'kubeadm-join-control-plane') >= 1) {
          phase = 'partition';
          await killLeader();
        } else if (phase === 'partition' && released(s, 'kubeadm-join-control-plane') >= 2) {
          phase = 'run';
          await partitionLeader();
        }
      });
      steps = final.hosts.flatMap((h) => h.steps);
      facts = analyseRollout(cluster, final);
    });

    afterAll(async () => {
      expect(await finishCluster(cluster, facts !== undefined)).toEqual([]);
    });

    it('answered from the etcd store', () => {
      expect([...stores]).toEqual(['etcd']);
    });

    it('SIGKILL of the leader during the control-plane joins: the standby leads within 15 s', () => {
      expect(kill, 'the leader was killed during the rollout').toBeDefined();
      expect(kill!.to).not.toBe(kill!.from);
      expect(kill!.takeoverMs).toBeLessThanOrEqual(15_000);
    });

    it('a leader cut off from etcd stops leading within its lease TTL, the other leads, the old one returns as standby', () => {
      expect(partition, 'the leader was partitioned during the rollout').toBeDefined();
      const p = partition!;
      // It stops at the latest when its last renewal's lease runs out (TTL), then exits; allow a renewal interval of slack.
      expect(p.exitMs).toBeLessThanOrEqual(LEASE_SECONDS * 1000 + 3000);
      expect(p.exitCode).toBe(1);
      expect(p.lostLeadLogged).toBe(true);
      expect(p.takeoverMs).toBeLessThanOrEqual(15_000);
      expect(p.rejoinedAs?.role).toBe('standby');
      expect(p.rejoinedAs?.leader?.id).not.toBe(p.rejoinedAs?.id);
      expect(p.rejoinedAs?.leader?.url).toBe(cluster.replicas.find((r) => r.name === p.to)!.url);
    });

    it('ran exactly one kubeadm init and each join once, released no step twice', () => {
      expect(facts.inits.filter((c) => c.exit === 0)).toHaveLength(1);
      expect(facts.inits).toHaveLength(1);
      expect(facts.joinsBeforeInit).toEqual([]);
      const joins = [...facts.controlPlaneJoins, ...facts.workerJoins].map((j) => j.host).sort();
      expect(joins).toEqual(['cp2', 'cp3', 'w1', 'w2']);
      expect(steps.filter((s) => s.attempt !== 1 || s.failures !== 0).map((s) => `${s.id} attempt ${s.attempt}`)).toEqual([]);
    });

    it('never overlapped control-plane joins and joined through the VIP', () => {
      expect(facts.controlPlaneJoinOverlaps).toEqual([]);
      expect(facts.joinsWithoutVip).toEqual([]);
    });

    it('every host is done', () => {
      expect(facts.notDone).toEqual([]);
    });
  },
);

/** Everything the replica's `serve` processes printed so far (all its starts, appended). */
function serveLog(replica: ReplicaSupervisor): string {
  try {
    return readFileSync(join(replica.host.logDir, 'serve.log'), 'utf8');
  } catch {
    return '';
  }
}
