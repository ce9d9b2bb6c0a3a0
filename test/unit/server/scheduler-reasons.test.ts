/**
 * The scheduler words a "waiting for" reason once per pass (issue 19): thousands of workers behind
 * one gate are given the same string, not a copy each, so the coordinator's live state (which keeps
 * the last pass's reasons for status and the `x-kubeseed-waiting-for` header) grows by a pointer
 * per waiting host. String identity is not observable in JavaScript: the sharing is shown by what it
 * saves, against an object of the same keys all pointing at one string.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createSchedulerConfig, decide } from '../../../server/scheduler.ts';
import { enrolledSnapshot, makePlan } from './fixtures.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const WORKERS = 20_000;
const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

/** Heap bytes `make()`'s result holds after a full collection. */
function held<T>(make: () => T): { value: T; bytes: number } {
  gc();
  const before = process.memoryUsage().heapUsed;
  const value = make();
  gc();
  return { value, bytes: process.memoryUsage().heapUsed - before };
}

describe('the scheduler words each waiting reason once per pass', () => {
  it(`${WORKERS} workers behind one gate share one reason string`, () => {
    const plan = makePlan({ workers: WORKERS });
    const snapshot = enrolledSnapshot(plan, T0);
    const config = createSchedulerConfig(plan);
    decide(snapshot, plan, T0, config); // warm-up: compiled code and feedback are not counted below
    const { value: waiting, bytes } = held(() => decide(snapshot, plan, T0, config).waiting);
    const workers = Object.keys(waiting).filter((h) => h.startsWith('w'));
    expect(workers).toHaveLength(WORKERS);
    const reasons = new Set(workers.map((h) => waiting[h]));
    expect(reasons.size).toBe(1);
    expect([...reasons][0]).toMatch(/^waiting for /);
    // The same keys, every one pointing at a single string: what sharing costs.
    const one = waiting[workers[0]!]!;
    const { bytes: sharedBytes } = held(() => {
      const same: Record<string, string> = {};
      for (const host of Object.keys(waiting)) same[host] = host.startsWith('w') ? one : waiting[host]!;
      return same;
    });
    // A string per worker ("waiting for " + the gate, a cons string of 32 bytes or a flat copy) would be ≥ 32 bytes each.
    expect((bytes - sharedBytes) / WORKERS).toBeLessThan(12);
  });
});
