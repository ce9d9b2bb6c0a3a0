/**
 * The audit trail of secret hand-outs (and of etcd snapshots received, `backup`): which host received which kinds of secret, for which step
 * and attempt, when — never a value. Each hand-out is one record under `audit/` in the rollout
 * store (ADR 0035), committed durably before the secret leaves the coordinator, so the trail lives
 * where the rollout lives: in the journal, or in etcd where every replica appends to the same one.
 * `GET /v1/admin/audit` and `kubeseed audit` read it.
 *
 * Runtime contract: `appendAudit` rejects (StoreError) when the record cannot be made durable —
 * the caller answers 503 and hands nothing out. Keys are numbered from the store revision at the
 * time and never below a key already used, so the trail lists in hand-out order; a key another
 * writer took first is retried past it.
 */
import type { SecretKind } from '../../generator/plan/types.ts';
import { MAX_RECORDS_PER_COMMIT, orderedKey, type Store, StoreError } from '../store/index.ts';

export interface AuditEntry {
  /** ISO 8601 time of the hand-out (the coordinator's clock). */
  at: string;
  host: string;
  step: string;
  attempt: number;
  secrets: SecretKind[];
  /** An etcd snapshot the host uploaded (server/backup/routes.ts), and the ones retention deleted. */
  backup?: { id: string; bytes: number; sha256: string; pruned: string[] };
}

export const AUDIT_PREFIX = 'audit/';
const IMPORTED_PREFIX = `${AUDIT_PREFIX}-imported-`;
/** File name of the audit log kept before ADR 0035, imported once into the store and renamed. */
export const LEGACY_AUDIT_FILE = 'audit.log';
/** Keys taken by another writer in a row before giving up (replicas on one etcd). */
const KEY_ATTEMPTS = 5;

const auditKey = (n: number) => orderedKey(AUDIT_PREFIX, n);

/**
 * Appends one hand-out; resolves once it is durable. The hand-outs asked for in one event-loop turn
 * (a gate opening answers hundreds of long-polls at once) share commits of up to
 * MAX_RECORDS_PER_COMMIT records with consecutive keys, instead of one commit each.
 */
export function appendAudit(store: Store, entry: AuditEntry): Promise<void> {
  let writer = writers.get(store);
  if (!writer) {
    writer = new AuditWriter(store);
    writers.set(store, writer);
  }
  return writer.append(entry);
}

const writers = new WeakMap<Store, AuditWriter>();

interface Pending {
  entry: AuditEntry;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One store's audit appends, batched per event-loop turn. */
class AuditWriter {
  private pending: Pending[] = [];
  private scheduled = false;
  /** The next key number: above every key this writer or the trail it found has used. */
  private next: number | undefined;

  constructor(private readonly store: Store) {}

  append(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (let at = 0; at < batch.length; at += MAX_RECORDS_PER_COMMIT) {
      const chunk = batch.slice(at, at + MAX_RECORDS_PER_COMMIT);
      this.commitChunk(chunk).then(
        () => {
          for (const p of chunk) p.resolve();
        },
        (error: unknown) => {
          for (const p of chunk) p.reject(error);
        },
      );
    }
  }

  /** Keys are taken synchronously, so chunks committed side by side never pick the same ones. */
  private takeKeys(count: number, atLeast = 0): number {
    const first = Math.max(this.store.revision() + 1, this.next ?? lastKeyNumber(this.store) + 1, atLeast);
    this.next = first + count;
    return first;
  }

  private async commitChunk(chunk: Pending[]): Promise<void> {
    let n = this.takeKeys(chunk.length);
    for (let attempt = 0; attempt < KEY_ATTEMPTS; attempt++) {
      const keys = chunk.map((_, i) => auditKey(n + i));
      const result = await this.store.commit({
        puts: chunk.map((p, i) => ({ key: keys[i]!, value: p.entry })),
        checks: keys.map((key) => ({ key, version: 0 })),
      });
      if (result.ok) return;
      // Another writer (a second replica) took one of these keys: move past the highest it took.
      const taken = Math.max(...result.conflicts.map(keyNumber));
      n = this.takeKeys(chunk.length, taken + 1);
    }
    const steps = chunk.map((p) => `${p.entry.step} (attempt ${p.entry.attempt})`).join(', ');
    throw new StoreError(`the audit record of ${steps} found its key taken ${KEY_ATTEMPTS} times in a row`);
  }
}

function keyNumber(key: string): number {
  const n = Number(key.slice(AUDIT_PREFIX.length));
  return Number.isSafeInteger(n) ? n : 0;
}

/** The highest numbered key of the trail (imported entries sort first and count as 0). */
function lastKeyNumber(store: Store): number {
  const trail = store.list(AUDIT_PREFIX);
  const last = trail[trail.length - 1];
  return last ? keyNumber(last.key) : 0;
}

/** The trail, oldest first; `host` keeps one host's hand-outs. */
export function listAudit(store: Store, host?: string): AuditEntry[] {
  const entries = store.list<AuditEntry>(AUDIT_PREFIX).map((r) => r.value);
  return host === undefined ? entries : entries.filter((e) => e.host === host);
}

/**
 * Entries of an `audit.log` written before ADR 0035 (one JSON object per line). A line that is not
 * an entry (a torn last line after a crash) is reported by number, never dropped silently.
 */
export function parseLegacyAuditLog(text: string): { entries: AuditEntry[]; unreadable: number[] } {
  const entries: AuditEntry[] = [];
  const unreadable: number[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as Partial<AuditEntry>;
      if (typeof e.at !== 'string' || typeof e.host !== 'string' || typeof e.step !== 'string' || typeof e.attempt !== 'number')
        throw new Error('not an audit entry');
      entries.push({ at: e.at, host: e.host, step: e.step, attempt: e.attempt, secrets: Array.isArray(e.secrets) ? e.secrets : [] });
    } catch {
      unreadable.push(i + 1);
    }
  }
  return { entries, unreadable };
}

/**
 * Imports legacy entries ahead of the store's own, at most MAX_RECORDS_PER_COMMIT per commit;
 * returns how many this call wrote. A trail of the store's own is left as it is (0).
 */
export async function importLegacyAudit(store: Store, entries: readonly AuditEntry[]): Promise<number> {
  // `-` sorts before every digit: the imported entries list first, in file order.
  const keys = entries.map((_, i) => orderedKey(IMPORTED_PREFIX, i + 1));
  const trail = store.list(AUDIT_PREFIX);
  // A trail of the store's own (no imported entry yet): the log is not merged into it.
  if (entries.length === 0 || (trail.length > 0 && !trail.some((r) => r.key.startsWith(IMPORTED_PREFIX)))) return 0;
  // In commits etcd accepts; an import cut short is finished by the next start (keys are fixed per line).
  const missing = keys.flatMap((key, i) => (store.get(key) ? [] : [{ key, value: entries[i]! }]));
  for (let at = 0; at < missing.length; at += MAX_RECORDS_PER_COMMIT) {
    const chunk = missing.slice(at, at + MAX_RECORDS_PER_COMMIT);
    const result = await store.commit({ puts: chunk, checks: chunk.map(({ key }) => ({ key, version: 0 })) });
    if (!result.ok) throw new StoreError(`importing ${LEGACY_AUDIT_FILE}: keys already present (${result.conflicts.join(', ')})`);
  }
  return missing.length;
}
