/**
 * The agent as a pure state machine: `transition(state, event) → { state, effects }`. It never
 * touches the world; effects are data that the loop (`run.ts`) performs, and the loop turns what
 * happened into the next event. Every failure path leads to a bounded, jittered backoff or to a
 * report — never to an exit that systemd would turn into a crash loop.
 */
import { type EndpointTarget, type Role, STEP_KINDS } from '../protocol/steps.ts';
import { type EnrollResponse, ERROR_CODES, type ReleasedStep, type ReportRequest } from '../protocol/wire.ts';
import type { LogLevel } from './io.ts';

export {
  classifyEnrollResponse,
  classifyNextResponse,
  classifyReportResponse,
  isKnownStepKind,
  protocolErrorFrom,
} from './responses.ts';

/** What the agent knows after enrollment (persisted as <stateDir>/session.json). */
export interface Session {
  host: string;
  role: Role;
  kubernetesVersion: string;
  endpoint: EndpointTarget;
  /** coordinator clock − agent clock at enrollment, ms. */
  serverSkewMs: number;
  /** The plan starts with prepare-host: the package checks wait for it (preflight.ts). */
  prepareHost?: boolean;
  /**
   * Stay after `done`, idle, for day-2 steps (spec.day2.keepAgent, the config file's `keepAgent`;
   * ADR 0033). Set by the loop from the config file, never trusted from the coordinator.
   */
  keepAgent?: boolean;
}

export type AgentState =
  | { phase: 'starting' }
  | { phase: 'enrolling'; failures: number }
  | { phase: 'enroll-backoff'; failures: number }
  | { phase: 'preflight'; session: Session; waits: number }
  | { phase: 'preflight-wait'; session: Session; waits: number }
  | { phase: 'waiting'; session: Session; failures: number }
  | { phase: 'poll-backoff'; session: Session; failures: number }
  | { phase: 'running-step'; session: Session; step: ReleasedStep }
  | { phase: 'reporting'; session: Session; report: ReportRequest; failures: number; recheck?: boolean }
  | { phase: 'report-backoff'; session: Session; report: ReportRequest; failures: number; recheck?: boolean }
  | { phase: 'idle'; session: Session; failures: number }
  | { phase: 'idle-polling'; session: Session; failures: number }
  | { phase: 'done' }
  | { phase: 'disabled'; reason: string };
export type AgentPhase = AgentState['phase'];

export type AgentEvent =
  | { type: 'config-loaded'; session: Session | null; alreadyDone: boolean }
  | { type: 'config-invalid'; message: string }
  | { type: 'enroll-ok'; response: EnrollResponse; agentClock: number; keepAgent?: boolean }
  | { type: 'enroll-refused'; status: number; code: string; message: string }
  | { type: 'transport-error'; message: string }
  | { type: 'protocol-error'; status: number; code: string; message: string }
  | { type: 'preflight-ok' }
  | { type: 'preflight-wait'; check: string; message: string }
  | { type: 'next-step'; step: ReleasedStep }
  | { type: 'next-unknown-step'; stepId: string; attempt: number; kind: string; startedAt: number }
  | { type: 'next-nothing'; waitingFor?: string; elapsedMs: number }
  | { type: 'next-done' }
  | { type: 'step-finished'; report: ReportRequest }
  | { type: 'report-accepted' }
  | { type: 'timer' };
export type AgentEventType = AgentEvent['type'];

export type Effect =
  | { type: 'load-config' }
  | { type: 'enroll' }
  | { type: 'save-session'; session: Session }
  | { type: 'preflight'; session: Session }
  | { type: 'heartbeat'; phase: string; message?: string }
  | { type: 'request-next'; waitMs: number }
  | { type: 'run-step'; step: ReleasedStep }
  | { type: 'report'; report: ReportRequest }
  | { type: 'sleep'; ms: number; jitterMs: number }
  | { type: 'log'; level: LogLevel; event: string; fields?: Record<string, unknown> }
  | { type: 'disable-unit' }
  | { type: 'delete-credential' }
  | { type: 'write-state-file'; name: string; content: string; mode: number };

export interface Transition {
  state: AgentState;
  effects: Effect[];
}

/** Long-poll duration asked of the coordinator. */
export const LONG_POLL_MS = 25_000;
/** A 204 faster than this is treated as a misbehaving server: wait before polling again. */
export const MIN_POLL_INTERVAL_MS = 1_000;

export interface Backoff {
  baseMs: number;
  capMs: number;
}
export const BACKOFF = {
  enroll: { baseMs: 1_000, capMs: 300_000 },
  approval: { baseMs: 5_000, capMs: 30_000 },
  preflight: { baseMs: 2_000, capMs: 15_000 },
  poll: { baseMs: 500, capMs: 30_000 },
  report: { baseMs: 500, capMs: 30_000 },
  /** An idle agent whose coordinator does not answer (none runs between day-2 runs): minutes apart. */
  idle: { baseMs: 60_000, capMs: 900_000 },
} as const satisfies Record<string, Backoff>;

/** How long an idle agent waits between two polls while a coordinator answers that it has nothing. */
export const IDLE_POLL_MS = 60_000;
const idleSleep = (): Effect => ({ type: 'sleep', ms: IDLE_POLL_MS, jitterMs: IDLE_POLL_MS / 5 });

/** Exponential, capped; the loop adds up to `jitterMs` of randomness. */
export function backoffSleep(failures: number, backoff: Backoff): Effect {
  const exponent = Math.min(Math.max(failures - 1, 0), 20);
  const ms = Math.min(backoff.capMs, backoff.baseMs * 2 ** exponent);
  return { type: 'sleep', ms, jitterMs: Math.round(ms * 0.2) };
}

export const INITIAL_STATE: AgentState = { phase: 'starting' };

/** The effects the agent starts with. */
export function startEffects(): Effect[] {
  return [{ type: 'load-config' }];
}

const log = (level: LogLevel, event: string, fields?: Record<string, unknown>): Effect => ({
  type: 'log',
  level,
  event,
  ...(fields ? { fields } : {}),
});
const next = (): Effect => ({ type: 'request-next', waitMs: LONG_POLL_MS });

/** Report bodies for a step the agent cannot run. */
export function unknownStepReport(stepId: string, attempt: number, kind: string, startedAt: number, finishedAt: number): ReportRequest {
  return {
    stepId,
    attempt,
    outcome: 'failed',
    reason: 'unknown-step',
    permanent: true,
    logTail: `this agent does not know the step kind "${kind}" (known: ${STEP_KINDS.join(', ')}); upgrade the agent`,
    startedAt,
    finishedAt,
  };
}

/** Re-issues what the state is waiting on (used when an event arrives that the state does not expect). */
export function resumeEffects(state: AgentState): Effect[] {
  switch (state.phase) {
    case 'starting':
      return [{ type: 'load-config' }];
    case 'enrolling':
      return [{ type: 'enroll' }];
    case 'preflight':
      return [{ type: 'preflight', session: state.session }];
    case 'waiting':
      return [next()];
    case 'running-step':
      return [{ type: 'run-step', step: state.step }];
    case 'reporting':
      return [{ type: 'report', report: state.report }];
    case 'enroll-backoff':
      return [backoffSleep(state.failures, BACKOFF.enroll)];
    case 'preflight-wait':
      return [backoffSleep(state.waits, BACKOFF.preflight)];
    case 'poll-backoff':
      return [backoffSleep(state.failures, BACKOFF.poll)];
    case 'report-backoff':
      return [backoffSleep(state.failures, BACKOFF.report)];
    case 'idle':
      return state.failures > 0 ? [backoffSleep(state.failures, BACKOFF.idle)] : [idleSleep()];
    case 'idle-polling':
      return [next()];
    case 'done':
    case 'disabled':
      return [];
  }
}

export function isTerminal(state: AgentState): boolean {
  return state.phase === 'done' || state.phase === 'disabled';
}

function unexpected(state: AgentState, event: AgentEvent): Transition {
  return { state, effects: [log('warn', 'unexpected-event', { phase: state.phase, event: event.type }), ...resumeEffects(state)] };
}

function sessionFrom(response: EnrollResponse, agentClock: number, keepAgent: boolean): Session {
  return {
    host: response.host,
    role: response.role,
    kubernetesVersion: response.kubernetesVersion,
    endpoint: response.endpoint,
    serverSkewMs: response.serverTime - agentClock,
    ...(response.prepareHost === true ? { prepareHost: true } : {}),
    ...(keepAgent ? { keepAgent: true } : {}),
  };
}

/** A released step starts running (from waiting or idle). */
function startStep(session: Session, step: ReleasedStep): Transition {
  return {
    state: { phase: 'running-step', session, step },
    effects: [
      log('info', 'step-released', { stepId: step.id, kind: step.kind, attempt: step.attempt }),
      { type: 'heartbeat', phase: 'step', message: `${step.kind} ${step.id} attempt ${step.attempt}` },
      { type: 'run-step', step },
    ],
  };
}

/** A step kind this agent does not implement is refused with a permanent failed report (from waiting or idle). */
function refuseStep(session: Session, event: Extract<AgentEvent, { type: 'next-unknown-step' }>): Transition {
  const report = unknownStepReport(event.stepId, event.attempt, event.kind, event.startedAt, event.startedAt);
  return {
    state: { phase: 'reporting', session, report, failures: 0 },
    effects: [log('error', 'unknown-step', { stepId: event.stepId, kind: event.kind }), { type: 'report', report }],
  };
}

/**
 * The host is done. With keepAgent the agent stays, idle (ADR 0033): it still deletes the one-time
 * enrollment credential (its enrolled key signs from now on) and polls now and then for day-2
 * steps; without, it disables its unit and stops.
 */
function hostDone(session: Session): Transition {
  const finished: Effect[] = [
    log('info', 'host-done', { host: session.host }),
    { type: 'write-state-file', name: 'done', content: `${JSON.stringify({ host: session.host })}\n`, mode: 0o644 },
    { type: 'delete-credential' },
  ];
  if (session.keepAgent) {
    return {
      state: { phase: 'idle', session, failures: 0 },
      effects: [...finished, { type: 'heartbeat', phase: 'done' }, log('info', 'idle', { pollMs: IDLE_POLL_MS }), idleSleep()],
    };
  }
  return {
    state: { phase: 'done' },
    effects: [
      ...finished,
      { type: 'disable-unit' },
      // Last: a `done` heartbeat tells the operator the host has finished and cleaned up, so
      // powering it off or snapshotting it then loses nothing.
      { type: 'heartbeat', phase: 'done' },
    ],
  };
}

/**
 * Once a report is through (or dropped): ask for the next step — after a full preflight when the
 * report was a succeeded prepare-host (the package checks wait for it, preflight.ts).
 */
function afterReport(state: Extract<AgentState, { phase: 'reporting' }>, logged: Effect): Transition {
  if (state.recheck)
    return {
      state: { phase: 'preflight', session: state.session, waits: 0 },
      effects: [logged, { type: 'preflight', session: state.session }],
    };
  return { state: { phase: 'waiting', session: state.session, failures: 0 }, effects: [logged, next()] };
}

/** 4xx answers to a report that a retry cannot fix: drop the report and ask for the next step. */
const REPORT_DROP_STATUSES = new Set([400, 404, 409, 410, 413, 422]);

export function transition(state: AgentState, event: AgentEvent): Transition {
  if (isTerminal(state)) return { state, effects: [] };
  switch (state.phase) {
    case 'starting':
      if (event.type === 'config-invalid') {
        return {
          state: { phase: 'disabled', reason: event.message },
          effects: [log('error', 'config-invalid', { message: event.message })],
        };
      }
      if (event.type === 'config-loaded') {
        if (event.alreadyDone && event.session?.keepAgent)
          return {
            state: { phase: 'idle-polling', session: event.session, failures: 0 },
            effects: [log('info', 'already-done-idle', { host: event.session.host }), next()],
          };
        if (event.alreadyDone) return { state: { phase: 'done' }, effects: [log('info', 'already-done')] };
        if (event.session) {
          return {
            state: { phase: 'preflight', session: event.session, waits: 0 },
            effects: [
              log('info', 'resumed', { host: event.session.host, role: event.session.role }),
              { type: 'preflight', session: event.session },
            ],
          };
        }
        return { state: { phase: 'enrolling', failures: 0 }, effects: [log('info', 'enrolling'), { type: 'enroll' }] };
      }
      return unexpected(state, event);

    case 'enrolling':
      switch (event.type) {
        case 'enroll-ok': {
          const session = sessionFrom(event.response, event.agentClock, event.keepAgent === true);
          if (event.response.awaitingApproval) {
            const failures = state.failures + 1;
            return {
              state: { phase: 'enroll-backoff', failures },
              effects: [
                log('warn', 'awaiting-approval', {
                  host: event.response.host,
                  role: event.response.role,
                  hint: `run: kubeseed approve ${event.response.host}`,
                }),
                backoffSleep(failures, BACKOFF.approval),
              ],
            };
          }
          return {
            state: { phase: 'preflight', session, waits: 0 },
            effects: [
              { type: 'save-session', session },
              log('info', 'enrolled', { host: session.host, role: session.role }),
              { type: 'preflight', session },
            ],
          };
        }
        case 'enroll-refused': {
          const failures = state.failures + 1;
          return {
            state: { phase: 'enroll-backoff', failures },
            effects: [
              log('error', 'enroll-refused', { status: event.status, code: event.code, message: event.message }),
              backoffSleep(failures, BACKOFF.enroll),
            ],
          };
        }
        case 'transport-error':
        case 'protocol-error': {
          const failures = state.failures + 1;
          return {
            state: { phase: 'enroll-backoff', failures },
            effects: [log('warn', 'enroll-failed', { ...event }), backoffSleep(failures, BACKOFF.enroll)],
          };
        }
        default:
          return unexpected(state, event);
      }

    case 'enroll-backoff':
      if (event.type === 'timer') return { state: { phase: 'enrolling', failures: state.failures }, effects: [{ type: 'enroll' }] };
      return unexpected(state, event);

    case 'preflight':
      if (event.type === 'preflight-ok') {
        return {
          state: { phase: 'waiting', session: state.session, failures: 0 },
          effects: [log('info', 'preflight-ok'), { type: 'heartbeat', phase: 'ready', message: 'preflight passed' }, next()],
        };
      }
      if (event.type === 'preflight-wait') {
        const waits = state.waits + 1;
        return {
          state: { phase: 'preflight-wait', session: state.session, waits },
          effects: [
            log('warn', 'preflight-wait', { check: event.check, message: event.message, waits }),
            { type: 'heartbeat', phase: 'preflight', message: `${event.check}: ${event.message}` },
            backoffSleep(waits, BACKOFF.preflight),
          ],
        };
      }
      return unexpected(state, event);

    case 'preflight-wait':
      if (event.type === 'timer')
        return {
          state: { phase: 'preflight', session: state.session, waits: state.waits },
          effects: [{ type: 'preflight', session: state.session }],
        };
      return unexpected(state, event);

    case 'waiting':
      switch (event.type) {
        case 'next-step':
          return startStep(state.session, event.step);
        case 'next-unknown-step':
          return refuseStep(state.session, event);
        case 'next-nothing':
          if (event.elapsedMs < MIN_POLL_INTERVAL_MS) {
            return {
              state: { phase: 'poll-backoff', session: state.session, failures: 1 },
              effects: [
                log('debug', 'nothing-yet', { waitingFor: event.waitingFor }),
                { type: 'sleep', ms: MIN_POLL_INTERVAL_MS, jitterMs: 200 },
              ],
            };
          }
          return { state: { ...state, failures: 0 }, effects: [log('debug', 'nothing-yet', { waitingFor: event.waitingFor }), next()] };
        case 'next-done':
          return hostDone(state.session);
        case 'transport-error':
        case 'protocol-error': {
          const failures = state.failures + 1;
          const level = event.type === 'protocol-error' && event.status >= 400 && event.status < 500 ? 'error' : 'warn';
          return {
            state: { phase: 'poll-backoff', session: state.session, failures },
            effects: [log(level, 'next-failed', { ...event, failures }), backoffSleep(failures, BACKOFF.poll)],
          };
        }
        default:
          return unexpected(state, event);
      }

    case 'poll-backoff':
      if (event.type === 'timer')
        return { state: { phase: 'waiting', session: state.session, failures: state.failures }, effects: [next()] };
      return unexpected(state, event);

    case 'running-step':
      if (event.type === 'step-finished') {
        const r = event.report;
        // The host is prepared now: the package checks run before the next step (preflight.ts).
        const recheck = state.step.kind === 'prepare-host' && r.outcome === 'succeeded';
        return {
          state: { phase: 'reporting', session: state.session, report: r, failures: 0, ...(recheck ? { recheck } : {}) },
          effects: [
            log(r.outcome === 'failed' ? 'error' : 'info', 'step-finished', {
              stepId: r.stepId,
              attempt: r.attempt,
              outcome: r.outcome,
              reason: r.reason,
            }),
            { type: 'report', report: r },
          ],
        };
      }
      return unexpected(state, event);

    case 'reporting':
      switch (event.type) {
        case 'report-accepted':
          return afterReport(state, log('info', 'report-accepted', { stepId: state.report.stepId }));
        case 'protocol-error':
        case 'transport-error': {
          if (event.type === 'protocol-error' && REPORT_DROP_STATUSES.has(event.status)) {
            const stale = event.code === ERROR_CODES.staleAttempt;
            return afterReport(
              state,
              log(stale ? 'warn' : 'error', stale ? 'report-stale' : 'report-rejected', {
                stepId: state.report.stepId,
                status: event.status,
                code: event.code,
              }),
            );
          }
          // 401/429/5xx and transport errors are retried with the same report.
          const failures = state.failures + 1;
          return {
            state: {
              phase: 'report-backoff',
              session: state.session,
              report: state.report,
              failures,
              ...(state.recheck ? { recheck: true } : {}),
            },
            effects: [log('warn', 'report-failed', { ...event, failures }), backoffSleep(failures, BACKOFF.report)],
          };
        }
        default:
          return unexpected(state, event);
      }

    case 'report-backoff':
      if (event.type === 'timer') return { state: { ...state, phase: 'reporting' }, effects: [{ type: 'report', report: state.report }] };
      return unexpected(state, event);

    case 'idle':
      if (event.type === 'timer') return { state: { ...state, phase: 'idle-polling' }, effects: [next()] };
      return unexpected(state, event);

    case 'idle-polling':
      switch (event.type) {
        // A day-2 step, or the coordinator held the long poll (day-2 work in progress): as in the rollout.
        case 'next-step':
        case 'next-unknown-step':
        case 'next-nothing':
          return transition({ phase: 'waiting', session: state.session, failures: 0 }, event);
        // Nothing for this host: ask again in a minute.
        case 'next-done':
          return { state: { phase: 'idle', session: state.session, failures: 0 }, effects: [idleSleep()] };
        case 'transport-error':
        case 'protocol-error': {
          // No coordinator between day-2 runs is the normal case: a slow, bounded back-off, quietly.
          const failures = state.failures + 1;
          return {
            state: { phase: 'idle', session: state.session, failures },
            effects: [log('debug', 'idle-no-coordinator', { ...event, failures }), backoffSleep(failures, BACKOFF.idle)],
          };
        }
        default:
          return unexpected(state, event);
      }

    case 'done':
    case 'disabled':
      return { state, effects: [] };
  }
}
