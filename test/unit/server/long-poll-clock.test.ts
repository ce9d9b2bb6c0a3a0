/**
 * A long-poll ends at its deadline on the injected clock or on the real one (CoordinatorInputs.realClock),
 * whichever comes first: a frozen test clock never holds an agent's request forever.
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../../server/coordinator.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, enrollBody, FakeClock, makeInputs } from './support.ts';

describe('long-poll deadline', () => {
  it('answers null once the real clock passes the wait, though the injected clock stands still', async () => {
    const plan = makePlan();
    const host = plan.hosts.find((h) => h.role === 'worker')!.name;
    let real = 0;
    const realClock = { now: () => (real += 1000) };
    const coordinator = new Coordinator(makeInputs(plan, { clock: new FakeClock(), realClock }), {
      store: new MemoryStore(),
    });
    await coordinator.start();
    await coordinator.enroll(
      enrollBody(
        createAgent(
          host,
          plan.hosts.findIndex((h) => h.name === host),
        ),
      ),
      '127.0.0.1',
    );
    // A worker gets nothing before the control plane is up: its long-poll waits.
    expect(coordinator.waitingFor(host)).toBeTruthy();
    const started = performance.now();
    // 1.5 s on a clock that ticks a second per reading: over after two readings, never a real 1.5 s wait.
    expect(await coordinator.next(host, 1500)).toBeNull();
    coordinator.stop();
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
