/**
 * The coordinator driving plans made by the real planner (generator planRollout + buildStep):
 * every topology / certificate mode / load balancer the planner emits completes, a failed
 * control-plane join is cleaned up with the real `etcd-member-remove` step, and the released
 * kubeadm configs carry the coordinator's current bootstrap token.
 */
import { describe, expect, it } from 'vitest';
import { configHasCertificateKey } from '../../../agent/steps/index.ts';
import { buildStep } from '../../../generator/plan/build-step.ts';
import { planRollout } from '../../../generator/plan/plan.ts';
import type { ReleasedStep } from '../../../protocol/index.ts';
import { Coordinator } from '../../../server/coordinator.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { type FixtureOptions, makePlan } from './fixtures.ts';
import { createAgent, enrollBody, FakeClock, FakeKubernetes, makeInputs } from './support.ts';

const RESULTS = { etcdVoter: true, nodeRegistered: true, apiServerReady: true, etcdHealthy: true };

function realPlan(options: FixtureOptions, lb?: 'kube-vip') {
  const fixture = makePlan(options);
  const spec = structuredClone(fixture.spec);
  if (lb === 'kube-vip') {
    spec.loadBalancer.type = 'kube-vip';
    spec.hosts = spec.hosts.filter((h) => h.role !== 'load-balancer');
  }
  spec.hosts = spec.hosts.map((h, i) => (i === spec.hosts.length - 1 ? { ...h, labels: { tier: 'edge' } } : h));
  return planRollout(spec);
}

async function runAll(c: Coordinator, hosts: string[], onStep?: (s: ReleasedStep) => Promise<boolean>): Promise<ReleasedStep[]> {
  const seen: ReleasedStep[] = [];
  for (let round = 0; round < 100; round++) {
    let progressed = false;
    for (const host of hosts) {
      const answer = await c.next(host, 0);
      const step = answer?.step;
      if (!step || seen.some((s) => s.id === step.id && s.attempt === step.attempt)) continue;
      seen.push(step);
      progressed = true;
      if (onStep && (await onStep(step))) continue;
      await c.report(host, { stepId: step.id, attempt: step.attempt, outcome: 'succeeded', logTail: '', startedAt: 0, results: RESULTS });
    }
    if (!progressed) break;
  }
  return seen;
}

describe('coordinator × real planner', () => {
  it.each([
    [{ topology: 'stacked', distribution: 'coordinator' }, undefined],
    [{ topology: 'stacked', distribution: 'upload-certs' }, undefined],
    [{ topology: 'external-etcd', distribution: 'coordinator' }, undefined],
    [{ topology: 'external-etcd', distribution: 'upload-certs' }, undefined],
    [{ topology: 'stacked', distribution: 'coordinator' }, 'kube-vip'],
  ] as const)('%o %s completes; a failed join is cleaned up and retried', async (options, lb) => {
    const plan = realPlan({ ...options, workers: 3 }, lb);
    const clock = new FakeClock();
    const kubernetes = new FakeKubernetes();
    const c = new Coordinator(makeInputs(plan, { clock, buildStep }), {
      store: new MemoryStore(),
      kubernetes,
      scheduler: { backoffBaseMs: 1 },
    });
    await c.start();
    const hosts = plan.hosts.map((h) => h.name);
    for (const [i, h] of hosts.entries()) await c.enroll(enrollBody(createAgent(h, i)), '127.0.0.1');
    let failed = false;
    const seen = await runAll(c, hosts, async (step) => {
      if (step.kind === 'kubeadm-join-control-plane' && !failed) {
        failed = true;
        await c.report(step.host, { stepId: step.id, attempt: step.attempt, outcome: 'failed', logTail: 'x', startedAt: 0 });
        clock.advance(10);
        await new Promise((r) => setTimeout(r, 5));
        c.reconcile();
        return true;
      }
      return false;
    });
    const status = c.status();
    expect(status.hosts.filter((h) => !h.done).map((h) => [h.name, h.waitingFor])).toEqual([]);
    expect(status.done).toBe(true);
    const kinds = seen.map((s) => s.kind);
    if (options.topology === 'stacked') {
      const remove = seen.find((s) => s.kind === 'etcd-member-remove')!;
      expect(remove.params.memberName).toBe('cp2');
    } else {
      expect(kinds).not.toContain('etcd-member-remove');
    }
    expect(kinds).toContain('reset');
    expect(kubernetes.deletedNodes).toEqual(['cp2']);
    const init = seen.find((s) => s.kind === 'kubeadm-init')!;
    const token = c.snapshot().tokens.find((t) => t.via === 'init')!.token;
    expect(init.files.find((f) => f.path.endsWith('init.yaml'))!.content).toContain(token);
    expect(init.redact).toContain(token);
    // v1beta4 InitConfiguration has no field that uploads the PKI; only `kubeadm init --upload-certs` does.
    // The agent adds that flag exactly when the released config carries certificateKey (kubeadm-init.ts).
    const initConfig = init.files.find((f) => f.path.endsWith('init.yaml'))!.content;
    expect(configHasCertificateKey(initConfig)).toBe(options.distribution === 'upload-certs');
    const joins = seen.filter((s) => s.kind === 'kubeadm-join-control-plane');
    expect(joins.map((j) => `${j.host}@${j.attempt}`).sort()).toEqual(['cp2@1', 'cp2@2', 'cp3@1']);
  });
});
