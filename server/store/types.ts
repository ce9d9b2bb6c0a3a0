/**
 * The coordinator's storage contract. Records are JSON values under string keys; every write
 * bumps a store-wide revision and stamps the written records with it (`version`, like etcd's
 * mod_revision). A transaction commits only if every `checks` entry still holds — this is the
 * compare-and-swap the init lock and every step release rely on, and it maps 1:1 onto an etcd Txn.
 *
 * Reads are synchronous from the store's local view (the embedded store holds everything in
 * memory; an etcd store would keep a watch-fed cache). `commit` validates and applies to that view
 * synchronously, then resolves once the write is durable. If it cannot be made durable, the store
 * rolls its view back to the last durable state and rejects that commit and every later pending
 * one with a StoreError — callers answer 503 and retry; nothing half-written is ever visible.
 */

export interface StoreRecord<T = unknown> {
  key: string;
  value: T;
  /** The revision of the commit that last wrote this key. */
  version: number;
}

export interface StoreCheck {
  key: string;
  /** Expected `version`; 0 means "the key must not exist". */
  version: number;
}

export interface StoreTxn {
  checks?: StoreCheck[];
  puts?: { key: string; value: unknown }[];
  deletes?: string[];
  /**
   * Commit at this revision when it is above the next one. `kubeseed store migrate` gives the
   * source's revision, so keys numbered by revision (security events) stay unique and in order.
   */
  minRevision?: number;
}

export type CommitResult = { ok: true; revision: number } | { ok: false; conflicts: string[] };

export interface Store {
  /** Loads existing state (replays the journal). Must be called once before anything else. */
  open(): Promise<void>;
  get<T = unknown>(key: string): StoreRecord<T> | undefined;
  /** Records whose key starts with `prefix`, sorted by key. */
  list<T = unknown>(prefix: string): StoreRecord<T>[];
  /**
   * Calls `listener` on every change to the local view, in the same turn (optional: a store
   * without it gets its indexes rebuilt from `list`). Returns the unsubscribe function.
   */
  watch?(listener: (key: string, record: StoreRecord | undefined) => void): () => void;
  /** Current revision (0 for an empty store). */
  revision(): number;
  commit(txn: StoreTxn): Promise<CommitResult>;
  /** Resolves when everything committed so far is durable; rejects if any of it failed. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

/** Raised when the store cannot read or write its media. Mapped to 503 by the API. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    message: string,
    readonly causeError?: unknown,
  ) {
    super(message);
  }
}

export type StoreRefusalCode = 'PASSPHRASE_REQUIRED' | 'WRONG_PASSPHRASE' | 'MOVED' | 'NO_JOURNAL' | 'NOT_EMPTY';

/** The store refuses what the operator asked (no or a wrong passphrase, a moved journal, a target in use): input to fix, not a failing medium. */
export class StoreRefusal extends StoreError {
  constructor(
    readonly code: StoreRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A key under `prefix` that sorts with `n` (zero-padded to 12 digits), so records numbered by the
 * store revision at which they were appended list oldest first (audit trail, security events).
 */
export function orderedKey(prefix: string, n: number): string {
  return `${prefix}${String(n).padStart(12, '0')}`;
}

/**
 * Records one commit may carry: etcd refuses a Txn of more than `--max-txn-ops` operations (128 by
 * default), and the etcd store adds its revision mark and a leader's fence. Large writes are made in
 * chunks of this size (the first start; a large release wave, over several commits of one pass; the
 * import of a legacy audit log).
 */
export const MAX_RECORDS_PER_COMMIT = 100;
