/**
 * Per-process state of a running coordinator, kept apart from the durable records
 * (repository.ts): when each agent last called, its latest heartbeat, the request nonces seen,
 * parsed agent keys, the long-polls waiting per host, the coordinator steps running, and the
 * scheduler's latest "waiting for" words. None of it survives a restart, and none needs to.
 */
import type { KeyObject } from 'node:crypto';
import { NonceCache } from '../auth.ts';

export interface Heartbeat {
  phase: string;
  message?: string;
  at: number;
  /** Agent clock minus coordinator clock. */
  skewMs: number;
}

interface Waiter {
  wake: () => void;
}

export class LiveState {
  /** Last time each host's agent called (the scheduler prefers live agents for cleanup). */
  readonly lastSeen: Record<string, number> = {};
  readonly heartbeats = new Map<string, Heartbeat>();
  readonly nonces = new NonceCache();
  /** Parsed public keys of enrolled agents; dropped whenever a binding changes. */
  readonly keys = new Map<string, KeyObject>();
  /** Ids of coordinator-run steps in flight (at most one run per step). */
  readonly coordinatorRuns = new Set<string>();
  /** The scheduler's latest reason per host for not releasing its next step. */
  waiting: Record<string, string> = {};
  stopped = false;
  private readonly waiters = new Map<string, Set<Waiter>>();

  /** Resolves after `ms`, on `wakeHost(host)`, on `wakeAll()` or when `signal` aborts. */
  waitForHost(host: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(host);
      if (!set) {
        set = new Set();
        this.waiters.set(host, set);
      }
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          set.delete(waiter);
          if (set.size === 0) this.waiters.delete(host);
          signal?.removeEventListener('abort', waiter.wake);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, ms);
      set.add(waiter);
      signal?.addEventListener('abort', waiter.wake, { once: true });
    });
  }

  wakeHost(host: string): void {
    const set = this.waiters.get(host);
    if (set) for (const waiter of [...set]) waiter.wake();
  }

  wakeAll(): void {
    for (const set of this.waiters.values()) for (const w of [...set]) w.wake();
  }
}
