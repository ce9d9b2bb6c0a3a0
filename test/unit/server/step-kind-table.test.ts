/**
 * Adding a step kind is one row in the step-kind table (ADR 0027): a test-only day-2 kind,
 * registered with `registerStepKind` and nothing else, is released by the scheduler in plan order
 * behind the gate its row names, and is built and described by the generator's plan code.
 */
import { describe, expect, it } from 'vitest';
import { buildStep } from '../../../generator/plan/build-step.ts';
import { describeHostPlan, placeholderSecrets } from '../../../generator/plan/document.ts';
import { planRollout } from '../../../generator/plan/plan.ts';
import type { ClusterPlan, PlannedStep } from '../../../generator/plan/types.ts';
import { registerStepKind, type StepKind, stepTraits } from '../../../protocol/index.ts';
import { applyReport, createSchedulerConfig, decide } from '../../../server/scheduler.ts';
import { enrolledSnapshot, makePlan } from './fixtures.ts';

const KIND = 'test-upgrade-apply' as StepKind;
registerStepKind(KIND, {
  rerun: false,
  writesKubeadmConfig: false,
  cleanupOnFailure: false,
  clearedByReset: false,
  uploadsCertificates: false,
  gates: ['init-succeeded'],
});

const T0 = Date.UTC(2026, 11, 1);
const RESULTS = { etcdVoter: true, nodeRegistered: true, apiServerReady: true, etcdHealthy: true, vipHeld: true, portOpen: true };

/** The real planner's plan plus the new kind: on cp1 after verify, on cp2 after cp1's, and on lb1 with no `after`. */
function planWithNewKind(): ClusterPlan {
  const plan = planRollout(makePlan({ workers: 1 }).spec);
  const step = (host: string, after: string[]): PlannedStep => ({
    id: `${host}/${KIND}`,
    kind: KIND,
    host,
    role: plan.hosts.find((h) => h.name === host)!.role,
    after,
    waitsFor: after.length ? `${after.join(', ')} to finish` : 'kubeadm init to succeed',
    secrets: [],
  });
  const verify = plan.steps.find((s) => s.kind === 'verify')!.id;
  return { ...plan, steps: [...plan.steps, step('cp1', [verify]), step('cp2', [`cp1/${KIND}`]), step('lb1', [])] };
}

/** Drives `decide` the way the coordinator does (no store): every released step succeeds. */
function rollout(plan: ClusterPlan): { order: string[]; waiting: Record<string, string>[] } {
  const config = createSchedulerConfig(plan);
  const snapshot = enrolledSnapshot(plan, T0);
  const order: string[] = [];
  const waiting: Record<string, string>[] = [];
  for (let round = 0; round < 50; round++) {
    const schedule = decide(snapshot, plan, T0, config);
    waiting.push(schedule.waiting);
    const released: string[] = [];
    for (const d of schedule.decisions) {
      if (d.type === 'mint-token')
        snapshot.tokens.push({ id: `t${round}`, token: `t${round}.x`, createdAt: T0, expiresAt: T0 + config.tokenTtlMs, via: 'api' });
      if (d.type !== 'release') continue;
      if (d.acquireInitLock) snapshot.initLock = { holder: d.host, acquiredAt: T0, succeeded: false };
      snapshot.steps[d.stepId] = { ...snapshot.steps[d.stepId]!, state: 'released', attempt: d.attempt, releasedAt: T0 };
      released.push(d.stepId);
    }
    if (released.length === 0 && !schedule.decisions.some((d) => d.type === 'mint-token')) break;
    for (const id of released.sort()) {
      const record = snapshot.steps[id]!;
      snapshot.steps[id] = applyReport(plan, record, { outcome: 'succeeded', attempt: record.attempt, results: RESULTS }, '', T0, config);
      if (stepTraits(record.kind).makesNode === 'init') snapshot.initLock = { ...snapshot.initLock!, succeeded: true, succeededAt: T0 };
      order.push(id);
    }
  }
  return { order, waiting };
}

describe('a step kind registered in the one table', () => {
  const plan = planWithNewKind();

  it('is released in plan order, behind the gates its row names', () => {
    const { order, waiting } = rollout(plan);
    const at = (id: string) => order.indexOf(id);
    for (const id of plan.steps.map((s) => s.id)) expect(order).toContain(id);
    expect(at(`cp1/${KIND}`)).toBeGreaterThan(at('cp1/verify'));
    expect(at(`cp2/${KIND}`)).toBeGreaterThan(at(`cp1/${KIND}`));
    // lb1's step has no `after`: only its row's gate (init-succeeded) holds it after lb1/lb-check.
    expect(at(`lb1/${KIND}`)).toBeGreaterThan(at('cp1/kubeadm-init'));
    expect(at(`lb1/${KIND}`)).toBeLessThan(at('cp1/verify'));
    expect(waiting.some((w) => w.lb1 === 'waiting for kubeadm init to succeed')).toBe(true);
  });

  it('is built and described by the plan code: its node name, no files', () => {
    const step = plan.steps.find((s) => s.id === `cp2/${KIND}`)!;
    expect(buildStep(plan, step, placeholderSecrets)).toEqual({ files: [], params: { nodeName: 'cp2' }, redact: [] });
    const doc = describeHostPlan(plan, 'cp2', placeholderSecrets) as { steps: Array<Record<string, unknown>> };
    expect(doc.steps.at(-1)).toMatchObject({ step: `cp2/${KIND}`, kind: KIND, after: [`cp1/${KIND}`], params: { nodeName: 'cp2' } });
  });

  it('refuses a kind registered twice, and buildStep refuses a kind nobody registered', () => {
    expect(() => registerStepKind(KIND, stepTraits(KIND))).toThrow(/already registered/);
    expect(() => registerStepKind('verify', stepTraits('verify'))).toThrow(/already registered/);
    const unknown = { ...plan.steps.at(-1)!, kind: 'never-registered' as StepKind };
    expect(() => buildStep(plan, unknown, placeholderSecrets)).toThrow(/unknown step kind never-registered/);
  });
});
