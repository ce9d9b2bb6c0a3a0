/**
 * When the next etcd snapshot is due and which host takes it (spec.etcd.backup, ADR 0041, 0044):
 * pure, for the scheduler (server/scheduler.ts) that releases `etcd-snapshot` steps to idle agents
 * (ADR 0033). A snapshot is due when the newest one taken (or tried) is older than the interval —
 * not at a clock time: the coordinator runs only now and then, and the first start after a long
 * pause takes one at once.
 *
 * A scheduled snapshot is a coordinator-made step (origin `snapshot`, id `HOST/snapshot-<UTC
 * stamp>`) created in the pass that finds it due and released in the same pass. Its record in the
 * store is what says "one is in flight" and "the newest was taken at", so a restarted coordinator
 * (or the replica that takes over) neither loses nor repeats one. A failure is final for that step
 * (no backoff retries): the next due time creates a fresh step, which cancels the failed one.
 */
import type { EtcdBackupSpec } from '../../generator/spec/etcd-backup.ts';
import type { ClusterSpec } from '../../generator/spec/types.ts';
import { SNAPSHOT_STEP_BOUND_MS } from '../../protocol/backup.ts';
import { createStepRecord, type StepRecord } from '../model.ts';
import { hostReady, indexedSteps, type Pass, rec, stepDone } from '../scheduler-pass.ts';

/** `20261206T053500Z`: a UTC time in snapshot and step ids (sorts by time). */
export function utcStamp(at: number): string {
  return new Date(at)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** When the next snapshot is due (ms since the epoch), or undefined without spec.etcd.backup. */
export function nextSnapshotAt(backup: EtcdBackupSpec | undefined, newestTakenAt: number | undefined): number | undefined {
  if (!backup) return undefined;
  return newestTakenAt === undefined ? Number.NEGATIVE_INFINITY : newestTakenAt + backup.intervalSeconds * 1000;
}

export function snapshotDue(backup: EtcdBackupSpec | undefined, newestTakenAt: number | undefined, now: number): boolean {
  const at = nextSnapshotAt(backup, newestTakenAt);
  return at !== undefined && now >= at;
}

/**
 * The host that takes the snapshot: an etcd member with external etcd, a control plane with
 * stacked etcd — the first in spec order that `usable` accepts (done, enrolled, not removed: the
 * caller knows). Undefined when none is: no snapshot this time, and the caller says why.
 */
export function snapshotHost(spec: ClusterSpec, usable: (host: string) => boolean): string | undefined {
  const role = spec.topology === 'external-etcd' ? 'etcd' : 'control-plane';
  return spec.hosts.find((h) => h.role === role && usable(h.name))?.name;
}

/** The id of the scheduled snapshot step created for `host` at `now`. */
export function snapshotStepId(host: string, now: number): string {
  return `${host}/snapshot-${utcStamp(now)}`;
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** What the scheduled snapshot steps say: one in flight, and when the newest finished (taken or failed). */
export function snapshotHistory(steps: Iterable<StepRecord>): { inFlight?: StepRecord; newestFinishedAt?: number; failed: StepRecord[] } {
  let inFlight: StepRecord | undefined;
  let newest: number | undefined;
  const failed: StepRecord[] = [];
  for (const step of steps) {
    if (step.origin !== 'snapshot') continue;
    if (!FINISHED.has(step.state)) inFlight ??= step;
    // A cancelled one (its host was removed or rebuilt) took nothing and failed at nothing: not counted.
    else if (step.state !== 'cancelled' && step.finishedAt !== undefined) newest = Math.max(newest ?? step.finishedAt, step.finishedAt);
    if (step.state === 'failed') failed.push(step);
  }
  return { ...(inFlight ? { inFlight } : {}), ...(newest !== undefined ? { newestFinishedAt: newest } : {}), failed };
}

/**
 * A snapshot step still released this long after its release, on a host whose agent has not called
 * within liveAgentMs, is abandoned: its agent is gone (it bounds a snapshot's save, check and upload
 * to SNAPSHOT_STEP_BOUND_MS, 40 min; 20 min more for a slow start and its report). Without this a
 * dead agent would stop the schedule for good.
 */
export const SNAPSHOT_ABANDONED_MS = SNAPSHOT_STEP_BOUND_MS + 20 * 60_000;

/** The in-flight snapshot step when its agent abandoned it (see SNAPSHOT_ABANDONED_MS), else undefined. */
function abandonedSnapshot(step: StepRecord, now: number, live: (host: string) => boolean): StepRecord | undefined {
  if (step.releasedAt === undefined || now - step.releasedAt < SNAPSHOT_ABANDONED_MS) return undefined;
  return live(step.host) ? undefined : step;
}

/**
 * The scheduler's snapshot part: when spec.etcd.backup is set, the rollout is finished (every plan
 * step done), no snapshot step is in flight and the newest finished one is older than the interval,
 * creates one on the host snapshotHost picks among idle, live agents (enrolled, approved, not
 * removed, nothing released, seen within `liveAgentMs` — an agent that exited would never take it),
 * cancelling the failed ones it replaces and an abandoned one in flight. Otherwise asks to be woken
 * when it falls due.
 */
export function planSnapshot(pass: Pass): void {
  const backup = pass.plan.spec.etcd.backup;
  if (!backup) return;
  if (!pass.plan.steps.every((s) => stepDone(pass, s.id))) return;
  const history = snapshotHistory(indexedSteps(pass, 'dynamic'));
  const live = (h: string) => (pass.snapshot.lastSeen[h] ?? Number.NEGATIVE_INFINITY) >= pass.now - pass.config.liveAgentMs;
  const abandoned = history.inFlight && abandonedSnapshot(history.inFlight, pass.now, live);
  if (history.inFlight && !abandoned) {
    if (history.inFlight.releasedAt !== undefined) pass.wake.push(history.inFlight.releasedAt + SNAPSHOT_ABANDONED_MS);
    return;
  }
  const due = nextSnapshotAt(backup, history.newestFinishedAt)!;
  if (pass.now < due) {
    pass.wake.push(due);
    return;
  }
  const host = snapshotHost(pass.plan.spec, (h) => hostReady(pass, h) && !pass.busyHosts.has(h) && live(h));
  if (!host) return;
  const seq = pass.nextSeq++;
  const step = createStepRecord(snapshotStepId(host, pass.now), host, 'etcd-snapshot', 'snapshot', seq);
  const replaced = [...history.failed, ...(abandoned ? [abandoned] : [])].map((r) => ({
    ...(rec(pass, r.id) ?? r),
    state: 'cancelled' as const,
  }));
  pass.working.set(step.id, step);
  for (const r of replaced) pass.working.set(r.id, r);
  pass.decisions.push({ type: 'create-steps', steps: [step], ...(replaced.length > 0 ? { replaces: replaced } : {}) });
}
