/**
 * Scenario 1 (issue 6): stacked etcd — 3 control planes, 2 HAProxy+keepalived load balancers, 2
 * workers — booted by the real cloud-init in network namespaces, rolled out by the real
 * coordinator and agent; kubeadm/kubelet/kubectl/containerd are TEST DOUBLES.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { analyseRollout, type RolloutFacts } from './harness/checks.ts';
import { type CoordinatorStatus, E2eCluster } from './harness/cluster.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { itChecksTheRollout } from './harness/scenario.ts';
import { fleet } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';

describe.skipIf(skipUnless('e2e', { root: true, commands: E2E_COMMANDS }))('e2e scenario 1: stacked, 3 CP + 2 LB + 2 workers', () => {
  let cluster: E2eCluster;
  let facts: RolloutFacts;
  let finalStatus: CoordinatorStatus;

  keepLogsOnFailure();

  beforeAll(async () => {
    cluster = new E2eCluster({
      prefix: `ks-${process.pid}-1-`,
      spec: {
        id: 's1',
        subnet: '10.231.1',
        topology: 'stacked',
        certificates: 'coordinator',
        packages: 'preinstalled',
        hosts: fleet({ lb: 2, cp: 3, w: 2 }),
      },
      doubleEnv: { KUBESEED_DOUBLE_SLEEP_MS: 'kubeadm init=1500,kubeadm join-control-plane=1500,kubeadm join=800' },
    });
    await cluster.start();
    finalStatus = await cluster.waitForRollout(300_000);
    facts = analyseRollout(cluster, finalStatus);
  });

  afterAll(async () => {
    expect(await finishCluster(cluster, facts !== undefined)).toEqual([]);
  });

  itChecksTheRollout(() => facts, ['cp2', 'cp3']);

  it("each control plane's agent reported the certificates kubeadm made there: its earliest expiry is one of them, a year out", () => {
    for (const host of finalStatus.hosts.filter((h) => h.role === 'control-plane')) {
      expect(host.certificateExpiry?.file, host.name).toMatch(new RegExp(`^${host.name}:/etc/kubernetes/(pki/|[a-z-]+\\.conf$)`));
      expect(Math.round(((host.certificateExpiry?.notAfter ?? 0) - Date.now()) / 86_400_000), host.name).toBe(365);
    }
  });
});
