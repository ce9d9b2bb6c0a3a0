/**
 * Security events, kept so that a flood cannot push the interesting ones out (issue 18): per kind,
 * the first event and the latest LATEST_PER_KIND are stored; the ones in between are only
 * counted (each event carries its number within its kind, `count`). Storage is bounded by the
 * number of kinds, whatever an attacker sends.
 *
 * Runtime contract: one instance per store; `record` commits without a version check (events
 * are append-only) and never throws — a lost event is logged, not fatal.
 */
import type { SecurityEvent } from '../model.ts';
import { orderedKey, type Store } from '../store/index.ts';

export const SECURITY_PREFIX = 'security/';
/** Latest events kept per kind, besides the first. */
export const LATEST_PER_KIND = 20;

interface KindIndex {
  count: number;
  /** Stored keys in order; [0] is the first event of the kind. */
  keys: string[];
}

export class SecurityEventLog {
  private index: Map<string, KindIndex> | undefined;

  constructor(private readonly store: Store) {}

  private load(): Map<string, KindIndex> {
    if (this.index) return this.index;
    const index = new Map<string, KindIndex>();
    for (const r of this.store.list<SecurityEvent>(SECURITY_PREFIX)) {
      const entry = index.get(r.value.kind) ?? { count: 0, keys: [] };
      entry.keys.push(r.key);
      // Events stored before counting existed have no `count`: count them as they are.
      entry.count = Math.max(entry.count + (r.value.count === undefined ? 1 : 0), r.value.count ?? 0);
      index.set(r.value.kind, entry);
    }
    this.index = index;
    return index;
  }

  /** Stores the event (numbered within its kind) and drops the one that left the latest window. */
  async record(event: Omit<SecurityEvent, 'seq' | 'count'>): Promise<SecurityEvent> {
    const index = this.load();
    const entry = index.get(event.kind) ?? { count: 0, keys: [] };
    index.set(event.kind, entry);
    const seq = this.store.revision() + 1;
    const stored: SecurityEvent = { ...event, seq, count: entry.count + 1 };
    const key = orderedKey(SECURITY_PREFIX, seq);
    entry.count += 1;
    entry.keys.push(key);
    const deletes: string[] = [];
    // keys[0] is the first event: always kept; beyond it, only the latest LATEST_PER_KIND.
    while (entry.keys.length > LATEST_PER_KIND + 1) deletes.push(entry.keys.splice(1, 1)[0]!);
    try {
      await this.store.commit({ puts: [{ key, value: stored }], ...(deletes.length ? { deletes } : {}) });
    } catch (error) {
      this.index = undefined; // rebuilt from what the store holds
      throw error;
    }
    return stored;
  }

  /** The kept events, oldest first. */
  list(): SecurityEvent[] {
    return this.store.list<SecurityEvent>(SECURITY_PREFIX).map((r) => r.value);
  }
}
