/**
 * The coordinator's clocks: the only place that reads the system time. `Clock` is injected
 * everywhere a time is decided (tests pass a fake one); `systemClock` is the real one, and is
 * also what a bound on real waiting uses (a long-poll never outlives its real deadline, whatever
 * an injected clock says).
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
