/**
 * The pure day-2 order (server/day2/order.ts): upgrade and renewal steps and their `after` edges,
 * and the refusals (a skipped minor, a downgrade, a failed or not-Ready host).
 */
import { describe, expect, it } from 'vitest';
import { type Day2Host, type Day2Plan, Day2Refusal, planRenewal, planUpgrade, type UpgradeInput } from '../../../server/day2/order.ts';

const host = (name: string, role: Day2Host['role'], extra: Partial<Day2Host> = {}): Day2Host => ({
  name,
  role,
  ready: true,
  failed: false,
  ...extra,
});
const ETCD = [host('e1', 'etcd'), host('e2', 'etcd'), host('e3', 'etcd')];
const CPS = [host('cp1', 'control-plane'), host('cp2', 'control-plane'), host('cp3', 'control-plane')];
const WORKERS = ['w1', 'w2', 'w3', 'w4', 'w5'].map((n) => host(n, 'worker'));
const LB = [host('lb1', 'load-balancer')];

const upgrade = (over: Partial<UpgradeInput> = {}) =>
  planUpgrade({
    currentVersion: '1.37.1',
    targetVersion: '1.37.2',
    hosts: [...LB, ...ETCD, ...CPS, ...WORKERS],
    workerParallelism: 2,
    drainTimeoutSeconds: 300,
    ...over,
  });

/** Each step as `host/kind <- after…`: the whole order in one readable table. */
const table = (plan: Day2Plan) => plan.steps.map((s) => `${s.id} <- ${s.after.join(',') || '-'}`);

/**
 * Every step that may run while `id` runs: the ones neither before nor after it. With a chain this
 * shows "one at a time" without simulating the scheduler.
 */
function concurrentWith(plan: Day2Plan, id: string): string[] {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const ancestors = (start: string) => {
    const seen = new Set<string>();
    const stack = [...(byId.get(start)?.after ?? [])];
    while (stack.length) {
      const x = stack.pop() as string;
      if (seen.has(x)) continue;
      seen.add(x);
      stack.push(...(byId.get(x)?.after ?? []));
    }
    return seen;
  };
  const before = ancestors(id);
  return plan.steps.filter((s) => s.id !== id && !before.has(s.id) && !ancestors(s.id).has(id)).map((s) => s.id);
}

describe('planUpgrade: the order', () => {
  it('patch upgrade, stacked control planes: one apply on the first control plane, the others one at a time, then workers in batches', () => {
    const plan = upgrade({ hosts: [...LB, ...CPS, ...WORKERS.slice(0, 3)] });
    expect(table(plan)).toEqual([
      'cp1/kubeadm-upgrade-apply <- -',
      'cp1/node-drain <- cp1/kubeadm-upgrade-apply',
      'cp1/kubelet-upgrade <- cp1/node-drain',
      'cp1/node-uncordon <- cp1/kubelet-upgrade',
      'cp2/kubeadm-upgrade-node <- cp1/node-uncordon',
      'cp2/node-drain <- cp2/kubeadm-upgrade-node',
      'cp2/kubelet-upgrade <- cp2/node-drain',
      'cp2/node-uncordon <- cp2/kubelet-upgrade',
      'cp3/kubeadm-upgrade-node <- cp2/node-uncordon',
      'cp3/node-drain <- cp3/kubeadm-upgrade-node',
      'cp3/kubelet-upgrade <- cp3/node-drain',
      'cp3/node-uncordon <- cp3/kubelet-upgrade',
      'w1/node-drain <- cp3/node-uncordon',
      'w1/kubeadm-upgrade-node <- w1/node-drain',
      'w1/kubelet-upgrade <- w1/kubeadm-upgrade-node',
      'w1/node-uncordon <- w1/kubelet-upgrade',
      'w2/node-drain <- cp3/node-uncordon',
      'w2/kubeadm-upgrade-node <- w2/node-drain',
      'w2/kubelet-upgrade <- w2/kubeadm-upgrade-node',
      'w2/node-uncordon <- w2/kubelet-upgrade',
      'w3/node-drain <- w1/node-uncordon,w2/node-uncordon',
      'w3/kubeadm-upgrade-node <- w3/node-drain',
      'w3/kubelet-upgrade <- w3/kubeadm-upgrade-node',
      'w3/node-uncordon <- w3/kubelet-upgrade',
    ]);
    // Load balancers are not Kubernetes nodes: nothing to upgrade there.
    expect(plan.steps.some((s) => s.host === 'lb1')).toBe(false);
  });

  it('exactly one kubeadm-upgrade-apply; every control-plane step runs alone; no worker before the last control plane', () => {
    const plan = upgrade();
    expect(plan.steps.filter((s) => s.kind === 'kubeadm-upgrade-apply').map((s) => s.host)).toEqual(['cp1']);
    for (const s of plan.steps.filter((x) => x.role === 'control-plane')) expect(concurrentWith(plan, s.id), s.id).toEqual([]);
    const lastCp = plan.steps.map((s) => s.role).lastIndexOf('control-plane');
    expect(plan.steps.findIndex((s) => s.role === 'worker')).toBe(lastCp + 1);
    // Batches of workerParallelism 2: w1 and w2 together, never with w3.
    expect(concurrentWith(plan, 'w1/node-drain')).toEqual(expect.arrayContaining(['w2/node-drain']));
    expect(concurrentWith(plan, 'w1/node-drain')).not.toContain('w3/node-drain');
    expect(concurrentWith(plan, 'w5/kubelet-upgrade')).toEqual([]);
  });

  it('external etcd whose version changes goes first, one member at a time; apply waits for the last member', () => {
    const plan = upgrade({ targetVersion: '1.38.0', etcd: { currentVersion: '3.6.4', targetVersion: '3.6.5' } });
    expect(table(plan).slice(0, 4)).toEqual([
      'e1/etcd-member-upgrade <- -',
      'e2/etcd-member-upgrade <- e1/etcd-member-upgrade',
      'e3/etcd-member-upgrade <- e2/etcd-member-upgrade',
      'cp1/kubeadm-upgrade-apply <- e3/etcd-member-upgrade',
    ]);
    const apply = plan.steps.find((s) => s.kind === 'kubeadm-upgrade-apply');
    expect(apply?.params).toEqual({ nodeName: 'cp1', version: '1.38.0' });
    expect(plan.steps.find((s) => s.id === 'w1/kubelet-upgrade')?.params).toMatchObject({
      version: '1.38.0',
      repositoryMinor: '1.38',
      packages: ['kubelet', 'kubectl'],
    });
    expect(plan.steps.find((s) => s.id === 'w1/node-drain')?.params).toMatchObject({ timeoutSeconds: 300 });
  });

  it('only etcd changes: its members one at a time and nothing else (no node drained)', () => {
    const plan = upgrade({ targetVersion: '1.37.1', etcd: { currentVersion: 'v3.5.21', targetVersion: 'v3.6.8' } });
    expect(table(plan)).toEqual([
      'e1/etcd-member-upgrade <- -',
      'e2/etcd-member-upgrade <- e1/etcd-member-upgrade',
      'e3/etcd-member-upgrade <- e2/etcd-member-upgrade',
    ]);
    for (const s of plan.steps) expect(concurrentWith(plan, s.id), s.id).toEqual([]);
    expect(plan.steps[1]?.waitsFor).toBe('the member before it healthy, with quorum');
  });

  it('etcd members come before the apply and never run beside any other step', () => {
    const plan = upgrade({ targetVersion: '1.38.0', etcd: { currentVersion: 'v3.6.5', targetVersion: 'v3.7.0' } });
    const kinds = plan.steps.map((s) => s.kind);
    expect(kinds.lastIndexOf('etcd-member-upgrade')).toBeLessThan(kinds.indexOf('kubeadm-upgrade-apply'));
    for (const s of plan.steps.filter((x) => x.kind === 'etcd-member-upgrade')) expect(concurrentWith(plan, s.id), s.id).toEqual([]);
  });

  it('external etcd at the same version: no etcd step', () => {
    const plan = upgrade({ etcd: { currentVersion: '3.6.5', targetVersion: '3.6.5' } });
    expect(plan.steps.some((s) => s.kind === 'etcd-member-upgrade')).toBe(false);
    expect(plan.steps[0]?.id).toBe('cp1/kubeadm-upgrade-apply');
  });
});

describe('planUpgrade: refusals', () => {
  const refusal = (over: Partial<UpgradeInput>) => {
    try {
      upgrade(over);
    } catch (e) {
      expect(e).toBeInstanceOf(Day2Refusal);
      return (e as Day2Refusal).reasons;
    }
    throw new Error('not refused');
  };
  it.each([
    [{ targetVersion: '1.39.0' }, /1\.37\.1 → 1\.39\.0 skips a minor; upgrade to 1\.38\.x first/],
    [{ targetVersion: '2.0.0' }, /skips a minor/],
    [{ targetVersion: '1.36.9' }, /1\.36\.9 is older than the running 1\.37\.1; kubeseed does not downgrade/],
    [{ targetVersion: '1.37.0' }, /does not downgrade/],
    [{ targetVersion: '1.37.1' }, /already runs 1\.37\.1/],
    [{ targetVersion: 'latest' }, /"latest" is not a release version/],
    [{ etcd: { currentVersion: '3.6.5', targetVersion: '3.5.21' } }, /spec\.etcd\.version: 3\.5\.21 is older than the running 3\.6\.5/],
    // etcd's upgrade policy: one minor at a time (etcd.io/docs/v3.6/upgrades/upgrading-etcd).
    [
      { etcd: { currentVersion: 'v3.5.21', targetVersion: 'v3.7.0' } },
      /spec\.etcd\.version: 3\.5\.21 → 3\.7\.0 skips a minor; upgrade to 3\.6\.x first \(etcd's upgrade policy/,
    ],
    [{ etcd: { currentVersion: 'v3.6.8', targetVersion: 'v3.6.7' } }, /spec\.etcd\.version: 3\.6\.7 is older than the running 3\.6\.8/],
    [{ hosts: [...CPS, host('w1', 'worker', { failed: true })] }, /hosts failed: w1; retry or remove them first/],
    [{ hosts: [...CPS, host('w1', 'worker', { ready: false }), host('e1', 'etcd', { ready: false })] }, /hosts not Ready: w1, e1/],
    [{ hosts: WORKERS }, /no control plane/],
    [{ workerParallelism: 0 }, /workerParallelism 0/],
  ] as Array<[Partial<UpgradeInput>, RegExp]>)('%j is refused', (over, pattern) => {
    expect(refusal(over).join('\n')).toMatch(pattern);
  });

  it('names every reason at once', () => {
    const reasons = refusal({ targetVersion: '1.39.0', hosts: [...CPS, host('w1', 'worker', { failed: true })] });
    expect(reasons).toHaveLength(2);
  });
});

describe('planRenewal', () => {
  it('external etcd: members one at a time, then each control plane one at a time with apiserver-etcd-client from the coordinator', () => {
    const plan = planRenewal({ topology: 'external-etcd', hosts: [...LB, ...ETCD, ...CPS, ...WORKERS] });
    expect(table(plan)).toEqual([
      'e1/etcd-cert-renew <- -',
      'e2/etcd-cert-renew <- e1/etcd-cert-renew',
      'e3/etcd-cert-renew <- e2/etcd-cert-renew',
      'cp1/control-plane-cert-renew <- e3/etcd-cert-renew',
      'cp2/control-plane-cert-renew <- cp1/control-plane-cert-renew',
      'cp3/control-plane-cert-renew <- cp2/control-plane-cert-renew',
    ]);
    expect(plan.steps[3]?.params).toEqual({
      nodeName: 'cp1',
      coordinatorCertificates: ['apiserver-etcd-client'],
      kubeadmRenew: 'all',
      restartStaticPods: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'],
    });
  });

  it('stacked etcd: kubeadm renews the etcd certificates on each control plane, etcd restarts with the others', () => {
    const plan = planRenewal({ topology: 'stacked', hosts: [...CPS, ...WORKERS] });
    expect(plan.steps.map((s) => s.id)).toEqual([
      'cp1/control-plane-cert-renew',
      'cp2/control-plane-cert-renew',
      'cp3/control-plane-cert-renew',
    ]);
    expect(plan.steps[0]?.params).toMatchObject({ coordinatorCertificates: [], restartStaticPods: expect.arrayContaining(['etcd']) });
  });

  it('refuses while a host is failed or not Ready', () => {
    expect(() => planRenewal({ topology: 'external-etcd', hosts: [...CPS, host('e2', 'etcd', { ready: false })] })).toThrow(
      /hosts not Ready: e2/,
    );
  });
});

describe('operation ids', () => {
  it("put the operation after the host, so a host's steps keep its prefix and a later operation never meets an earlier one", () => {
    const plan = upgrade({ operationId: 'upgrade-1.37.2', hosts: [...CPS.slice(0, 2)] });
    expect(plan.steps.slice(0, 2).map((s) => [s.id, s.after])).toEqual([
      ['cp1/upgrade-1.37.2/kubeadm-upgrade-apply', []],
      ['cp1/upgrade-1.37.2/node-drain', ['cp1/upgrade-1.37.2/kubeadm-upgrade-apply']],
    ]);
    expect(plan.steps.every((s) => s.id.startsWith(`${s.host}/upgrade-1.37.2/`))).toBe(true);
  });
});
