/**
 * The agent's idle mode after `done` (spec.day2.keepAgent, ADR 0033): it keeps its enrolled key,
 * deletes the one-time enrollment credential, polls for day-2 steps with a slow bounded back-off
 * while no coordinator answers, and refuses any step kind it does not implement.
 */
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../agent/config.ts';
import { BACKOFF, classifyNextResponse, IDLE_POLL_MS, type Session, transition } from '../../../agent/machine.ts';
import { buildAgentConfig } from '../../../generator/plan/provision.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { EnrollResponse } from '../../../protocol/wire.ts';
import { BASE_SPEC } from '../spec/base-spec.ts';

const session: Session = {
  host: 'w-1',
  role: 'worker',
  kubernetesVersion: '1.37.1',
  endpoint: { host: 'api.example', port: 6443 },
  serverSkewMs: 0,
};
const kept: Session = { ...session, keepAgent: true };
const types = (effects: Array<{ type: string }>) => effects.map((e) => e.type);

describe('agent idle mode (day2.keepAgent)', () => {
  it('done with keepAgent: writes done, deletes the credential, never disables the unit, and waits to poll again', () => {
    const t = transition({ phase: 'waiting', session: kept, failures: 0 }, { type: 'next-done' });
    expect(t.state.phase).toBe('idle');
    expect(types(t.effects)).toEqual(['log', 'write-state-file', 'delete-credential', 'heartbeat', 'log', 'sleep']);
    expect(t.effects.at(-1)).toMatchObject({ type: 'sleep', ms: IDLE_POLL_MS });
    const off = transition({ phase: 'waiting', session, failures: 0 }, { type: 'next-done' });
    expect(off.state.phase).toBe('done');
    expect(types(off.effects)).toContain('disable-unit');
  });

  it('a restarted agent whose host is done goes back to idle polling with keepAgent, and stops without', () => {
    expect(transition({ phase: 'starting' }, { type: 'config-loaded', session: kept, alreadyDone: true }).state.phase).toBe('idle-polling');
    expect(transition({ phase: 'starting' }, { type: 'config-loaded', session, alreadyDone: true }).state.phase).toBe('done');
  });

  it('the session takes keepAgent from the config file (the enroll event), not from the coordinator', () => {
    const enroll = {
      host: 'w-1',
      role: 'worker',
      serverTime: 5,
      awaitingApproval: false,
      kubernetesVersion: '1.37.1',
      endpoint: session.endpoint,
    };
    const withKeep = transition(
      { phase: 'enrolling', failures: 0 },
      { type: 'enroll-ok', response: { ...enroll, keepAgent: false } as EnrollResponse, agentClock: 5, keepAgent: true },
    );
    expect(withKeep.effects.find((e) => e.type === 'save-session')).toMatchObject({ session: { keepAgent: true } });
    const without = transition(
      { phase: 'enrolling', failures: 0 },
      { type: 'enroll-ok', response: { ...enroll, keepAgent: true } as EnrollResponse, agentClock: 5 },
    );
    expect(without.effects.find((e) => e.type === 'save-session')).not.toMatchObject({ session: { keepAgent: true } });
  });

  it('no coordinator: the back-off grows slowly and stays bounded (minutes, at most 15)', () => {
    let state = transition({ phase: 'idle', session: kept, failures: 0 }, { type: 'timer' }).state;
    const sleeps: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t = transition(state, { type: 'transport-error', message: 'ECONNREFUSED' });
      const sleep = t.effects.find((e) => e.type === 'sleep') as { ms: number };
      sleeps.push(sleep.ms);
      state = transition(t.state, { type: 'timer' }).state;
      expect(state.phase).toBe('idle-polling');
    }
    expect(sleeps[0]).toBe(BACKOFF.idle.baseMs);
    expect(sleeps).toEqual([...sleeps].sort((a, b) => a - b));
    expect(Math.max(...sleeps)).toBe(BACKOFF.idle.capMs);
    // A coordinator that answers "nothing for you" resets the back-off to the plain idle interval.
    const answered = transition(state, { type: 'next-done' });
    expect(answered.state).toMatchObject({ phase: 'idle', failures: 0 });
    expect(answered.effects).toEqual([{ type: 'sleep', ms: IDLE_POLL_MS, jitterMs: IDLE_POLL_MS / 5 }]);
  });

  it('refuses a step kind it does not implement: a permanent failed report naming the kind, nothing run', () => {
    const event = classifyNextResponse(
      200,
      { step: { id: 's1', attempt: 1, kind: 'run-shell', host: 'w-1', files: [], params: {}, redact: [] } },
      10,
      100,
    );
    expect(event).toMatchObject({ type: 'next-unknown-step', kind: 'run-shell' });
    const t = transition({ phase: 'idle-polling', session: kept, failures: 0 }, event);
    expect(t.state.phase).toBe('reporting');
    expect(types(t.effects)).not.toContain('run-step');
    expect(t.effects.find((e) => e.type === 'report')).toMatchObject({
      report: { stepId: 's1', outcome: 'failed', reason: 'unknown-step', permanent: true },
    });
    // After the report the agent asks for its next step as in the rollout; `done` brings it back to idle.
    const back = transition({ phase: 'waiting', session: kept, failures: 0 }, { type: 'next-done' });
    expect(back.state.phase).toBe('idle');
  });
});

describe('spec.day2.keepAgent reaches the agent config', () => {
  it('defaults to true, false opts out, anything else is a located error', () => {
    const agentConfig = (text: string) => {
      const spec = parseSpec(text, 'c.yaml').spec;
      return parseAgentConfig(JSON.stringify(buildAgentConfig(spec, spec.hosts[0] ?? null)));
    };
    expect(agentConfig(BASE_SPEC).keepAgent).toBe(true);
    const optOut = BASE_SPEC.replace('  rollout:', '  day2:\n    keepAgent: false\n  rollout:');
    expect(agentConfig(optOut).keepAgent).toBe(false);
    const bad = BASE_SPEC.replace('  rollout:', '  day2:\n    keepAgent: maybe\n  rollout:');
    expect(() => parseSpec(bad, 'c.yaml')).toThrow(/c\.yaml:\d+:\d+: spec\.day2\.keepAgent/);
  });
});
