/**
 * Log tails as the coordinator keeps them: bounded to their end with the cut counted, and trimmed
 * further once their host has finished (issue 19: the store grows with what is still useful).
 */
import { describe, expect, it } from 'vitest';
import type { ReleasedStep } from '../../../protocol/index.ts';
import { Coordinator } from '../../../server/coordinator.ts';
import { boundLogTail, DONE_LOG_TAIL_LIMIT, LOG_TAIL_LIMIT } from '../../../server/log-tail.ts';
import type { StepRecord } from '../../../server/model.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, enrollBody, FakeClock, FakeKubernetes, makeInputs } from './support.ts';

const cutOf = (tail: string) => Number(/^\[…(\d+) characters cut\]\n/.exec(tail)?.[1] ?? 0);
const bodyOf = (tail: string) => tail.replace(/^\[…\d+ characters cut\]\n/, '');

describe('boundLogTail', () => {
  const log = Array.from({ length: 4000 }, (_, i) => `line ${i}`).join('\n');

  it('keeps a short log as it is, and the end of a long one within the limit, counting what it cut', () => {
    expect(boundLogTail('short')).toBe('short');
    const tail = boundLogTail(log, 1000);
    expect(tail.length).toBeLessThanOrEqual(1000);
    expect(log.endsWith(bodyOf(tail))).toBe(true);
    expect(cutOf(tail) + bodyOf(tail).length).toBe(log.length);
    expect(boundLogTail(log).length).toBeLessThanOrEqual(LOG_TAIL_LIMIT);
  });

  it('bounding a bounded tail again keeps it, or cuts more and adds up the count', () => {
    const once = boundLogTail(log, 5000);
    expect(boundLogTail(once, 5000)).toBe(once);
    const twice = boundLogTail(once, 700);
    expect(twice.length).toBeLessThanOrEqual(700);
    expect(cutOf(twice) + bodyOf(twice).length).toBe(log.length);
    expect(log.endsWith(bodyOf(twice))).toBe(true);
  });
});

describe('a finished host', () => {
  it("has its steps' log tails trimmed; a host still in the rollout keeps them whole", async () => {
    const plan = makePlan({ workers: 1 });
    const store = new MemoryStore();
    const c = new Coordinator(makeInputs(plan, { clock: new FakeClock() }), { store, kubernetes: new FakeKubernetes() });
    await c.start();
    for (const [i, host] of ['cp1', 'lb1', 'lb2'].entries()) await c.enroll(enrollBody(createAgent(host, i)), '127.0.0.1');
    const long = 'x'.repeat(10_000);
    const succeed = (step: ReleasedStep) =>
      c.report(step.host, {
        stepId: step.id,
        attempt: step.attempt,
        outcome: 'succeeded',
        logTail: long,
        startedAt: 0,
        results: { etcdVoter: true, nodeRegistered: true, apiServerReady: true, etcdHealthy: true },
      });
    const lb = (await c.next('lb1', 0))!.step!;
    expect(lb.kind).toBe('lb-check');
    await succeed(lb);
    expect((await c.next('lb1', 0))?.done).toBe(true);
    const lb2 = (await c.next('lb2', 0))!.step!;
    await succeed(lb2);
    const init = (await c.next('cp1', 0))!.step!;
    expect(init.kind).toBe('kubeadm-init');
    await succeed(init);
    const tail = (id: string) => store.get<StepRecord>(`step/${id}`)!.value.lastReport!.logTail;
    expect(tail(lb.id).length).toBeLessThanOrEqual(DONE_LOG_TAIL_LIMIT);
    expect(cutOf(tail(lb.id)) + bodyOf(tail(lb.id)).length).toBe(long.length);
    // cp1 has more steps to run: its tail stays whole.
    expect(tail(init.id)).toBe(long);
    c.stop();
  });
});
