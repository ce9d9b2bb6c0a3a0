/**
 * The pure scheduler: from a snapshot of the rollout, the plan and the time, decide which steps
 * are released to which host, which cleanup or upload-certs steps must be created, and whether a
 * bootstrap token must be minted. No I/O, no clock, no randomness: the coordinator applies the
 * decisions through the store (compare-and-swap) and calls `decide` again whenever anything
 * changes (one pass per event-loop turn), so a step is released in the turn its gate opens.
 *
 * Gates (docs/coordinator.md): host enrolled (and approved) · the host's earlier steps done ·
 * `after` done · one step at a time per host · groups in plan order up to their limit · etcd
 * members released together · init lock · joins need init succeeded and a bootstrap token valid
 * long enough · upload-certs mode: a fresh `kubeadm-certs` upload before a control-plane join ·
 * failed init/joins cleaned up (member remove, Node delete, reset) before their retry.
 *
 * Layout: this file decides (release passes, reports, cleanup, removal); scheduler-gates.ts holds
 * the kind-specific gates and success checks named by protocol/step-kinds.ts (ADR 0027);
 * scheduler-pass.ts the per-pass state and its primitives.
 */

import type { ClusterPlan, PlannedStep } from '../generator/plan/types.ts';
import { isJoinKind, type ReportRequest, stepTraits } from '../protocol/index.ts';
import { planSnapshot } from './backup/schedule.ts';
import { COORDINATOR_HOST, createStepRecord, type RolloutSnapshot, type StepRecord } from './model.ts';
import { countGroupUsage, GATES, gate, joinGateMet, tokenForJoin } from './scheduler-gates.ts';
import {
  cleanupDone,
  currentToken,
  type Decision,
  hostReady,
  hostRemoved,
  indexedSteps,
  indexPlan,
  initSucceeded,
  isStacked,
  newStep,
  type Pass,
  pickControlPlane,
  type ReleaseExtra,
  rec,
  release,
  type SchedulerConfig,
  startPass,
  stepDone,
  TERMINAL_OK,
} from './scheduler-pass.ts';

export { joinGateMet } from './scheduler-gates.ts';
export {
  currentToken,
  type Decision,
  healthyControlPlanes,
  indexPlan,
  isStacked,
  type PlanIndex,
  type SchedulerConfig,
} from './scheduler-pass.ts';

export function createSchedulerConfig(plan: ClusterPlan, overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const tokenTtlMs = overrides.tokenTtlMs ?? plan.spec.rollout.tokenTTL * 1000;
  return {
    maxAttempts: 5,
    backoffBaseMs: 5_000,
    backoffMaxMs: 120_000,
    uploadCertsWindowMs: 2 * 60 * 60 * 1000,
    uploadCertsMarginMs: 20 * 60 * 1000,
    tokenRenewBeforeMs: Math.floor(tokenTtlMs / 3),
    liveAgentMs: 120_000,
    ...overrides,
    tokenTtlMs,
  };
}

export interface Schedule {
  decisions: Decision[];
  /** Enrolled hosts that have nothing released: what they wait for, in words. */
  waiting: Record<string, string>;
  /** The earliest future time at which time alone can open a gate (backoff, token renewal, upload window). */
  nextWakeAt?: number;
}

function recordOf(snapshot: RolloutSnapshot, step: PlannedStep): StepRecord {
  return snapshot.steps[step.id] ?? createStepRecord(step.id, step.host, step.kind, 'plan', 0);
}

export function backoffMs(config: SchedulerConfig, failures: number): number {
  return Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** Math.max(0, failures - 1));
}

/**
 * Folds an agent's report into its step record. `logTail` is the already redacted, bounded tail.
 * Pure: the caller checks that the attempt matches.
 */
export function applyReport(
  plan: ClusterPlan,
  record: StepRecord,
  report: Pick<ReportRequest, 'outcome' | 'reason' | 'permanent' | 'results' | 'attempt'>,
  logTail: string,
  now: number,
  config: SchedulerConfig,
): StepRecord {
  const results = { ...record.results, ...(report.results ?? {}) };
  const lastReport = {
    attempt: report.attempt,
    outcome: report.outcome,
    logTail,
    at: now,
    ...(report.reason !== undefined ? { reason: report.reason } : {}),
    ...(report.permanent !== undefined ? { permanent: report.permanent } : {}),
  };
  const base: StepRecord = { ...record, results, lastReport };
  switch (report.outcome) {
    case 'running':
      return { ...base, state: 'running' };
    case 'succeeded': {
      if (!joinGateMet(plan, record.kind, results)) return { ...base, state: 'running' };
      const { retryAt: _r, cleanup: _c, ...rest } = base;
      return { ...rest, state: 'succeeded', finishedAt: now, needsCleanup: false };
    }
    case 'failed': {
      const failures = record.failures + 1;
      const needsCleanup = stepTraits(record.kind).cleanupOnFailure;
      const { cleanup: _c, retryAt: _r, ...rest } = base;
      const failed = { ...rest, failures, finishedAt: now, needsCleanup, results: {} };
      // A scheduled snapshot is not retried: the next due time takes a fresh one (server/backup/schedule.ts).
      if (report.permanent || failures >= config.maxAttempts || record.origin === 'snapshot') return { ...failed, state: 'failed' };
      return { ...failed, state: 'retry-wait', retryAt: now + backoffMs(config, failures) };
    }
  }
}

/** `kubeseed retry HOST`: failed steps (and failed cleanup) go back to the queue with a fresh attempt budget. */
export function requeueFailed(records: StepRecord[], now: number): StepRecord[] {
  return records.filter((r) => r.state === 'failed').map((r) => ({ ...r, state: 'retry-wait', retryAt: now, failures: 0 }));
}

/** Cleanup whose step was cancelled (its executor was removed or rebuilt) is planned again. */
function cleanupLost(pass: Pass, record: StepRecord): boolean {
  return !!record.cleanup?.some((id) => rec(pass, id)?.state === 'cancelled');
}

/** Creates the cleanup steps a failed init/join needs before its retry (DESIGN.md rollout order). */
function planCleanup(pass: Pass, record: StepRecord): StepRecord[] | string {
  const host = record.host;
  const steps: StepRecord[] = [];
  const common = { forStep: record.id, target: host };
  if (record.kind === 'kubeadm-join-control-plane' && isStacked(pass.plan)) {
    const executor = pickControlPlane(pass, host);
    if (!executor) return 'a healthy control plane to remove the half-added etcd member';
    steps.push(newStep(pass, executor, 'etcd-member-remove', 'cleanup', common));
  }
  const reset = newStep(pass, host, 'reset', 'cleanup', common);
  steps.push(reset);
  // The Node goes once the host's kubelet is stopped by the reset; otherwise it registers again.
  if (isJoinKind(record.kind) && initSucceeded(pass))
    steps.push(newStep(pass, COORDINATOR_HOST, 'delete-node', 'cleanup', { ...common, after: [reset.id] }));
  return steps;
}

/** `kubeseed remove HOST`: steps to cancel and removal steps to create (Node delete; stacked: etcd member). */
export function planRemoval(
  snapshot: RolloutSnapshot,
  plan: ClusterPlan,
  host: string,
  now: number,
  config: SchedulerConfig,
): { cancel: StepRecord[]; create: StepRecord[] } {
  const pass = startPass(snapshot, plan, now, config);
  const cancel = Object.values(snapshot.steps)
    .filter((r) => r.host === host && !TERMINAL_OK.has(r.state))
    .map((r) => ({ ...r, state: 'cancelled' as const }));
  const create: StepRecord[] = [];
  const joined = plan.steps.some(
    (s) => s.host === host && stepTraits(s.kind).makesNode !== undefined && (snapshot.steps[s.id]?.attempt ?? 0) > 0,
  );
  const role = plan.hosts.find((h) => h.name === host)?.role;
  if (joined && role === 'control-plane' && isStacked(plan)) {
    const executor = pickControlPlane(pass, host);
    if (executor) create.push(newStep(pass, executor, 'etcd-member-remove', 'removal', { target: host }));
  }
  if (joined && snapshot.initLock?.succeeded) create.push(newStep(pass, COORDINATOR_HOST, 'delete-node', 'removal', { target: host }));
  return { cancel, create };
}

/**
 * `kubeseed rebind HOST`: what happens to the host's steps when its machine is forgotten. Steps
 * the coordinator made for it are cancelled (unless finished); plan steps start over, and a join
 * that had been released waits for cleanup first (Node, etcd member) through the retry path.
 * Returns only the records that change.
 */
export function planRebind(steps: Iterable<StepRecord>, host: string, now: number): StepRecord[] {
  const changed: StepRecord[] = [];
  for (const step of steps) {
    if (step.host !== host) continue;
    if (step.origin !== 'plan') {
      if (!TERMINAL_OK.has(step.state)) changed.push({ ...step, state: 'cancelled' });
      continue;
    }
    const joined = isJoinKind(step.kind) && step.attempt > 0;
    const { cleanup: _c, retryAt: _r, lastReport: _l, ...clean } = step;
    changed.push(
      joined
        ? { ...clean, state: 'retry-wait', retryAt: now, failures: 0, needsCleanup: true, results: {} }
        : { ...clean, state: 'pending', failures: 0, needsCleanup: false, results: {} },
    );
  }
  return changed;
}

/** Whether the step's own state allows a release now (pending, or retry due and cleaned up). */
function dueForRelease(pass: Pass, record: StepRecord): boolean | string {
  if (record.state === 'pending') return true;
  if (record.state !== 'retry-wait') return false;
  if (!cleanupDone(pass, record)) return `cleanup before retrying ${record.id}`;
  if ((record.retryAt ?? 0) > pass.now) {
    pass.wake.push(record.retryAt!);
    return `retry of ${record.id} (backoff)`;
  }
  return true;
}

function ensureCleanup(pass: Pass): void {
  for (const record of indexedSteps(pass, 'cleanup')) {
    if (!record.needsCleanup || (record.cleanup && !cleanupLost(pass, record))) continue;
    if (record.state !== 'retry-wait' && record.state !== 'failed') continue;
    if (hostRemoved(pass, record.host)) continue;
    const steps = planCleanup(pass, record);
    if (typeof steps === 'string') {
      pass.waiting[record.host] = worded(pass, steps);
      continue;
    }
    for (const step of steps) pass.working.set(step.id, step);
    pass.working.set(record.id, { ...record, cleanup: steps.map((s) => s.id) });
    pass.decisions.push({ type: 'create-steps', steps, cleanupFor: record.id });
  }
}

function releaseCoordinatorMadeSteps(pass: Pass): void {
  const dynamic = indexedSteps(pass, 'dynamic')
    .filter((r) => r.origin !== 'plan')
    .sort((a, b) => a.seq - b.seq);
  for (const record of dynamic) {
    if (!hostReady(pass, record.host) || pass.busyHosts.has(record.host)) continue;
    if (record.after?.some((id) => !TERMINAL_OK.has(rec(pass, id)?.state ?? 'pending'))) continue;
    const due = dueForRelease(pass, record);
    if (due === true) release(pass, record);
  }
}

function hasUnfinishedJoins(pass: Pass): boolean {
  return pass.plan.steps.some(
    (s) => stepTraits(s.kind).gates.includes('bootstrap-token') && !stepDone(pass, s.id) && hostReady(pass, s.host),
  );
}

function releasePlanSteps(pass: Pass): void {
  for (const step of pass.plan.steps) {
    if (pass.busyHosts.has(step.host) || !hostReady(pass, step.host)) continue;
    const record = rec(pass, step.id) ?? recordOf(pass.snapshot, step);
    const due = dueForRelease(pass, record);
    if (due !== true) {
      if (typeof due === 'string' && !pass.waiting[step.host]) pass.waiting[step.host] = worded(pass, due);
      continue;
    }
    const verdict = gate(pass, step, record);
    if (verdict !== true) {
      if (!pass.waiting[step.host]) pass.waiting[step.host] = worded(pass, verdict);
      continue;
    }
    const extra: ReleaseExtra = {};
    for (const name of stepTraits(step.kind).gates) Object.assign(extra, GATES[name].release?.(pass, step));
    release(pass, record, extra);
    delete pass.waiting[step.host];
  }
}

/**
 * `reason` as a host's "waiting for …" text, worded once per pass: the hosts waiting for the same
 * thing (thousands of workers behind one gate) are given one string, not a copy each.
 */
function worded(pass: Pass, reason: string): string {
  let text = pass.reasons.get(reason);
  if (text === undefined) {
    text = reason.startsWith('waiting') ? reason : `waiting for ${reason}`;
    pass.reasons.set(reason, text);
  }
  return text;
}

function planTokenRenewal(pass: Pass): void {
  if (!initSucceeded(pass) || !hasUnfinishedJoins(pass)) return;
  const token = currentToken(pass.snapshot.tokens);
  const renewAt = token ? token.expiresAt - pass.config.tokenRenewBeforeMs : pass.now;
  if (renewAt <= pass.now) tokenForJoin(pass);
  else pass.wake.push(renewAt);
}

/** Decides what to release now. Deterministic: same snapshot, plan, time and config → same decisions. */
export function decide(snapshot: RolloutSnapshot, plan: ClusterPlan, now: number, config: SchedulerConfig): Schedule {
  const pass = startPass(snapshot, plan, now, config);
  ensureCleanup(pass);
  pass.groupUsed = countGroupUsage(pass);
  planSnapshot(pass);
  releaseCoordinatorMadeSteps(pass);
  releasePlanSteps(pass);
  planTokenRenewal(pass);
  const done = doneHosts(snapshot, plan, Object.keys(pass.waiting));
  for (const host of Object.keys(pass.waiting)) if (pass.busyHosts.has(host) || done.has(host)) delete pass.waiting[host];
  const future = pass.wake.filter((t) => t > now);
  return {
    decisions: pass.decisions,
    waiting: pass.waiting,
    ...(future.length > 0 ? { nextWakeAt: Math.min(...future) } : {}),
  };
}

/** A host is done when every plan step of it succeeded (or was cancelled) and no coordinator-made step is open on it. */
export function isHostDone(snapshot: RolloutSnapshot, plan: ClusterPlan, host: string): boolean {
  return doneHosts(snapshot, plan, [host]).has(host);
}

/** The hosts (of `candidates`, default every plan host) that are done — in one pass over the steps. */
export function doneHosts(snapshot: RolloutSnapshot, plan: ClusterPlan, candidates?: Iterable<string>): Set<string> {
  const index = indexPlan(plan);
  const open = new Set<string>();
  const dynamic = snapshot.index ? [...snapshot.index.dynamic].map((id) => snapshot.steps[id]!) : Object.values(snapshot.steps);
  for (const r of dynamic) {
    if (r.origin !== 'plan' && !TERMINAL_OK.has(r.state) && r.state !== 'failed') open.add(r.host);
  }
  const done = new Set<string>();
  for (const host of candidates ?? index.byHost.keys()) {
    if (open.has(host)) continue;
    const steps = index.byHost.get(host) ?? [];
    if (steps.every((step) => TERMINAL_OK.has(snapshot.steps[step.id]?.state ?? 'pending'))) done.add(host);
  }
  return done;
}
