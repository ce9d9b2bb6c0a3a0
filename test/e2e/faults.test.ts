/**
 * Faults (issue 6), all in one stacked rollout (3 CP + 2 LB + 2 workers) to keep the tier short:
 * the coordinator is SIGKILLed right after init and restarted; the keepalived MASTER is killed
 * (the VIP must move to the BACKUP within 5 s and joins continue through it); a worker's link is
 * down for 20 s; cp2's agent is SIGKILLed (with its kubeadm, as systemd kills the unit's cgroup)
 * during its control-plane join and restarted by the supervisor; each worker's first join fails after
 * its Node registered, so the retry needs the Node deleted first. The rollout must still complete
 * with exactly one init and no overlapping control-plane joins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { analyseRollout, type RolloutFacts } from './harness/checks.ts';
import { E2eCluster } from './harness/cluster.ts';
import { sleep, waitFor } from './harness/exec.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { fleet, hostIp } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';

describe.skipIf(skipUnless('e2e', { root: true, commands: E2E_COMMANDS }))(
  'e2e faults: coordinator SIGKILL, agent killed in a join, link down, keepalived MASTER killed',
  () => {
    let cluster: E2eCluster;
    let facts: RolloutFacts;
    const events: Record<string, number | string | boolean> = {};

    keepLogsOnFailure();

    beforeAll(async () => {
      cluster = new E2eCluster({
        prefix: `ks-${process.pid}-f-`,
        spec: {
          id: 'f1',
          subnet: '10.231.9',
          topology: 'stacked',
          certificates: 'coordinator',
          packages: 'preinstalled',
          hosts: fleet({ lb: 2, cp: 3, w: 2 }),
        },
        // Slow enough that the faults land mid-rollout: init 3 s, each control-plane join 5 s. Each worker's first
        // join fails after its Node registered (the Node stays, Ready once the CNI is up).
        doubleEnv: {
          KUBESEED_DOUBLE_SLEEP_MS: 'kubeadm init=3000,kubeadm join-control-plane=5000,kubeadm join=1000',
          KUBESEED_DOUBLE_FAIL: 'kubeadm join-registered=1',
        },
      });
      await cluster.start();

      // 1. Right after the one successful init: SIGKILL the coordinator, take w2's link down for 20 s.
      const init = await cluster.waitForCall('kubeadm init', 180_000, (c) => c.tool === 'kubeadm' && c.argv[0] === 'init' && c.exit === 0);
      await cluster.killCoordinator();
      events.coordinatorKilledAt = Date.now();
      events.initAt = init.ms;
      await cluster.setLink('w2', false);
      const linkDownAt = Date.now();
      await sleep(1500);
      await cluster.startCoordinator();
      events.coordinatorRestartedAt = Date.now();

      // 2. Kill the keepalived that holds the VIP; the BACKUP must hold it within 5 s.
      const master = await waitFor('a VIP holder', 30_000, () => cluster.vipHolder());
      events.master = master;
      cluster.get(master).services.get('keepalived')?.kill();
      const killedAt = Date.now();
      const backup = await waitFor(
        'the VIP on the BACKUP',
        10_000,
        async () => {
          const holder = await cluster.vipHolder();
          return holder && holder !== master ? holder : null;
        },
        100,
      );
      events.backup = backup;
      events.failoverMs = Date.now() - killedAt;

      // 3. cp2's agent dies during its control-plane join (after discovery, inside kubeadm join).
      await cluster.waitForCall('cp2 discovery', 120_000, (c) => c.tool === 'kubeadm-api' && c.argv[0] === 'discovery' && c.host === 'cp2');
      await sleep(1000);
      const killed = cluster.get('cp2').agent?.kill() ?? [];
      events.cp2KilledPids = killed.length;
      events.cp2KilledAt = Date.now();

      // 4. w2's link comes back after 20 s.
      await sleep(Math.max(0, linkDownAt + 20_000 - Date.now()));
      await cluster.setLink('w2', true);
      events.linkUpAt = Date.now();

      const status = await cluster.waitForRollout(300_000);
      facts = analyseRollout(cluster, status);
    });

    afterAll(async () => {
      expect(await finishCluster(cluster, facts !== undefined)).toEqual([]);
    });

    it('completes after the coordinator was SIGKILLed and restarted', () => {
      expect(events.coordinatorKilledAt).toBeGreaterThan(0);
      expect(facts.notDone).toEqual([]);
      expect(facts.inits.filter((c) => c.exit === 0)).toHaveLength(1);
      expect(facts.joinsBeforeInit).toEqual([]);
    });

    it('moves the VIP to the BACKUP within 5 s when the keepalived MASTER dies, and joins continue through it', () => {
      expect(events.backup).not.toBe(events.master);
      expect(events.failoverMs).toBeLessThan(5000);
      const backupIp = hostIp(cluster.spec, cluster.get(String(events.backup)).spec);
      expect(backupIp).toMatch(/^10\.231\.9\./);
      // Joins after the failover reached the API through the new holder's HAProxy.
      const after = [...facts.controlPlaneJoins, ...facts.workerJoins].filter(
        (j) => j.exit === 0 && j.startMs > Number(events.cp2KilledAt),
      );
      expect(after.length).toBeGreaterThan(0);
      expect(facts.joinsWithoutVip).toEqual([]);
    });

    it('cleans up and retries the join of an agent killed during it', () => {
      expect(Number(events.cp2KilledPids)).toBeGreaterThan(1);
      const cp2 = cluster.get('cp2').agent!;
      expect(cp2.starts).toBeGreaterThanOrEqual(2);
      const resets = facts.calls.filter((c) => c.tool === 'kubeadm' && c.argv[0] === 'reset' && c.ms > Number(events.cp2KilledAt));
      expect(resets.length).toBeGreaterThan(0);
      expect(facts.controlPlaneJoins.filter((j) => j.host === 'cp2' && j.exit === 0)).toHaveLength(1);
      expect(facts.controlPlaneJoinOverlaps).toEqual([]);
    });

    it('resets a worker whose join failed with its Node registered, deletes the Node through the API, and joins it again', () => {
      const kubeadm = (host: string) => facts.calls.filter((c) => c.tool === 'kubeadm' && c.nodeName === host);
      for (const host of ['w1', 'w2']) {
        const failed = kubeadm(host).find((c) => c.argv[0] === 'join' && c.exit === 1 && c.injected === true);
        expect(failed, `${host}: the injected failure`).toBeDefined();
        const reset = kubeadm(host).find((c) => c.argv[0] === 'reset' && c.exit === 0 && c.ms > failed!.ms);
        expect(reset, `${host}: a reset after it`).toBeDefined();
        // The coordinator's delete-node step, through the stand-in API server (kubeadm-api).
        const deleted = facts.calls.find(
          (c) => c.tool === 'kubeadm-api' && c.argv[1] === 'DELETE' && c.deleted === host && c.ms > reset!.ms,
        );
        expect(deleted, `${host}: the Node deleted after the reset`).toMatchObject({ existed: true });
        const joined = kubeadm(host).find((c) => c.argv[0] === 'join' && c.exit === 0);
        expect(joined!.ms, `${host}: joined after the delete`).toBeGreaterThan(deleted!.ms);
      }
      // No join ever met a Ready Node of its name (kubeadm's kubelet-start refusal).
      expect(facts.calls.filter((c) => c.nodeExists !== undefined)).toEqual([]);
    });

    it('lets a worker whose link was down for 20 s catch up', () => {
      const w2 = facts.workerJoins.find((j) => j.host === 'w2' && j.exit === 0);
      expect(w2).toBeDefined();
      expect(w2!.startMs).toBeGreaterThan(Number(events.linkUpAt) - 1000);
    });
  },
);
