/**
 * The in-memory key/value view shared by both store implementations: compare-and-swap checks,
 * application of a transaction with an undo list, and rollback. Values are deep-frozen copies,
 * so a caller can never mutate stored state by accident; their short strings are interned
 * (intern.ts: a fleet's records repeat the same host names, kinds and ids many times over).
 */
import { internValues, StringTable } from './intern.ts';
import type { CommitResult, StoreRecord, StoreTxn } from './types.ts';

export interface UndoEntry {
  key: string;
  previous: StoreRecord | undefined;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/** Told of every change to a view's records: the record now under `key`, or undefined when it was deleted. */
export type ViewListener = (key: string, record: StoreRecord | undefined) => void;

/** The first index in sorted `keys` whose key is >= `key`. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Merges sorted `b` into sorted `a` in place (no key in both), from the back: only the keys of `a`
 * after the first new one move, once each, and no second array is allocated (a view of 64,000 keys
 * is a 512 KiB array).
 */
function mergeInto(a: string[], b: readonly string[]): void {
  let i = a.length - 1;
  let j = b.length - 1;
  for (const key of b) a.push(key); // grows `a`; every slot is written again below
  for (let k = a.length - 1; j >= 0; k--) a[k] = i >= 0 && a[i]! > b[j]! ? a[i--]! : b[j--]!;
}

export class KeyValueView {
  private readonly records = new Map<string, StoreRecord>();
  private readonly listeners = new Set<ViewListener>();
  private readonly strings = new StringTable();
  private rev = 0;
  /** Sorted keys, built on the first `list` and kept sorted after it (new keys merged in from `added`). */
  private sortedKeys: string[] | undefined;
  /**
   * Keys inserted since `sortedKeys` was last complete, merged in by the next `list` or delete: one
   * merge of a commit's keys instead of an array splice per key. A splice moves every key after the
   * insertion point, and audit keys sort before the hosts and steps: 1,000 hand-outs at a gate
   * opening cost ~25 ms of splices at 16,000 records (issue 19).
   */
  private added: string[] = [];

  get<T>(key: string): StoreRecord<T> | undefined {
    return this.records.get(key) as StoreRecord<T> | undefined;
  }

  list<T>(prefix: string): StoreRecord<T>[] {
    const keys = this.sorted();
    // Binary search for the first key >= prefix, then walk while the prefix matches.
    const lo = lowerBound(keys, prefix);
    const out: StoreRecord<T>[] = [];
    for (let i = lo; i < keys.length && keys[i]!.startsWith(prefix); i++) out.push(this.records.get(keys[i]!) as StoreRecord<T>);
    return out;
  }

  /**
   * Calls `listener` on every later change (commit, rollback, journal replay, etcd watch), in the
   * same turn as the change; returns the unsubscribe function. Derived indexes (the rollout model,
   * server/rollout/rollout-model.ts) stay current through it.
   */
  watch(listener: ViewListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every key, sorted: `sortedKeys` with the keys added since merged in. */
  private sorted(): string[] {
    if (!this.sortedKeys) {
      this.sortedKeys = [...this.records.keys()].sort();
      this.added = [];
    } else if (this.added.length > 0) {
      mergeInto(this.sortedKeys, this.added.sort());
      this.added = [];
    }
    return this.sortedKeys;
  }

  private set(key: string, record: StoreRecord): void {
    if (this.sortedKeys && !this.records.has(key)) this.added.push(key);
    this.records.set(key, record);
    for (const listener of this.listeners) listener(key, record);
  }

  private delete(key: string): void {
    if (!this.records.delete(key)) return;
    if (this.sortedKeys) {
      const keys = this.sorted();
      keys.splice(lowerBound(keys, key), 1);
    }
    for (const listener of this.listeners) listener(key, undefined);
  }

  revision(): number {
    return this.rev;
  }

  /** Records held. */
  size(): number {
    return this.records.size;
  }

  /** Distinct short strings the records share (intern.ts). */
  internedStrings(): number {
    return this.strings.size();
  }

  entries(): StoreRecord[] {
    return [...this.records.values()];
  }

  /** Keys whose check fails, or an empty list. */
  conflicts(txn: StoreTxn): string[] {
    const failed: string[] = [];
    for (const check of txn.checks ?? []) {
      const current = this.records.get(check.key)?.version ?? 0;
      if (current !== check.version) failed.push(check.key);
    }
    return failed;
  }

  /** Applies a transaction at the next revision; returns the undo entries and the revision. */
  apply(txn: StoreTxn): { revision: number; undo: UndoEntry[] } {
    const revision = Math.max(this.rev + 1, txn.minRevision ?? 0);
    this.rev = revision;
    const undo: UndoEntry[] = [];
    for (const put of txn.puts ?? []) {
      undo.push({ key: put.key, previous: this.records.get(put.key) });
      // The clone copies every string flat (a short slice of a large body must not keep the body);
      // interning then shares those copies across records.
      const value = deepFreeze(internValues(structuredClone(put.value), this.strings));
      this.set(put.key, deepFreeze({ key: put.key, value, version: revision }));
    }
    for (const key of txn.deletes ?? []) {
      undo.push({ key, previous: this.records.get(key) });
      this.delete(key);
    }
    return { revision, undo };
  }

  /** Loads a record as-is (journal replay, snapshot load: a value the caller parsed and hands over). */
  load(record: StoreRecord): void {
    record.value = internValues(record.value, this.strings);
    this.set(record.key, deepFreeze(record));
    if (record.version > this.rev) this.rev = record.version;
  }

  remove(key: string): void {
    this.delete(key);
  }

  setRevision(revision: number): void {
    this.rev = revision;
  }

  /** Reverts undo entries (given in application order) and resets the revision. */
  rollback(undo: UndoEntry[], revision: number): void {
    for (let i = undo.length - 1; i >= 0; i--) {
      const entry = undo[i]!;
      if (entry.previous) this.set(entry.key, entry.previous);
      else this.delete(entry.key);
    }
    this.rev = revision;
  }
}

export function checkAndApply(view: KeyValueView, txn: StoreTxn): { result: CommitResult; undo: UndoEntry[] } {
  const conflicts = view.conflicts(txn);
  if (conflicts.length > 0) return { result: { ok: false, conflicts }, undo: [] };
  const { revision, undo } = view.apply(txn);
  return { result: { ok: true, revision }, undo };
}
