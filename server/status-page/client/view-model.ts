/**
 * Pure view model of the status page: turns the `/v1/status` document into what the page draws
 * (host state words, progress counts, the log to show, Gantt bar positions, time labels). No DOM,
 * no clock: `now` is passed in (server time), so the same input gives the same output and the
 * functions are unit-tested in Node.
 */
import type { HostStatus, RolloutStatus, StepStatus } from '../../coordinator.ts';
import { certificateWarning, describeFailure, expiryDate, expiryLeft, shortStep } from '../../model.ts';
import { deriveHostState, type HostState } from '../../rollout/host-state.ts';

export type { HostStatus, RolloutStatus, StepStatus };
export { deriveHostState, describeFailure, type HostState, shortStep };

export const HOST_STATE_LABEL: Record<HostState, string> = {
  removed: 'removed',
  failed: 'failed',
  done: 'done',
  approval: 'needs approval',
  'not-enrolled': 'not enrolled',
  running: 'running',
  retrying: 'retrying',
  waiting: 'waiting',
};

/** Steps that count toward a host's progress: everything but cancelled ones. */
export function countSteps(steps: StepStatus[]): { done: number; total: number } {
  const live = steps.filter((s) => s.state !== 'cancelled');
  return { done: live.filter((s) => s.state === 'succeeded').length, total: live.length };
}

export interface Progress {
  hosts: number;
  enrolled: number;
  doneHosts: number;
  failedHosts: number;
  steps: number;
  doneSteps: number;
  outcome: 'done' | 'failed' | 'running';
}

export function summarizeProgress(status: RolloutStatus): Progress {
  let steps = 0;
  let doneSteps = 0;
  for (const host of status.hosts) {
    if (host.removed) continue;
    const c = countSteps(host.steps);
    steps += c.total;
    doneSteps += c.done;
  }
  return {
    hosts: status.counts.hosts,
    enrolled: status.counts.enrolled,
    doneHosts: status.counts.done,
    failedHosts: status.counts.failed,
    steps,
    doneSteps,
    outcome: status.counts.failed > 0 ? 'failed' : status.done ? 'done' : 'running',
  };
}

/** The step whose report the host card shows: the running one, else the latest failure, else the latest report. */
export function pickReportedStep(host: HostStatus): StepStatus | undefined {
  const current = host.steps.find((s) => s.id === host.currentStep && s.lastReport);
  if (current) return current;
  const byTime = host.steps.filter((s) => s.lastReport).sort((a, b) => (b.lastReport?.at ?? 0) - (a.lastReport?.at ?? 0));
  return byTime.find((s) => s.lastReport?.outcome === 'failed') ?? byTime[0];
}

/** The gate in words, without a leading "waiting for" (the page's label already says it). */
export function gateText(waitingFor: string): string {
  return waitingFor.replace(/^waiting for /i, '');
}

/** The last `max` non-empty lines of a log tail. */
export function lastLines(text: string, max: number): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(Math.max(0, lines.length - max));
}

/** When the host's current piece of work started: the current step's release, else null. */
export function currentSince(host: HostStatus): number | null {
  const step = host.steps.find((s) => s.id === host.currentStep);
  return step?.releasedAt ?? null;
}

/** `1h02m`, `3m05s`, `42s`; negative durations (clock skew) show as 0s. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

export interface GanttBar {
  id: string;
  label: string;
  state: StepStatus['state'];
  /** Percent of the time axis. */
  left: number;
  width: number;
  start: number;
  end: number;
  running: boolean;
  title: string;
}

export interface GanttRow {
  host: string;
  role: string;
  state: HostState;
  bars: GanttBar[];
}

export interface Gantt {
  start: number;
  end: number;
  rows: GanttRow[];
  ticks: { left: number; label: string }[];
}

const TICK_STEPS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400].map((s) => s * 1000);

/** Axis ticks: the smallest "nice" interval giving at most `max` ticks over the span. */
export function computeTicks(span: number, max = 6): { at: number; label: string }[] {
  if (span <= 0) return [{ at: 0, label: '0s' }];
  const step = TICK_STEPS_MS.find((s) => span / s <= max) ?? Math.ceil(span / max / 3_600_000) * 3_600_000;
  const ticks: { at: number; label: string }[] = [];
  for (let at = 0; at <= span; at += step) ticks.push({ at, label: at === 0 ? '0s' : formatDuration(at) });
  return ticks;
}

/**
 * One row per host that has released a step, ordered by its first release (so the rollout order
 * reads top to bottom), then the hosts that have not started. Bars run from `releasedAt` to
 * `finishedAt`, or to `now` while the step is still out.
 */
export function layoutGantt(status: RolloutStatus, now: number): Gantt {
  const all = [...status.hosts.flatMap((h) => h.steps), ...status.coordinatorSteps];
  const starts = all.map((s) => s.releasedAt).filter((t): t is number => t !== undefined);
  const start = starts.length > 0 ? Math.min(...starts) : now;
  let end = start;
  for (const s of all) {
    if (s.releasedAt === undefined) continue;
    end = Math.max(end, barEnd(s, now));
  }
  const span = Math.max(end - start, 1000);
  const firstRelease = (h: HostStatus) => Math.min(...h.steps.map((s) => s.releasedAt ?? Number.POSITIVE_INFINITY));
  const indexed = status.hosts.map((h, i) => ({ h, i, first: firstRelease(h) }));
  indexed.sort((a, b) => a.first - b.first || a.i - b.i);
  const rows: GanttRow[] = indexed.map(({ h }) => ({
    host: h.name,
    role: h.role,
    state: deriveHostState(h),
    bars: h.steps
      .filter((s) => s.releasedAt !== undefined)
      .map((s) => {
        const from = s.releasedAt!;
        const to = barEnd(s, now);
        const running = s.state === 'released' || s.state === 'running';
        return {
          id: s.id,
          label: shortStep(s.id),
          state: s.state,
          left: ((from - start) / span) * 100,
          width: Math.max(((to - from) / span) * 100, 0),
          start: from,
          end: to,
          running,
          title: `${s.id} · ${s.state}${s.attempt > 1 ? ` · attempt ${s.attempt}` : ''} · ${formatDuration(to - from)}`,
        };
      }),
  }));
  return {
    start,
    end: start + span,
    rows,
    ticks: computeTicks(span).map((t) => ({ left: (t.at / span) * 100, label: t.label })),
  };
}

function barEnd(step: StepStatus, now: number): number {
  const running = step.state === 'released' || step.state === 'running';
  if (running || step.finishedAt === undefined) return Math.max(now, step.releasedAt ?? now);
  return step.finishedAt;
}

export type HostFilter = 'all' | HostState;

/** Counts per badge word, for the filter chips. */
export function countByState(hosts: HostStatus[]): Record<HostState, number> {
  const counts: Record<HostState, number> = {
    removed: 0,
    failed: 0,
    done: 0,
    approval: 0,
    'not-enrolled': 0,
    running: 0,
    retrying: 0,
    waiting: 0,
  };
  for (const h of hosts) counts[deriveHostState(h)]++;
  return counts;
}

export interface CertificateSummary {
  date: string;
  file: string;
  left: string;
  /** `warn` below CERTIFICATE_WARNING_DAYS, `expired` past notAfter. */
  level: 'ok' | 'warn' | 'expired';
}

/** The earliest certificate expiry of the rollout, for the summary; null when the coordinator does not know it. */
export function certificateSummary(status: RolloutStatus, now: number): CertificateSummary | null {
  const e = status.certificateExpiry;
  if (!e) return null;
  const level = e.notAfter <= now ? 'expired' : certificateWarning(e, now) ? 'warn' : 'ok';
  return { date: expiryDate(e.notAfter), file: e.file, left: expiryLeft(e.notAfter, now), level };
}

/**
 * One warning per host whose certificates expire within CERTIFICATE_WARNING_DAYS, and the
 * overall one first when no host lists that certificate (the coordinator's own TLS).
 */
export function certificateWarnings(status: RolloutStatus, now: number): string[] {
  const perHost = status.hosts.flatMap((h) => {
    const warning = h.removed ? null : certificateWarning(h.certificateExpiry, now);
    return warning ? [{ file: h.certificateExpiry!.file, text: `${h.name}: ${warning}` }] : [];
  });
  const overall = certificateWarning(status.certificateExpiry, now);
  const covered = perHost.some((w) => w.file === status.certificateExpiry?.file);
  return [...(overall && !covered ? [overall] : []), ...perHost.map((w) => w.text)];
}

/**
 * Which coordinator replica answered, for `kubeseed status` and the page: null for the sole
 * coordinator of a journal (nothing to say); on etcd its id and role, and a standby names the leader.
 */
export function replicaText(replica: RolloutStatus['coordinator']): string | null {
  if (!replica || (replica.store !== 'etcd' && replica.role === 'leader')) return null;
  if (replica.role === 'leader') return `answered by ${replica.id}, the leader (store: ${replica.store})`;
  const leader = replica.leader
    ? `the leader is ${replica.leader.id}${replica.leader.url ? ` at ${replica.leader.url}` : ''}`
    : 'no leader known yet';
  return `answered by ${replica.id}, a standby (store: ${replica.store}; ${leader})`;
}
