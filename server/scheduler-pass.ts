/**
 * The scheduler's working state for one pass over a snapshot (see scheduler.ts) and the
 * primitives every part of it uses: plan index, record lookups, host readiness, creating and
 * releasing steps. Pure.
 */
import type { ClusterPlan, PlannedStep } from '../generator/plan/types.ts';
import { makesControlPlane, stepTraits } from '../protocol/index.ts';
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
  /**
   * Create coordinator-made steps; `cleanupFor` records them on the failed step they clean up after;
   * `replaces`: existing records written with them (failed snapshot steps, cancelled by the next one).
   */
  | { type: 'create-steps'; steps: StepRecord[]; cleanupFor?: string; replaces?: StepRecord[] }
  /** Create a new bootstrap token through the API server. */
  | { type: 'mint-token' };

export const ACTIVE = new Set(['released', 'running']);
export const TERMINAL_OK = new Set(['succeeded', 'cancelled']);

/** Plan-derived lookups, computed once per plan. */
export interface PlanIndex {
  byId: Map<string, PlannedStep>;
  order: Map<string, number>;
  byHost: Map<string, PlannedStep[]>;
  initStep?: PlannedStep;
}

export const indexCache = new WeakMap<ClusterPlan, PlanIndex>();

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
  const index: PlanIndex = { byId, order, byHost, initStep: plan.steps.find((s) => stepTraits(s.kind).makesNode === 'init') };
  indexCache.set(plan, index);
  return index;
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

/** The snapshot's busy hosts (not copied) and the hosts a pass adds. */
export class BusyHosts {
  private readonly added = new Set<string>();
  constructor(private readonly base: ReadonlySet<string>) {}
  has(host: string): boolean {
    return this.added.has(host) || this.base.has(host);
  }
  add(host: string): void {
    this.added.add(host);
  }
}

export interface Pass {
  snapshot: RolloutSnapshot;
  plan: ClusterPlan;
  index: PlanIndex;
  now: number;
  config: SchedulerConfig;
  /** Records as modified by this pass (created or released). */
  working: Map<string, StepRecord>;
  /** Hosts with a released or running step: the snapshot's, plus those this pass released to. */
  busyHosts: BusyHosts;
  decisions: Decision[];
  waiting: Record<string, string>;
  /** A reason → its "waiting for" text, worded once per pass (scheduler.ts `worded`). */
  reasons: Map<string, string>;
  wake: number[];
  nextSeq: number;
  mintRequested: boolean;
  /** Group name → steps occupying a slot (computed once, bumped on release). */
  groupUsed: Map<string, number>;
}

export function rec(pass: Pass, id: string): StepRecord | undefined {
  return pass.working.get(id) ?? pass.snapshot.steps[id];
}

export function allSteps(pass: Pass): StepRecord[] {
  const merged = new Map<string, StepRecord>(Object.entries(pass.snapshot.steps));
  for (const [id, record] of pass.working) merged.set(id, record);
  return [...merged.values()];
}

/** The index sets a step record belongs to (the fields they test never change within a pass). */
export function stepIndexSets(record: StepRecord): {
  dynamic: boolean;
  cleanup: boolean;
  uploads: boolean;
  occupying: boolean;
  busy: boolean;
} {
  const active = ACTIVE.has(record.state);
  return {
    dynamic: record.origin !== 'plan',
    cleanup: record.needsCleanup === true,
    uploads: stepTraits(record.kind).uploadsCertificates,
    occupying: active || ((record.state === 'retry-wait' || record.state === 'failed') && record.needsCleanup === true),
    busy: active && record.host !== COORDINATOR_HOST,
  };
}

/**
 * The steps of one index set (`StepIndex`), as this pass sees them — in `allSteps` order (snapshot
 * records by id, then those this pass created) — or every step when the snapshot has no index.
 * Callers filter on the set's own property, so both give the same list.
 */
export function indexedSteps(pass: Pass, set: 'dynamic' | 'cleanup' | 'uploads'): StepRecord[] {
  const ids = pass.snapshot.index?.[set];
  if (!ids) return allSteps(pass);
  const out: StepRecord[] = [];
  for (const id of [...ids].sort()) out.push(pass.working.get(id) ?? pass.snapshot.steps[id]!);
  for (const [id, record] of pass.working) if (!(id in pass.snapshot.steps)) out.push(record);
  return out;
}

export function hostRemoved(pass: Pass, host: string): boolean {
  return pass.snapshot.hosts[host]?.removed === true;
}

export function stepDone(pass: Pass, id: string): boolean {
  const planned = pass.index.byId.get(id);
  if (planned && hostRemoved(pass, planned.host)) return true;
  const record = rec(pass, id);
  if (!record) return planned === undefined;
  return TERMINAL_OK.has(record.state);
}

export function initSucceeded(pass: Pass): boolean {
  return pass.snapshot.initLock?.succeeded === true;
}

/** Control planes whose init or join succeeded and that are still in the cluster. */
export function healthyControlPlanes(snapshot: RolloutSnapshot, plan: ClusterPlan): string[] {
  const out: string[] = [];
  for (const step of plan.steps) {
    if (!makesControlPlane(step.kind)) continue;
    const host = snapshot.hosts[step.host];
    if (!host || host.removed || !host.enrollment) continue;
    if (snapshot.steps[step.id]?.state === 'succeeded') out.push(step.host);
  }
  return out;
}

/** Picks a healthy control plane other than `exclude`, preferring agents seen recently and idle ones. */
export function pickControlPlane(pass: Pass, exclude: string): string | undefined {
  const candidates = healthyControlPlanes(pass.snapshot, pass.plan).filter((h) => h !== exclude);
  const live = (h: string) => (pass.snapshot.lastSeen[h] ?? -Infinity) >= pass.now - pass.config.liveAgentMs;
  const score = (h: string) => (live(h) ? 0 : 2) + (pass.busyHosts.has(h) ? 1 : 0);
  return candidates.sort((a, b) => score(a) - score(b))[0];
}

export function newStep(
  pass: Pass,
  host: string,
  kind: WorkKind,
  origin: StepRecord['origin'],
  extra: Partial<StepRecord> = {},
): StepRecord {
  const seq = pass.nextSeq++;
  return { ...createStepRecord(`${host}/${kind}#${seq}`, host, kind, origin, seq), ...extra };
}

export function cleanupDone(pass: Pass, record: StepRecord): boolean {
  if (!record.needsCleanup) return true;
  if (!record.cleanup) return false;
  return record.cleanup.every((id) => rec(pass, id)?.state === 'succeeded');
}

export function startPass(snapshot: RolloutSnapshot, plan: ClusterPlan, now: number, config: SchedulerConfig): Pass {
  let maxSeq = snapshot.index?.maxSeq ?? 0;
  let busy = snapshot.index?.busyHosts;
  if (!busy) {
    const derived = new Set<string>();
    for (const r of Object.values(snapshot.steps)) if (r.seq > maxSeq) maxSeq = r.seq;
    for (const r of Object.values(snapshot.steps)) if (ACTIVE.has(r.state) && r.host !== COORDINATOR_HOST) derived.add(r.host);
    busy = derived;
  }
  const busyHosts = new BusyHosts(busy);
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
    reasons: new Map(),
    wake: [],
    nextSeq: maxSeq + 1,
    mintRequested: false,
    groupUsed: new Map(),
  };
}

export type ReleaseExtra = { acquireInitLock?: boolean; mintInitToken?: boolean; tokenId?: string };

export function release(pass: Pass, record: StepRecord, extra: ReleaseExtra = {}): void {
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

export function hostReady(pass: Pass, host: string): boolean {
  if (host === COORDINATOR_HOST) return true;
  const h = pass.snapshot.hosts[host];
  return !!h && !!h.enrollment && !h.removed && !h.awaitingApproval;
}
