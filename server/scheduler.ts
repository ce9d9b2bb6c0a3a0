/**
 * The pure scheduler: from a snapshot of the rollout, the plan and the time, decide which steps
 * are released to which host, which cleanup or upload-certs steps must be created, and whether a
 * bootstrap token must be minted. No I/O, no clock, no randomness: the coordinator applies the
 * decisions through the store (compare-and-swap) and calls `decide` again whenever anything
 * changes, so a step is released in the same event-loop turn its gate opens.
 *
 * Gates (docs/coordinator.md): host enrolled (and approved) · the host's earlier steps done ·
 * `after` done · one step at a time per host · groups in plan order up to their limit · etcd
 * members released together · init lock · joins need init succeeded and a bootstrap token valid
 * long enough · upload-certs mode: a fresh `kubeadm-certs` upload before a control-plane join ·
 * failed init/joins cleaned up (member remove, Node delete, reset) before their retry.
 */

import type { ClusterPlan, PlannedStep } from '../generator/plan/types.ts';
import { VERSIONS_BY_MINOR } from '../generator/versions.ts';
import type { ReportRequest } from '../protocol/index.ts';
import { COORDINATOR_HOST, createStepRecord, type RolloutSnapshot, type StepRecord, type TokenRecord, type WorkKind } from './model.ts';

export interface SchedulerConfig {
  /** Failures (transient) before a step is marked `failed` and waits for `kubeseed retry`. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** kubeadm's kubeadm-certs Secret lifetime (2 h, not configurable in kubeadm). */
  uploadCertsWindowMs: number;
  /** A control-plane join is released only while at least this much of the window is left. */
  uploadCertsMarginMs: number;
  /** rollout.tokenTTL. */
  tokenTtlMs: number;
  /** A join is released only with a token valid at least this long; renewal starts then too. */
  tokenRenewBeforeMs: number;
  /** An agent seen within this time is preferred for cleanup work. */
  liveAgentMs: number;
}

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

export type Decision =
  | {
      type: 'release';
      stepId: string;
      host: string;
      attempt: number;
      /** kubeadm-init: take the init lock in the same transaction (CAS). */
      acquireInitLock: boolean;
      /** kubeadm-init: mint the token kubeadm init creates from the released InitConfiguration. */
      mintInitToken: boolean;
      /** Joins: the bootstrap token released with this attempt. */
      tokenId?: string;
    }
  /** Create coordinator-made steps; `cleanupFor` records them on the failed step they clean up after. */
  | { type: 'create-steps'; steps: StepRecord[]; cleanupFor?: string }
  /** Create a new bootstrap token through the API server. */
  | { type: 'mint-token' };

export interface Schedule {
  decisions: Decision[];
  /** Enrolled hosts that have nothing released: what they wait for, in words. */
  waiting: Record<string, string>;
  /** The earliest future time at which time alone can open a gate (backoff, token renewal, upload window). */
  nextWakeAt?: number;
}

const ACTIVE = new Set(['released', 'running']);
const TERMINAL_OK = new Set(['succeeded', 'cancelled']);
const JOIN_KINDS = new Set<WorkKind>(['kubeadm-join-control-plane', 'kubeadm-join-worker']);

/** Plan-derived lookups, computed once per plan. */
export interface PlanIndex {
  byId: Map<string, PlannedStep>;
  order: Map<string, number>;
  byHost: Map<string, PlannedStep[]>;
  initStep?: PlannedStep;
}

const indexCache = new WeakMap<ClusterPlan, PlanIndex>();

export function indexPlan(plan: ClusterPlan): PlanIndex {
  const cached = indexCache.get(plan);
  if (cached) return cached;
  const byId = new Map<string, PlannedStep>();
  const order = new Map<string, number>();
  const byHost = new Map<string, PlannedStep[]>();
  plan.steps.forEach((step, i) => {
    byId.set(step.id, step);
    order.set(step.id, i);
    const list = byHost.get(step.host) ?? [];
    list.push(step);
    byHost.set(step.host, list);
  });
  const index: PlanIndex = { byId, order, byHost, initStep: plan.steps.find((s) => s.kind === 'kubeadm-init') };
  indexCache.set(plan, index);
  return index;
}

function recordOf(snapshot: RolloutSnapshot, step: PlannedStep): StepRecord {
  return snapshot.steps[step.id] ?? createStepRecord(step.id, step.host, step.kind, 'plan', 0);
}

/** The token a join released now would carry: the one that stays valid longest. */
export function currentToken(tokens: TokenRecord[]): TokenRecord | undefined {
  let best: TokenRecord | undefined;
  for (const token of tokens) if (!best || token.expiresAt > best.expiresAt) best = token;
  return best;
}

export function isStacked(plan: ClusterPlan): boolean {
  return plan.spec.topology === 'stacked';
}

/** Whether a step's success needs facts beyond "exit 0" (DESIGN.md: rollout order 5). */
export function joinGateMet(plan: ClusterPlan, kind: WorkKind, results: StepRecord['results']): boolean {
  if (kind !== 'kubeadm-join-control-plane') return true;
  return isStacked(plan) ? results.etcdVoter === true : results.nodeRegistered === true && results.apiServerReady === true;
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
      const needsCleanup = record.kind === 'kubeadm-init' || JOIN_KINDS.has(record.kind);
      const { cleanup: _c, retryAt: _r, ...rest } = base;
      const failed = { ...rest, failures, finishedAt: now, needsCleanup, results: {} };
      if (report.permanent || failures >= config.maxAttempts) return { ...failed, state: 'failed' };
      return { ...failed, state: 'retry-wait', retryAt: now + backoffMs(config, failures) };
    }
  }
}

/** `kubeseed retry HOST`: failed steps (and failed cleanup) go back to the queue with a fresh attempt budget. */
export function requeueFailed(records: StepRecord[], now: number): StepRecord[] {
  return records.filter((r) => r.state === 'failed').map((r) => ({ ...r, state: 'retry-wait', retryAt: now, failures: 0 }));
}

interface Pass {
  snapshot: RolloutSnapshot;
  plan: ClusterPlan;
  index: PlanIndex;
  now: number;
  config: SchedulerConfig;
  /** Records as modified by this pass (created or released). */
  working: Map<string, StepRecord>;
  busyHosts: Set<string>;
  decisions: Decision[];
  waiting: Record<string, string>;
  wake: number[];
  nextSeq: number;
  mintRequested: boolean;
  /** Group name → steps occupying a slot (computed once, bumped on release). */
  groupUsed: Map<string, number>;
}

function rec(pass: Pass, id: string): StepRecord | undefined {
  return pass.working.get(id) ?? pass.snapshot.steps[id];
}

function allSteps(pass: Pass): StepRecord[] {
  const merged = new Map<string, StepRecord>(Object.entries(pass.snapshot.steps));
  for (const [id, record] of pass.working) merged.set(id, record);
  return [...merged.values()];
}

function hostRemoved(pass: Pass, host: string): boolean {
  return pass.snapshot.hosts[host]?.removed === true;
}

function stepDone(pass: Pass, id: string): boolean {
  const planned = pass.index.byId.get(id);
  if (planned && hostRemoved(pass, planned.host)) return true;
  const record = rec(pass, id);
  if (!record) return planned === undefined;
  return TERMINAL_OK.has(record.state);
}

function initSucceeded(pass: Pass): boolean {
  return pass.snapshot.initLock?.succeeded === true;
}

/** Control planes whose init or join succeeded and that are still in the cluster. */
export function healthyControlPlanes(snapshot: RolloutSnapshot, plan: ClusterPlan): string[] {
  const out: string[] = [];
  for (const step of plan.steps) {
    if (step.kind !== 'kubeadm-init' && step.kind !== 'kubeadm-join-control-plane') continue;
    const host = snapshot.hosts[step.host];
    if (!host || host.removed || !host.enrollment) continue;
    if (snapshot.steps[step.id]?.state === 'succeeded') out.push(step.host);
  }
  return out;
}

/** Picks a healthy control plane other than `exclude`, preferring agents seen recently and idle ones. */
function pickControlPlane(pass: Pass, exclude: string): string | undefined {
  const candidates = healthyControlPlanes(pass.snapshot, pass.plan).filter((h) => h !== exclude);
  const live = (h: string) => (pass.snapshot.lastSeen[h] ?? -Infinity) >= pass.now - pass.config.liveAgentMs;
  const score = (h: string) => (live(h) ? 0 : 2) + (pass.busyHosts.has(h) ? 1 : 0);
  return candidates.sort((a, b) => score(a) - score(b))[0];
}

function newStep(pass: Pass, host: string, kind: WorkKind, origin: StepRecord['origin'], extra: Partial<StepRecord> = {}): StepRecord {
  const seq = pass.nextSeq++;
  return { ...createStepRecord(`${host}/${kind}#${seq}`, host, kind, origin, seq), ...extra };
}

function cleanupDone(pass: Pass, record: StepRecord): boolean {
  if (!record.needsCleanup) return true;
  if (!record.cleanup) return false;
  return record.cleanup.every((id) => rec(pass, id)?.state === 'succeeded');
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
  if (JOIN_KINDS.has(record.kind) && initSucceeded(pass))
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
    (s) => s.host === host && (s.kind === 'kubeadm-init' || JOIN_KINDS.has(s.kind)) && (snapshot.steps[s.id]?.attempt ?? 0) > 0,
  );
  const role = plan.hosts.find((h) => h.name === host)?.role;
  if (joined && role === 'control-plane' && isStacked(plan)) {
    const executor = pickControlPlane(pass, host);
    if (executor) create.push(newStep(pass, executor, 'etcd-member-remove', 'removal', { target: host }));
  }
  if (joined && snapshot.initLock?.succeeded) create.push(newStep(pass, COORDINATOR_HOST, 'delete-node', 'removal', { target: host }));
  return { cancel, create };
}

function startPass(snapshot: RolloutSnapshot, plan: ClusterPlan, now: number, config: SchedulerConfig): Pass {
  let maxSeq = 0;
  for (const r of Object.values(snapshot.steps)) if (r.seq > maxSeq) maxSeq = r.seq;
  const busyHosts = new Set<string>();
  for (const r of Object.values(snapshot.steps)) if (ACTIVE.has(r.state) && r.host !== COORDINATOR_HOST) busyHosts.add(r.host);
  return {
    snapshot,
    plan,
    index: indexPlan(plan),
    now,
    config,
    working: new Map(),
    busyHosts,
    decisions: [],
    waiting: {},
    wake: [],
    nextSeq: maxSeq + 1,
    mintRequested: false,
    groupUsed: new Map(),
  };
}

function release(
  pass: Pass,
  record: StepRecord,
  extra: { acquireInitLock?: boolean; mintInitToken?: boolean; tokenId?: string } = {},
): void {
  const attempt = record.attempt + 1;
  pass.working.set(record.id, { ...record, state: 'released', attempt, releasedAt: pass.now });
  const group = pass.index.byId.get(record.id)?.group?.name;
  if (group && record.origin === 'plan') pass.groupUsed.set(group, (pass.groupUsed.get(group) ?? 0) + 1);
  if (record.host !== COORDINATOR_HOST) pass.busyHosts.add(record.host);
  pass.decisions.push({
    type: 'release',
    stepId: record.id,
    host: record.host,
    attempt,
    acquireInitLock: extra.acquireInitLock ?? false,
    mintInitToken: extra.mintInitToken ?? false,
    ...(extra.tokenId !== undefined ? { tokenId: extra.tokenId } : {}),
  });
}

function hostReady(pass: Pass, host: string): boolean {
  if (host === COORDINATOR_HOST) return true;
  const h = pass.snapshot.hosts[host];
  return !!h && !!h.enrollment && !h.removed && !h.awaitingApproval;
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
  for (const record of allSteps(pass)) {
    if (!record.needsCleanup || (record.cleanup && !cleanupLost(pass, record))) continue;
    if (record.state !== 'retry-wait' && record.state !== 'failed') continue;
    if (hostRemoved(pass, record.host)) continue;
    const steps = planCleanup(pass, record);
    if (typeof steps === 'string') {
      pass.waiting[record.host] = `waiting for ${steps}`;
      continue;
    }
    for (const step of steps) pass.working.set(step.id, step);
    pass.working.set(record.id, { ...record, cleanup: steps.map((s) => s.id) });
    pass.decisions.push({ type: 'create-steps', steps, cleanupFor: record.id });
  }
}

function releaseCoordinatorMadeSteps(pass: Pass): void {
  const dynamic = allSteps(pass)
    .filter((r) => r.origin !== 'plan')
    .sort((a, b) => a.seq - b.seq);
  for (const record of dynamic) {
    if (!hostReady(pass, record.host) || pass.busyHosts.has(record.host)) continue;
    if (record.after?.some((id) => !TERMINAL_OK.has(rec(pass, id)?.state ?? 'pending'))) continue;
    const due = dueForRelease(pass, record);
    if (due === true) release(pass, record);
  }
}

function lastCertUpload(pass: Pass): number | undefined {
  let last: number | undefined;
  for (const r of allSteps(pass)) {
    if ((r.kind === 'kubeadm-init' || r.kind === 'upload-certs') && r.state === 'succeeded' && r.releasedAt !== undefined) {
      if (last === undefined || r.releasedAt > last) last = r.releasedAt;
    }
  }
  return last;
}

/** upload-certs mode: true when a fresh kubeadm-certs upload is in place for a join released now. */
function certsUploaded(pass: Pass): true | string {
  const last = lastCertUpload(pass);
  const closes = last === undefined ? undefined : last + pass.config.uploadCertsWindowMs - pass.config.uploadCertsMarginMs;
  if (closes !== undefined && pass.now <= closes) {
    pass.wake.push(closes + 1);
    return true;
  }
  const inProgress = allSteps(pass).find((r) => r.kind === 'upload-certs' && !TERMINAL_OK.has(r.state));
  if (inProgress) return `the kubeadm-certs upload (${inProgress.id}, ${inProgress.state})`;
  const executor = pickControlPlane(pass, '');
  if (!executor) return 'a joined control plane to upload the certificates';
  const step = newStep(pass, executor, 'upload-certs', 'upload-certs');
  pass.working.set(step.id, step);
  pass.decisions.push({ type: 'create-steps', steps: [step] });
  if (!pass.busyHosts.has(executor) && hostReady(pass, executor)) release(pass, step);
  return `the kubeadm-certs upload on ${executor}`;
}

function countGroupUsage(pass: Pass): Map<string, number> {
  const used = new Map<string, number>();
  for (const step of pass.plan.steps) {
    if (!step.group) continue;
    const r = rec(pass, step.id);
    if (!r || hostRemoved(pass, step.host)) continue;
    const occupies = ACTIVE.has(r.state) || ((r.state === 'retry-wait' || r.state === 'failed') && !cleanupDone(pass, r));
    if (occupies) used.set(step.group.name, (used.get(step.group.name) ?? 0) + 1);
  }
  return used;
}

function groupUsage(pass: Pass, group: string): number {
  return pass.groupUsed.get(group) ?? 0;
}

function groupLimit(pass: Pass, step: PlannedStep): number {
  const limit = step.group?.limit ?? Infinity;
  // Defence in depth: the spec refuses this combination, the scheduler never runs it.
  if (
    step.group?.name === 'control-plane-join' &&
    isStacked(pass.plan) &&
    VERSIONS_BY_MINOR[pass.plan.spec.kubernetesMinor]?.parallelStackedJoins !== true
  )
    return 1;
  return limit;
}

function hasUnfinishedJoins(pass: Pass): boolean {
  return pass.plan.steps.some((s) => JOIN_KINDS.has(s.kind) && !stepDone(pass, s.id) && hostReady(pass, s.host));
}

function tokenForJoin(pass: Pass): TokenRecord | string {
  const token = currentToken(pass.snapshot.tokens);
  if (token && token.expiresAt - pass.now >= pass.config.tokenRenewBeforeMs) return token;
  if (!pass.mintRequested) {
    pass.mintRequested = true;
    pass.decisions.push({ type: 'mint-token' });
  }
  return 'a fresh bootstrap token';
}

/** Checks the gates of one plan step; returns true, or what it waits for. */
function gate(pass: Pass, step: PlannedStep, record: StepRecord): true | string {
  for (const earlier of pass.index.byHost.get(step.host) ?? []) {
    if (earlier.id === step.id) break;
    if (!stepDone(pass, earlier.id)) return `${earlier.id} to finish`;
  }
  const open = step.after.filter((id) => !stepDone(pass, id));
  if (open.length > 0) return step.waitsFor || `waiting for ${open.join(', ')}`;
  const lock = pass.snapshot.initLock;
  switch (step.kind) {
    case 'etcd-start': {
      const missing = pass.plan.hosts.filter(
        (h) => h.role === 'etcd' && !hostRemoved(pass, h.name) && !pass.snapshot.hosts[h.name]?.enrollment,
      );
      if (missing.length > 0) return `every etcd member to enroll (missing: ${missing.map((h) => h.name).join(', ')})`;
      return true;
    }
    case 'kubeadm-init':
      if (lock && lock.holder !== step.host && !(hostRemoved(pass, lock.holder) && !lock.succeeded))
        return `the init lock (held by ${lock.holder})`;
      if (lock?.succeeded && record.state !== 'retry-wait') return 'nothing: the cluster is already initialized';
      return true;
    case 'kubeadm-join-control-plane':
    case 'kubeadm-join-worker': {
      if (!initSucceeded(pass)) return 'kubeadm init to succeed';
      if (step.group && groupUsage(pass, step.group.name) >= groupLimit(pass, step)) {
        return step.group.name === 'control-plane-join' ? 'the previous control plane to finish joining' : 'a free worker-join slot';
      }
      const token = tokenForJoin(pass);
      if (typeof token === 'string') return token;
      if (step.kind === 'kubeadm-join-control-plane' && pass.plan.spec.certificates.distribution === 'upload-certs') {
        const uploaded = certsUploaded(pass);
        if (uploaded !== true) return uploaded;
      }
      return true;
    }
    default:
      if (step.group && groupUsage(pass, step.group.name) >= groupLimit(pass, step)) return `a free ${step.group.name} slot`;
      return true;
  }
}

function releasePlanSteps(pass: Pass): void {
  for (const step of pass.plan.steps) {
    if (!hostReady(pass, step.host)) continue;
    const record = rec(pass, step.id) ?? recordOf(pass.snapshot, step);
    if (pass.busyHosts.has(step.host)) continue;
    const due = dueForRelease(pass, record);
    if (due !== true) {
      if (typeof due === 'string' && !pass.waiting[step.host]) pass.waiting[step.host] = `waiting for ${due}`;
      continue;
    }
    const verdict = gate(pass, step, record);
    if (verdict !== true) {
      if (!pass.waiting[step.host]) pass.waiting[step.host] = verdict.startsWith('waiting') ? verdict : `waiting for ${verdict}`;
      continue;
    }
    if (step.kind === 'kubeadm-init') {
      const lock = pass.snapshot.initLock;
      const acquire = !lock || lock.holder !== step.host;
      release(pass, record, { acquireInitLock: acquire, mintInitToken: true });
    } else if (JOIN_KINDS.has(step.kind)) {
      const token = currentToken(pass.snapshot.tokens)!;
      release(pass, record, { tokenId: token.id });
    } else {
      release(pass, record);
    }
    delete pass.waiting[step.host];
  }
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
  for (const r of Object.values(snapshot.steps)) {
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
