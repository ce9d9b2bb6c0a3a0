/**
 * Maps the coordinator's answers (enroll, next, report) to the state machine's events. Pure: the
 * loop measures times and passes them in.
 */
import { STEP_KINDS, type StepKind } from '../protocol/steps.ts';
import type { EnrollResponse, ReleasedStep } from '../protocol/wire.ts';
import type { AgentEvent } from './machine.ts';

/** Is `kind` one this agent can execute? */
export function isKnownStepKind(kind: unknown): kind is StepKind {
  return typeof kind === 'string' && (STEP_KINDS as readonly string[]).includes(kind);
}

/** Maps the answer to GET /v1/next to an event (pure; the loop measures `elapsedMs`). */
export function classifyNextResponse(status: number, body: unknown, elapsedMs: number, now: number): AgentEvent {
  if (status === 204) return { type: 'next-nothing', elapsedMs };
  if (status !== 200) return protocolErrorFrom(status, body);
  if (typeof body !== 'object' || body === null)
    return { type: 'protocol-error', status, code: 'BAD_BODY', message: 'next: body is not an object' };
  const b = body as Record<string, unknown>;
  if (b.done === true) return { type: 'next-done' };
  const step = b.step;
  if (step === null || step === undefined) {
    return { type: 'next-nothing', elapsedMs, ...(typeof b.waitingFor === 'string' ? { waitingFor: b.waitingFor } : {}) };
  }
  if (typeof step !== 'object') return { type: 'protocol-error', status, code: 'BAD_BODY', message: 'next: step is not an object' };
  const s = step as Record<string, unknown>;
  if (typeof s.id !== 'string' || typeof s.attempt !== 'number')
    return { type: 'protocol-error', status, code: 'BAD_BODY', message: 'next: step without id/attempt' };
  if (!isKnownStepKind(s.kind))
    return { type: 'next-unknown-step', stepId: s.id, attempt: s.attempt, kind: String(s.kind), startedAt: now };
  if (!Array.isArray(s.files) || typeof s.params !== 'object' || s.params === null || !Array.isArray(s.redact)) {
    return { type: 'protocol-error', status, code: 'BAD_BODY', message: `next: step ${s.id} lacks files/params/redact` };
  }
  return { type: 'next-step', step: step as ReleasedStep };
}

export function protocolErrorFrom(status: number, body: unknown): AgentEvent {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  return {
    type: 'protocol-error',
    status,
    code: typeof b.code === 'string' ? b.code : `HTTP_${status}`,
    message: typeof b.message === 'string' ? b.message.slice(0, 500) : `HTTP ${status}`,
  };
}

export function classifyEnrollResponse(status: number, body: unknown, agentClock: number): AgentEvent {
  if (status === 200 || status === 201) {
    const b = body as Partial<EnrollResponse> | null;
    if (!b || typeof b.host !== 'string' || typeof b.role !== 'string' || typeof b.serverTime !== 'number' || !b.endpoint) {
      return { type: 'protocol-error', status, code: 'BAD_BODY', message: 'enroll: response lacks host/role/serverTime/endpoint' };
    }
    return { type: 'enroll-ok', response: b as EnrollResponse, agentClock };
  }
  if (status >= 400 && status < 500 && status !== 429) {
    const e = protocolErrorFrom(status, body) as Extract<AgentEvent, { type: 'protocol-error' }>;
    return { type: 'enroll-refused', status, code: e.code, message: e.message };
  }
  return protocolErrorFrom(status, body);
}

export function classifyReportResponse(status: number, body: unknown): AgentEvent {
  if (status >= 200 && status < 300) return { type: 'report-accepted' };
  return protocolErrorFrom(status, body);
}
