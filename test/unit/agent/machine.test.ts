import { describe, expect, it } from 'vitest';
import {
  type AgentEvent,
  type AgentState,
  BACKOFF,
  backoffSleep,
  classifyEnrollResponse,
  classifyNextResponse,
  classifyReportResponse,
  type Effect,
  INITIAL_STATE,
  isTerminal,
  LONG_POLL_MS,
  type Session,
  startEffects,
  transition,
} from '../../../agent/machine.ts';
import type { EnrollResponse, ReleasedStep, ReportRequest } from '../../../protocol/wire.ts';

const session: Session = {
  host: 'cp-1',
  role: 'control-plane',
  kubernetesVersion: '1.37.1',
  endpoint: { host: 'api.example', port: 6443, vip: '10.0.0.10' },
  serverSkewMs: 0,
};
const enroll: EnrollResponse = {
  host: 'cp-1',
  role: 'control-plane',
  serverTime: 10_000,
  awaitingApproval: false,
  kubernetesVersion: '1.37.1',
  endpoint: session.endpoint,
};
const step: ReleasedStep = {
  id: 'cp-1-init',
  kind: 'kubeadm-init',
  host: 'cp-1',
  attempt: 1,
  files: [],
  params: { nodeName: 'cp-1', kubeadmConfigPath: '/etc/kubeseed/kubeadm/init.yaml', endpoint: { host: 'api.example', port: 6443 } },
  redact: ['abcdef.0123456789abcdef'],
};
const report: ReportRequest = { stepId: 'cp-1-init', attempt: 1, outcome: 'succeeded', logTail: '', startedAt: 1, finishedAt: 2 };

const STATES: Record<AgentState['phase'], AgentState> = {
  starting: { phase: 'starting' },
  enrolling: { phase: 'enrolling', failures: 0 },
  'enroll-backoff': { phase: 'enroll-backoff', failures: 2 },
  preflight: { phase: 'preflight', session, waits: 0 },
  'preflight-wait': { phase: 'preflight-wait', session, waits: 1 },
  waiting: { phase: 'waiting', session, failures: 0 },
  'poll-backoff': { phase: 'poll-backoff', session, failures: 1 },
  'running-step': { phase: 'running-step', session, step },
  reporting: { phase: 'reporting', session, report, failures: 0 },
  'report-backoff': { phase: 'report-backoff', session, report, failures: 1 },
  idle: { phase: 'idle', session: { ...session, keepAgent: true }, failures: 0 },
  'idle-polling': { phase: 'idle-polling', session: { ...session, keepAgent: true }, failures: 0 },
  done: { phase: 'done' },
  disabled: { phase: 'disabled', reason: 'x' },
};

const EVENTS: Record<AgentEvent['type'], AgentEvent> = {
  'config-loaded': { type: 'config-loaded', session: null, alreadyDone: false },
  'config-invalid': { type: 'config-invalid', message: 'bad json' },
  'enroll-ok': { type: 'enroll-ok', response: enroll, agentClock: 4_000 },
  'enroll-refused': { type: 'enroll-refused', status: 403, code: 'CREDENTIAL_SPENT', message: 'spent' },
  'transport-error': { type: 'transport-error', message: 'ECONNREFUSED' },
  'protocol-error': { type: 'protocol-error', status: 503, code: 'UNAVAILABLE', message: 'busy' },
  'preflight-ok': { type: 'preflight-ok' },
  'preflight-wait': { type: 'preflight-wait', check: 'clock', message: '45 s ahead' },
  'next-step': { type: 'next-step', step },
  'next-unknown-step': { type: 'next-unknown-step', stepId: 's9', attempt: 3, kind: 'kubeadm-upgrade', startedAt: 7 },
  'next-nothing': { type: 'next-nothing', elapsedMs: 25_000, waitingFor: 'first control plane' },
  'next-done': { type: 'next-done' },
  'step-finished': { type: 'step-finished', report },
  'report-accepted': { type: 'report-accepted' },
  timer: { type: 'timer' },
};

/** Effects the loop answers with an event. */
const ANSWERING = new Set<Effect['type']>(['load-config', 'enroll', 'preflight', 'request-next', 'run-step', 'report', 'sleep']);
const types = (effects: Effect[]) => effects.map((e) => e.type);

/** The expected phase for every handled (state, event); anything absent is "unexpected": same state, re-issue. */
const TABLE: Array<[AgentState['phase'], AgentEvent['type'], AgentState['phase'], Effect['type'][]]> = [
  ['starting', 'config-loaded', 'enrolling', ['log', 'enroll']],
  ['starting', 'config-invalid', 'disabled', ['log']],
  ['enrolling', 'enroll-ok', 'preflight', ['save-session', 'log', 'preflight']],
  ['enrolling', 'enroll-refused', 'enroll-backoff', ['log', 'sleep']],
  ['enrolling', 'transport-error', 'enroll-backoff', ['log', 'sleep']],
  ['enrolling', 'protocol-error', 'enroll-backoff', ['log', 'sleep']],
  ['enroll-backoff', 'timer', 'enrolling', ['enroll']],
  ['preflight', 'preflight-ok', 'waiting', ['log', 'heartbeat', 'request-next']],
  ['preflight', 'preflight-wait', 'preflight-wait', ['log', 'heartbeat', 'sleep']],
  ['preflight-wait', 'timer', 'preflight', ['preflight']],
  ['waiting', 'next-step', 'running-step', ['log', 'heartbeat', 'run-step']],
  ['waiting', 'next-unknown-step', 'reporting', ['log', 'report']],
  ['waiting', 'next-nothing', 'waiting', ['log', 'request-next']],
  // The done heartbeat comes last: the operator (and the VM test) may power the machine off when it arrives.
  ['waiting', 'next-done', 'done', ['log', 'write-state-file', 'delete-credential', 'disable-unit', 'heartbeat']],
  ['waiting', 'transport-error', 'poll-backoff', ['log', 'sleep']],
  ['waiting', 'protocol-error', 'poll-backoff', ['log', 'sleep']],
  ['poll-backoff', 'timer', 'waiting', ['request-next']],
  ['running-step', 'step-finished', 'reporting', ['log', 'report']],
  ['reporting', 'report-accepted', 'waiting', ['log', 'request-next']],
  ['reporting', 'transport-error', 'report-backoff', ['log', 'sleep']],
  ['reporting', 'protocol-error', 'report-backoff', ['log', 'sleep']],
  ['report-backoff', 'timer', 'reporting', ['report']],
  // Idle after done (spec.day2.keepAgent, ADR 0033): poll now and then, run a released day-2 step.
  ['idle', 'timer', 'idle-polling', ['request-next']],
  ['idle-polling', 'next-step', 'running-step', ['log', 'heartbeat', 'run-step']],
  ['idle-polling', 'next-unknown-step', 'reporting', ['log', 'report']],
  // A coordinator that holds the long poll has day-2 work going on: keep long-polling as in the rollout.
  ['idle-polling', 'next-nothing', 'waiting', ['log', 'request-next']],
  ['idle-polling', 'next-done', 'idle', ['sleep']],
  ['idle-polling', 'transport-error', 'idle', ['log', 'sleep']],
  ['idle-polling', 'protocol-error', 'idle', ['log', 'sleep']],
];

describe('transition: the table', () => {
  it.each(TABLE)('%s + %s → %s', (phase, eventType, expected, effects) => {
    const t = transition(STATES[phase], EVENTS[eventType]);
    expect(t.state.phase).toBe(expected);
    expect(types(t.effects)).toEqual(effects);
  });

  const handled = new Set(TABLE.map(([p, e]) => `${p}|${e}`));
  const unexpectedPairs = Object.keys(STATES)
    .flatMap((p) => Object.keys(EVENTS).map((e) => [p, e] as [AgentState['phase'], AgentEvent['type']]))
    .filter(([p, e]) => !handled.has(`${p}|${e}`) && !['done', 'disabled'].includes(p));

  it.each(unexpectedPairs)('%s + %s (unexpected) keeps the state, warns and re-issues what it waits on', (phase, eventType) => {
    const t = transition(STATES[phase], EVENTS[eventType]);
    expect(t.state).toEqual(STATES[phase]);
    expect(t.effects[0]).toMatchObject({ type: 'log', level: 'warn', event: 'unexpected-event' });
    expect(t.effects.filter((e) => ANSWERING.has(e.type))).toHaveLength(1);
  });

  it.each(Object.keys(EVENTS) as AgentEvent['type'][])('terminal states ignore %s', (eventType) => {
    for (const phase of ['done', 'disabled'] as const) {
      expect(transition(STATES[phase], EVENTS[eventType])).toEqual({ state: STATES[phase], effects: [] });
    }
  });

  it('every non-terminal result carries exactly one effect the loop answers (no deadlock, no double event)', () => {
    for (const state of Object.values(STATES)) {
      for (const event of Object.values(EVENTS)) {
        const t = transition(state, event);
        if (isTerminal(t.state)) continue;
        expect(
          t.effects.filter((e) => ANSWERING.has(e.type)),
          `${state.phase} + ${event.type}`,
        ).toHaveLength(1);
      }
    }
  });
});

describe('transition: details', () => {
  it('starts by loading the config', () => {
    expect(INITIAL_STATE).toEqual({ phase: 'starting' });
    expect(startEffects()).toEqual([{ type: 'load-config' }]);
  });

  it('resumes a saved session straight into preflight, and a done host stays done', () => {
    expect(transition(STATES.starting, { type: 'config-loaded', session, alreadyDone: false }).state).toEqual({
      phase: 'preflight',
      session,
      waits: 0,
    });
    expect(transition(STATES.starting, { type: 'config-loaded', session, alreadyDone: true }).state).toEqual({ phase: 'done' });
  });

  it('computes the clock skew from the enroll response', () => {
    const t = transition(STATES.enrolling, EVENTS['enroll-ok']);
    expect(t.state).toMatchObject({ phase: 'preflight', session: { serverSkewMs: 6_000, host: 'cp-1' } });
    expect(t.effects[0]).toEqual({ type: 'save-session', session: { ...session, serverSkewMs: 6_000 } });
  });

  it('waits for approval without saving a session, and re-enrolls later', () => {
    const t = transition(STATES.enrolling, { type: 'enroll-ok', response: { ...enroll, awaitingApproval: true }, agentClock: 0 });
    expect(t.state).toEqual({ phase: 'enroll-backoff', failures: 1 });
    expect(types(t.effects)).toEqual(['log', 'sleep']);
    expect(t.effects[0]).toMatchObject({ level: 'warn', event: 'awaiting-approval' });
  });

  it('an unknown step kind becomes a failed, permanent report with reason unknown-step', () => {
    const t = transition(STATES.waiting, EVENTS['next-unknown-step']);
    expect(t.state).toMatchObject({
      phase: 'reporting',
      report: { stepId: 's9', attempt: 3, outcome: 'failed', reason: 'unknown-step', permanent: true },
    });
    expect(t.effects[1]).toMatchObject({ type: 'report', report: { reason: 'unknown-step' } });
  });

  it('a long-poll that came back too fast sleeps before polling again', () => {
    const t = transition(STATES.waiting, { type: 'next-nothing', elapsedMs: 5 });
    expect(t.state.phase).toBe('poll-backoff');
    expect(t.effects[1]).toEqual({ type: 'sleep', ms: 1_000, jitterMs: 200 });
    const slow = transition(STATES.waiting, { type: 'next-nothing', elapsedMs: LONG_POLL_MS });
    expect(slow.effects[1]).toEqual({ type: 'request-next', waitMs: LONG_POLL_MS });
  });

  it('a stale or rejected report is dropped (no retry loop); 401/429/5xx are retried', () => {
    for (const status of [400, 404, 409, 410, 422]) {
      const t = transition(STATES.reporting, { type: 'protocol-error', status, code: status === 409 ? 'STALE_ATTEMPT' : 'X', message: '' });
      expect(t.state.phase, String(status)).toBe('waiting');
    }
    expect(
      transition(STATES.reporting, { type: 'protocol-error', status: 409, code: 'STALE_ATTEMPT', message: '' }).effects[0],
    ).toMatchObject({ event: 'report-stale' });
    for (const status of [401, 429, 500, 503]) {
      const t = transition(STATES.reporting, { type: 'protocol-error', status, code: 'X', message: '' });
      expect(t.state, String(status)).toMatchObject({ phase: 'report-backoff', report, failures: 1 });
    }
  });

  it('a 4xx on next is logged as an error and backs off (never exits)', () => {
    const t = transition(STATES.waiting, { type: 'protocol-error', status: 401, code: 'UNAUTHORIZED', message: 'bad signature' });
    expect(t.state).toMatchObject({ phase: 'poll-backoff', failures: 1 });
    expect(t.effects[0]).toMatchObject({ level: 'error', event: 'next-failed' });
  });

  it('backoff grows exponentially, is capped and carries 20 % jitter', () => {
    expect(backoffSleep(1, BACKOFF.enroll)).toEqual({ type: 'sleep', ms: 1_000, jitterMs: 200 });
    expect(backoffSleep(3, BACKOFF.enroll)).toEqual({ type: 'sleep', ms: 4_000, jitterMs: 800 });
    expect(backoffSleep(50, BACKOFF.enroll)).toEqual({ type: 'sleep', ms: 300_000, jitterMs: 60_000 });
    let state: AgentState = STATES.enrolling;
    const sleeps: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t = transition(state, EVENTS['transport-error']);
      const s = t.effects.find((e) => e.type === 'sleep');
      if (s?.type === 'sleep') sleeps.push(s.ms);
      state = transition(t.state, EVENTS.timer).state;
    }
    expect(sleeps.slice(0, 4)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(Math.max(...sleeps)).toBe(300_000);
  });

  it('a report resets the poll failures; the next poll is immediate', () => {
    const t = transition({ ...STATES.reporting, failures: 4 } as AgentState, EVENTS['report-accepted']);
    expect(t.state).toEqual({ phase: 'waiting', session, failures: 0 });
  });
});

describe('classify responses', () => {
  it('next: 204, empty step, done, a step, an unknown kind, malformed bodies and errors', () => {
    expect(classifyNextResponse(204, null, 25_000, 1)).toEqual({ type: 'next-nothing', elapsedMs: 25_000 });
    expect(classifyNextResponse(200, { step: null, done: false, waitingFor: 'cp-1 init', serverTime: 1 }, 9, 1)).toEqual({
      type: 'next-nothing',
      elapsedMs: 9,
      waitingFor: 'cp-1 init',
    });
    expect(classifyNextResponse(200, { step: null, done: true, serverTime: 1 }, 9, 1)).toEqual({ type: 'next-done' });
    expect(classifyNextResponse(200, { step, done: false, serverTime: 1 }, 9, 1)).toEqual({ type: 'next-step', step });
    expect(classifyNextResponse(200, { step: { ...step, kind: 'kubeadm-upgrade' }, done: false }, 9, 42)).toEqual({
      type: 'next-unknown-step',
      stepId: step.id,
      attempt: 1,
      kind: 'kubeadm-upgrade',
      startedAt: 42,
    });
    expect(classifyNextResponse(200, { step: { ...step, files: undefined } }, 9, 1)).toMatchObject({
      type: 'protocol-error',
      code: 'BAD_BODY',
    });
    expect(classifyNextResponse(200, 'html', 9, 1)).toMatchObject({ type: 'protocol-error', code: 'BAD_BODY' });
    expect(classifyNextResponse(500, { error: 'x', code: 'INTERNAL', message: 'boom' }, 9, 1)).toEqual({
      type: 'protocol-error',
      status: 500,
      code: 'INTERNAL',
      message: 'boom',
    });
    expect(classifyNextResponse(502, null, 9, 1)).toEqual({ type: 'protocol-error', status: 502, code: 'HTTP_502', message: 'HTTP 502' });
  });

  it('enroll: ok, refused (4xx), retryable (429/5xx), malformed', () => {
    expect(classifyEnrollResponse(200, enroll, 5)).toEqual({ type: 'enroll-ok', response: enroll, agentClock: 5 });
    expect(classifyEnrollResponse(403, { code: 'IDENTITY_MISMATCH', message: 'cloned VM?' }, 5)).toEqual({
      type: 'enroll-refused',
      status: 403,
      code: 'IDENTITY_MISMATCH',
      message: 'cloned VM?',
    });
    expect(classifyEnrollResponse(429, { code: 'RATE_LIMITED', message: 'slow down' }, 5)).toMatchObject({
      type: 'protocol-error',
      status: 429,
    });
    expect(classifyEnrollResponse(200, { host: 'x' }, 5)).toMatchObject({ type: 'protocol-error', code: 'BAD_BODY' });
  });

  it('report: 2xx accepted, anything else a protocol error', () => {
    expect(classifyReportResponse(200, { accepted: true })).toEqual({ type: 'report-accepted' });
    expect(classifyReportResponse(409, { code: 'STALE_ATTEMPT', message: 'old' })).toEqual({
      type: 'protocol-error',
      status: 409,
      code: 'STALE_ATTEMPT',
      message: 'old',
    });
  });
});

describe('prepare-host: the package checks run once the host is prepared', () => {
  const prepare: ReleasedStep = {
    ...step,
    id: 'cp-1/prepare-host',
    kind: 'prepare-host',
    params: { nodeName: 'cp-1', prepareScript: '/var/lib/kubeseed/prepare.sh' },
    redact: [],
  };
  const finished = (outcome: 'succeeded' | 'failed'): AgentEvent => ({
    type: 'step-finished',
    report: { ...report, stepId: prepare.id, outcome },
  });

  it('a succeeded preparation, once reported, leads to a full preflight before the next step', () => {
    const reporting = transition({ phase: 'running-step', session, step: prepare }, finished('succeeded'));
    expect(reporting.state).toMatchObject({ phase: 'reporting', recheck: true });
    // A report that must be sent again keeps the flag.
    const backoff = transition(reporting.state, { type: 'transport-error', message: 'reset' });
    expect(backoff.state).toMatchObject({ phase: 'report-backoff', recheck: true });
    const again = transition(backoff.state, { type: 'timer' });
    const accepted = transition(again.state, { type: 'report-accepted' });
    expect(accepted.state.phase).toBe('preflight');
    expect(types(accepted.effects)).toEqual(['log', 'preflight']);
  });

  it('a failed preparation, or any other step, goes back to waiting for the next step', () => {
    const failed = transition({ phase: 'running-step', session, step: prepare }, finished('failed'));
    expect(transition(failed.state, { type: 'report-accepted' }).state.phase).toBe('waiting');
    const init = transition({ phase: 'running-step', session, step }, { type: 'step-finished', report });
    expect(transition(init.state, { type: 'report-accepted' }).state.phase).toBe('waiting');
  });
});
