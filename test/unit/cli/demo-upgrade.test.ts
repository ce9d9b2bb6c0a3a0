/**
 * `kubeseed demo --upgrade --json`: after the demo's rollout, `kubeseed upgrade` to the next patch
 * run by the idle agents through the coordinator (real processes, TEST DOUBLES of kubeadm & co.).
 * Issue 22's acceptance: exactly one kubeadm upgrade apply, control planes one at a time after it,
 * workers after every control plane.
 */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type DemoStep, runInPrivateTmp } from './demo-support.ts';

type Step = DemoStep;

describe('kubeseed demo --upgrade', () => {
  it('one kubeadm-upgrade-apply, control planes one at a time after it, workers after every control plane, in batches of 2', async () => {
    const { code, out, err, privateTmp } = await runInPrivateTmp(['demo', '--upgrade', '--json', '--workers', '3'], 'ks-demo-upgrade-');
    rmSync(privateTmp, { recursive: true, force: true });
    expect(code, err.slice(-3000)).toBe(0);
    const result = JSON.parse(out) as { ok: boolean; upgrade: { ok: boolean; from: string; to: string; steps: Step[] } };
    expect(result.ok).toBe(true);
    const { upgrade } = result;
    expect(upgrade).toMatchObject({ ok: true, from: 'v1.37.0', to: 'v1.37.1' });
    const steps = upgrade.steps;
    expect(steps.every((s) => Number.isFinite(s.endMs))).toBe(true);

    const applies = steps.filter((s) => s.kind === 'kubeadm-upgrade-apply');
    expect(applies.map((s) => s.host)).toEqual(['cp1']);
    const apply = applies[0] as Step;
    const nodes = steps.filter((s) => s.kind === 'kubeadm-upgrade-node');
    const cpNodes = nodes.filter((s) => s.host.startsWith('cp')).sort((a, b) => a.startMs - b.startMs);
    expect(cpNodes.map((s) => s.host)).toEqual(['cp2', 'cp3']);
    for (const s of cpNodes) expect(s.startMs).toBeGreaterThanOrEqual(apply.endMs);

    // One control plane at a time: the spans of two control planes' steps never overlap.
    const span = (host: string) => {
      const own = steps.filter((s) => s.host === host);
      return { start: Math.min(...own.map((s) => s.startMs)), end: Math.max(...own.map((s) => s.endMs)) };
    };
    const cps = ['cp1', 'cp2', 'cp3'].map(span);
    for (let i = 1; i < cps.length; i++) expect(cps[i]!.start).toBeGreaterThanOrEqual(cps[i - 1]!.end);
    for (const cp of ['cp1', 'cp2', 'cp3'])
      expect(steps.filter((s) => s.host === cp).map((s) => s.kind)).toEqual([
        cp === 'cp1' ? 'kubeadm-upgrade-apply' : 'kubeadm-upgrade-node',
        'node-drain',
        'kubelet-upgrade',
        'node-uncordon',
      ]);

    // Workers after every control plane; drain first; at most workerParallelism (2) at once.
    const lastCp = cps[2]!.end;
    const workers = ['worker1', 'worker2', 'worker3'];
    for (const w of workers) {
      expect(span(w).start).toBeGreaterThanOrEqual(lastCp);
      expect(steps.filter((s) => s.host === w).map((s) => s.kind)).toEqual([
        'node-drain',
        'kubeadm-upgrade-node',
        'kubelet-upgrade',
        'node-uncordon',
      ]);
    }
    for (const w of workers) {
      const at = span(w).start;
      expect(workers.filter((x) => span(x).start <= at && span(x).end > at).length).toBeLessThanOrEqual(2);
    }
    // etcd's version did not change: no step on the etcd members.
    expect(steps.some((s) => s.host.startsWith('etcd'))).toBe(false);
  }, 150_000);
});
