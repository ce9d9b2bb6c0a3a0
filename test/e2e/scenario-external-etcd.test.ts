/**
 * Scenario 2 (issue 6): external etcd in binary mode — 3 etcd members (Debian's etcd 3.4 binary,
 * allowed by the test-only `testing.allowOldEtcd`), 3 control planes, 2 load balancers, 2
 * workers. The agents' etcd-start steps start etcd through the systemctl TEST DOUBLE (the harness
 * runs the unit's ExecStart); etcd must answer a TLS health check with all members before init.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { analyseRollout, type RolloutFacts } from './harness/checks.ts';
import { E2eCluster, type StepStatus } from './harness/cluster.ts';
import { createEtcdClient, etcdHealth, etcdMembers, linkDebianEtcd } from './harness/etcd.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { itChecksTheRollout } from './harness/scenario.ts';
import { DEBIAN_ETCD, fleet } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';

describe.skipIf(skipUnless('e2e', { root: true, commands: E2E_COMMANDS }))(
  'e2e scenario 2: external etcd (binary), 3 etcd + 3 CP + 2 LB + 2 workers',
  () => {
    let cluster: E2eCluster;
    let facts: RolloutFacts;
    let steps: StepStatus[];
    let health: { ok: boolean; output: string };
    let members: string[];

    keepLogsOnFailure();

    beforeAll(async () => {
      cluster = new E2eCluster({
        prefix: `ks-${process.pid}-2-`,
        spec: {
          id: 's2',
          subnet: '10.231.2',
          topology: 'external-etcd',
          certificates: 'coordinator',
          packages: 'preinstalled',
          hosts: fleet({ lb: 2, etcd: 3, cp: 3, w: 2 }),
          extra: [...DEBIAN_ETCD],
        },
        doubleEnv: { KUBESEED_DOUBLE_SLEEP_MS: 'kubeadm init=1500,kubeadm join-control-plane=1500,kubeadm join=800' },
        // The image has etcd preinstalled where the unit expects it (Debian's 3.4 binary).
        prepareImage: linkDebianEtcd,
      });
      await cluster.start();
      const status = await cluster.waitForRollout(300_000);
      steps = [...status.hosts.flatMap((h) => h.steps), ...status.coordinatorSteps];
      facts = analyseRollout(cluster, status);
      const client = await createEtcdClient(cluster);
      health = await etcdHealth(cluster, client);
      members = await etcdMembers(cluster, client);
    });

    afterAll(async () => {
      expect(await finishCluster(cluster, facts !== undefined)).toEqual([]);
    });

    itChecksTheRollout(() => facts, ['cp2', 'cp3']);

    it('had every etcd member healthy over TLS before init was released', () => {
      const init = steps.find((s) => s.id === 'cp1/kubeadm-init');
      const etcdStarts = steps.filter((s) => s.kind === 'etcd-start');
      expect(etcdStarts.map((s) => s.host).sort()).toEqual(['etcd1', 'etcd2', 'etcd3']);
      for (const s of etcdStarts) {
        expect(s.state).toBe('succeeded');
        expect(s.finishedAt).toBeLessThanOrEqual(init!.releasedAt!);
      }
      // The harness's own TLS health check and member list (real etcd, real certificates).
      expect(health.ok, health.output).toBe(true);
      expect(members).toEqual(['etcd1', 'etcd2', 'etcd3']);
    });
  },
);
