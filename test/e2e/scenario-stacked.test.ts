/**
 * Scenario 1 (issue 6): stacked etcd — 3 control planes, 2 HAProxy+keepalived load balancers, 2
 * workers — booted by the real cloud-init in network namespaces, rolled out by the real
 * coordinator and agent; kubeadm/kubelet/kubectl/containerd are TEST DOUBLES.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { analyseRollout, type RolloutFacts } from './harness/checks.ts';
import { runCleanup } from './harness/cleanup.ts';
import { E2eCluster } from './harness/cluster.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { fleet } from './harness/spec.ts';

describe.skipIf(skipUnless('e2e', { root: true, commands: E2E_COMMANDS }))('e2e scenario 1: stacked, 3 CP + 2 LB + 2 workers', () => {
  let cluster: E2eCluster;
  let facts: RolloutFacts;

  beforeAll(async () => {
    cluster = new E2eCluster({
      prefix: `ks-${process.pid % 100000}-1-`,
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
    const status = await cluster.waitForRollout(300_000);
    facts = analyseRollout(cluster, status);
  });

  afterAll(async () => {
    await cluster?.stop();
    const problems = await runCleanup();
    expect(problems).toEqual([]);
  });

  it('ran exactly one successful kubeadm init, before any join', () => {
    expect(facts.inits.filter((c) => c.exit === 0)).toHaveLength(1);
    expect(facts.joinsBeforeInit).toEqual([]);
  });

  it('never overlapped control-plane joins', () => {
    expect(facts.controlPlaneJoinOverlaps).toEqual([]);
    expect(
      facts.controlPlaneJoins
        .filter((j) => j.exit === 0)
        .map((j) => j.host)
        .sort(),
    ).toEqual(['cp2', 'cp3']);
  });

  it('joined every node through the VIP (HAProxy log)', () => {
    expect(facts.joinsWithoutVip).toEqual([]);
    expect(facts.haproxyClients.size).toBeGreaterThan(0);
  });

  it('every host reports done', () => {
    expect(facts.notDone).toEqual([]);
  });

  it('starts each gated step within 1 s of its last gate opening', () => {
    expect(facts.gateLags.length).toBeGreaterThan(0);
    expect(facts.gateLags.filter((g) => g.lagMs >= 1000)).toEqual([]);
  });
});
