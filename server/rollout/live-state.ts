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

/**
 * The client of a waiting long-poll, as the wait sees it: node:http's ServerResponse. `closed` and a
 * 'close' event once its connection closed (while the poll waits, before any answer: the client went
 * away). Listening to the response itself costs a waiting poll one listener, where an AbortController
 * per poll cost a controller, a signal with its listener table and a close handler (issue 19).
 */
export interface PollClient {
  readonly closed: boolean;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** Parsed agent keys kept at most (AgentKeyCache): ~4 MiB of OpenSSL memory, enough for a gate's wave of workers. */
export const AGENT_KEY_CACHE_SIZE = 1024;

/**
 * Parsed public keys of enrolled agents, the least recently used dropped past `capacity`. Parsing
 * an agent's key (OpenSSL's decoder) costs ~165 µs, verifying with a parsed one ~80 µs, so keys
 * of the hosts at work are worth keeping; but a parsed P-256 key holds ~4 KiB outside V8's heap,
 * and one kept per host scattered those blocks through malloc's heap while hosts enrolled: with
 * 5,000 agents waiting, 45 MiB of RSS (issue 19, row (a)). A waiting agent asks about once a
 * minute, so parsing its key again then costs little.
 */
export class AgentKeyCache {
  private readonly keys = new Map<string, KeyObject>();

  constructor(readonly capacity = AGENT_KEY_CACHE_SIZE) {}

  get size(): number {
    return this.keys.size;
  }

  get(host: string): KeyObject | undefined {
    const key = this.keys.get(host);
    if (key) {
      // Most recently used last: Map keeps insertion order.
      this.keys.delete(host);
      this.keys.set(host, key);
    }
    return key;
  }

  set(host: string, key: KeyObject): void {
    this.keys.delete(host);
    this.keys.set(host, key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.keys().next().value!);
  }

  delete(host: string): void {
    this.keys.delete(host);
  }
}

export class LiveState {
  /** Last time each host's agent called (the scheduler prefers live agents for cleanup). */
  readonly lastSeen: Record<string, number> = {};
  readonly heartbeats = new Map<string, Heartbeat>();
  readonly nonces = new NonceCache();
  /** Parsed public keys of recently seen agents; dropped whenever a binding changes. */
  readonly keys: AgentKeyCache;
  /** Ids of coordinator-run steps in flight (at most one run per step). */
  readonly coordinatorRuns = new Set<string>();
  /** The scheduler's latest reason per host for not releasing its next step. */
  waiting: Record<string, string> = {};
  stopped = false;
  /**
   * The wake-up of each waiting long-poll, by host. A host has one poll waiting, rarely two: a list of
   * functions costs less per waiting agent than a Set or a waiter object each (issue 19).
   */
  private readonly waiters = new Map<string, (() => void)[]>();

  /** `keyCacheSize`: the AgentKeyCache's bound (its default when absent). */
  constructor(keyCacheSize?: number) {
    this.keys = new AgentKeyCache(keyCacheSize);
  }

  /**
   * Calls `wake` once, in a microtask: after `ms`, on `wakeHost(host)`, on `wakeAll()` or when
   * `client` closes. A callback, not a promise: the waiting poll holds this closure, its timer and its
   * client's listener and nothing else (issue 19, docs/adr/0048).
   */
  waitForHost(host: string, ms: number, wake: () => void, client?: PollClient): void {
    // One closure per wait: its timer, its client's 'close' and a wake-up all call it.
    const woken = () => {
      clearTimeout(timer);
      client?.off('close', woken);
      const list = this.waiters.get(host);
      const at = list ? list.indexOf(woken) : -1;
      if (at < 0) return; // woken already
      if (list!.length === 1) this.waiters.delete(host);
      else list!.splice(at, 1);
      // Later in this turn, as a resolved promise would: a wake-up comes from inside a scheduling pass.
      queueMicrotask(wake);
    };
    const timer = setTimeout(woken, ms);
    const list = this.waiters.get(host);
    if (list) list.push(woken);
    else this.waiters.set(host, [woken]);
    client?.on('close', woken);
  }

  /** Long-polls waiting now (all hosts). */
  waitingPolls(): number {
    let count = 0;
    for (const list of this.waiters.values()) count += list.length;
    return count;
  }

  wakeHost(host: string): void {
    const list = this.waiters.get(host);
    if (list) for (const wake of [...list]) wake();
  }

  wakeAll(): void {
    for (const list of [...this.waiters.values()]) for (const wake of [...list]) wake();
  }
}
