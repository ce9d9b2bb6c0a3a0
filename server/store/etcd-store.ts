/**
 * The rollout state in etcd (issue 20; docs/adr/0032-etcd-store-through-the-json-gateway.md), behind
 * the same `Store` contract as the journal: synchronous reads from a local view, a commit checked
 * and applied to the view at once and resolved when etcd has it.
 *
 * Layout under the prefix (`kubeseed/<cluster>/` by default):
 *   `<prefix>rev`       {revision, writer, seq}: the store-wide revision of the last commit
 *   `<prefix>kv/<key>`  {version, value}: one record (`value` sealed for secret-bearing keys)
 *
 * Every batch of commits is ONE etcd Txn whose only compare is "`<prefix>rev` has the mod_revision
 * this store last saw". The view is exact while that holds, so the record checks (CAS) are made
 * on the view; and any other writer's commit moves `rev`, so a store that was not the last writer
 * can never write again until its watch has brought it up to date (fencing: a paused old leader
 * cannot release a second `kubeadm init`). A refused or failed Txn rolls the view back to the last
 * durable revision and rejects that batch and every pending commit with StoreError, as the journal
 * does; the watch then brings whatever etcd holds. After a lost answer the store reads `rev` to
 * learn whether its Txn was applied (writer id + sequence number).
 *
 * Commits arriving while a Txn is in flight are sent together in the next one (group commit), at
 * most `maxTxnOps` operations per Txn (etcd's `--max-txn-ops`, 128 by default) unless one commit
 * alone needs more. Writes of other replicas arrive through a watch on the prefix.
 */
import { randomUUID } from 'node:crypto';
import { EtcdClient, type EtcdClientOptions, type EtcdCompare, type EtcdEvent, type EtcdOp, EtcdUnavailableError } from './etcd-client.ts';
import { isSealed, type RecordCipher } from './record-cipher.ts';
import { type CommitResult, type Store, StoreError, type StoreRecord, StoreRefusal, type StoreTxn } from './types.ts';
import { checkAndApply, KeyValueView, type UndoEntry } from './view.ts';

export interface EtcdStoreOptions extends EtcdClientOptions {
  /** Key prefix of this rollout's records, ending in `/`. */
  prefix: string;
  cipher?: RecordCipher;
  /** Operations per Txn (etcd's `--max-txn-ops`, default 128). */
  maxTxnOps?: number;
  /** Called when the watch breaks or resumes (for the log); the store reconnects by itself. */
  onWatchError?: (error: Error) => void;
  /**
   * More compares every Txn must pass: a replica's leadership (etcd-leader.ts), so a coordinator
   * that lost its lease cannot write even from an up-to-date view.
   */
  fence?: () => EtcdCompare[];
}

interface RevisionMark {
  revision: number;
  writer: string;
  seq: number;
}

interface PendingCommit {
  /** Each written key's record after this commit (undefined: deleted). */
  writes: Map<string, StoreRecord | undefined>;
  undo: UndoEntry[];
  baseRevision: number;
  result: CommitResult & { ok: true };
  resolve: (result: CommitResult) => void;
  reject: (error: Error) => void;
}

const WATCH_RETRY_MS = [100, 250, 500, 1000, 2000];

export class EtcdStore implements Store {
  private readonly view = new KeyValueView();
  private readonly client: EtcdClient;
  private readonly revKey: string;
  private readonly kvPrefix: string;
  private readonly writer = randomUUID();
  private readonly maxTxnOps: number;
  /** mod_revision of `<prefix>rev` as this store last saw it: the compare of every Txn. */
  private revModRevision = 0;
  /** etcd revision up to which the view holds every change. */
  private seenEtcdRevision = 0;
  private seq = 0;
  private pending: PendingCommit[] = [];
  private flushing = false;
  private readonly outstanding = new Set<Promise<CommitResult>>();
  /** Watch events that arrived while a Txn was in flight: applied when it settles. */
  private queued: EtcdEvent[] = [];
  private readonly watchAbort = new AbortController();
  private watching: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: EtcdStoreOptions) {
    if (!options.prefix.endsWith('/')) throw new StoreError(`etcd prefix ${JSON.stringify(options.prefix)} must end with "/"`);
    this.client = new EtcdClient(options);
    this.revKey = `${options.prefix}rev`;
    this.kvPrefix = `${options.prefix}kv/`;
    this.maxTxnOps = options.maxTxnOps ?? 128;
  }

  async open(): Promise<void> {
    await this.load();
    this.watching = this.watchLoop();
  }

  get<T = unknown>(key: string): StoreRecord<T> | undefined {
    return this.view.get<T>(key);
  }

  list<T = unknown>(prefix: string): StoreRecord<T>[] {
    return this.view.list<T>(prefix);
  }

  watch(listener: (key: string, record: StoreRecord | undefined) => void): () => void {
    return this.view.watch(listener);
  }

  revision(): number {
    return this.view.revision();
  }

  commit(txn: StoreTxn): Promise<CommitResult> {
    if (this.closed) return Promise.reject(new StoreError('the etcd store is closed'));
    // etcd would refuse it ("too many operations in txn request"): say so before touching the view.
    const records = (txn.puts?.length ?? 0) + (txn.deletes?.length ?? 0);
    if (records + 2 > this.maxTxnOps)
      return Promise.reject(
        new StoreError(
          `a commit of ${records} records does not fit one etcd Txn of at most ${this.maxTxnOps} operations (etcd's --max-txn-ops, with the revision mark and the leader fence); the coordinator writes at most 100 per commit — raise --max-txn-ops on etcd`,
        ),
      );
    const baseRevision = this.view.revision();
    const { result, undo } = checkAndApply(this.view, txn);
    if (!result.ok) return Promise.resolve(result);
    const writes = new Map<string, StoreRecord | undefined>();
    for (const put of txn.puts ?? []) writes.set(put.key, this.view.get(put.key));
    for (const key of txn.deletes ?? []) writes.set(key, undefined);
    const promise = new Promise<CommitResult>((resolve, reject) => {
      this.pending.push({ writes, undo, baseRevision, result, resolve, reject });
    });
    this.outstanding.add(promise);
    const forget = () => this.outstanding.delete(promise);
    promise.then(forget, forget);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
    return promise;
  }

  async flushed(): Promise<void> {
    await Promise.all([...this.outstanding]);
  }

  /**
   * Closes at once without waiting for etcd — for a replica that lost its term: commits not yet
   * answered are refused (fenced on the lost term, none could land) and connections are cut.
   */
  abandon(): void {
    this.closed = true;
    if (this.pending.length > 0)
      this.fail([], new StoreError('this coordinator lost the lead: its commit was abandoned (the new leader writes)'));
    this.watchAbort.abort();
    this.client.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.outstanding]);
    this.watchAbort.abort();
    await this.watching?.catch(() => {});
    this.client.close();
  }

  /** Sends pending commits, a Txn at a time, until none is left. */
  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.takeBatch();
        const last = batch[batch.length - 1]!;
        const mark: RevisionMark = { revision: last.result.revision, writer: this.writer, seq: ++this.seq };
        const ops: EtcdOp[] = [];
        for (const [key, record] of mergedWrites(batch)) {
          ops.push(
            record
              ? {
                  put: {
                    key: this.kvPrefix + key,
                    value: JSON.stringify({ version: record.version, value: this.sealed(key, record.value) }),
                  },
                }
              : { delete: { key: this.kvPrefix + key } },
          );
        }
        ops.push({ put: { key: this.revKey, value: JSON.stringify(mark) } });
        const outcome = await this.send(ops, mark);
        if (outcome.ok) {
          this.revModRevision = outcome.etcdRevision;
          this.seenEtcdRevision = Math.max(this.seenEtcdRevision, outcome.etcdRevision);
          for (const commit of batch) commit.resolve(commit.result);
        } else {
          this.fail(batch, outcome.error);
        }
      }
    } finally {
      this.flushing = false;
      const events = this.queued;
      this.queued = [];
      this.applyEvents(events);
    }
  }

  /** The next commits to send together: whole commits, at most maxTxnOps operations (at least one commit). */
  private takeBatch(): PendingCommit[] {
    let ops = 1; // the revision mark
    let count = 0;
    for (const commit of this.pending) {
      if (count > 0 && ops + commit.writes.size > this.maxTxnOps) break;
      ops += commit.writes.size;
      count++;
    }
    return this.pending.splice(0, count);
  }

  private async send(ops: EtcdOp[], mark: RevisionMark): Promise<{ ok: true; etcdRevision: number } | { ok: false; error: StoreError }> {
    try {
      const fence = this.options.fence?.() ?? [];
      const answer = await this.client.txn([{ key: this.revKey, modRevision: this.revModRevision }, ...fence], ops);
      if (answer.succeeded) return { ok: true, etcdRevision: answer.revision };
      return {
        ok: false,
        error: new StoreError(
          fence.length > 0
            ? `etcd: this coordinator's write was refused (fenced): ${this.revKey} was written by another coordinator since this one last read it, or this one no longer leads`
            : `etcd: ${this.revKey} was written by another coordinator since this one last read it; this coordinator's write was refused (fenced) and it reloads from etcd`,
        ),
      };
    } catch (error) {
      if (!(error instanceof EtcdUnavailableError)) return { ok: false, error: toStoreError(error) };
      // The answer was lost: the Txn may have been applied. `rev` says whether it was ours.
      try {
        const rev = await this.client.get(this.revKey);
        const seen = rev ? (JSON.parse(rev.value) as RevisionMark) : undefined;
        if (rev && seen?.writer === mark.writer && seen.seq === mark.seq) return { ok: true, etcdRevision: rev.modRevision };
      } catch {
        // Still unreachable: the watch will bring the write if it was applied.
      }
      return { ok: false, error: toStoreError(error) };
    }
  }

  /** Rolls the view back to the last durable revision and rejects the batch and every pending commit. */
  private fail(batch: PendingCommit[], error: StoreError): void {
    const all = [...batch, ...this.pending.splice(0)];
    this.view.rollback(
      all.flatMap((c) => c.undo),
      all[0]!.baseRevision,
    );
    for (const commit of all) commit.reject(error);
  }

  private sealed(key: string, value: unknown): unknown {
    const cipher = this.options.cipher;
    return cipher?.seals(key) ? cipher.seal(key, value) : value;
  }

  private opened(key: string, stored: unknown): unknown {
    if (!isSealed(stored)) return stored;
    if (!this.options.cipher)
      throw new StoreRefusal(
        'PASSPHRASE_REQUIRED',
        `etcd record ${key} is encrypted: set KUBESEED_PASSPHRASE to the passphrase the state was generated with`,
      );
    return this.options.cipher.open(key, stored);
  }

  /** Reads every record under the prefix into the view (start, and after the watch fell behind compaction). */
  private async load(): Promise<void> {
    const { kvs, revision } = await this.client.rangePrefix(this.options.prefix);
    const present = new Set<string>();
    this.revModRevision = 0;
    this.view.setRevision(0);
    for (const kv of kvs) {
      if (kv.key === this.revKey) {
        this.revModRevision = kv.modRevision;
        this.view.setRevision((JSON.parse(kv.value) as RevisionMark).revision);
      } else if (kv.key.startsWith(this.kvPrefix)) {
        const key = kv.key.slice(this.kvPrefix.length);
        present.add(key);
        this.loadRecord(key, kv.value);
      }
    }
    for (const record of this.view.entries()) if (!present.has(record.key)) this.view.remove(record.key);
    this.seenEtcdRevision = revision;
  }

  private loadRecord(key: string, raw: string): void {
    const stored = JSON.parse(raw) as { version: number; value: unknown };
    this.view.load({ key, value: structuredClone(this.opened(key, stored.value)), version: stored.version });
  }

  /** Applies other writers' changes (and our own lost-answer writes) to the view. */
  private applyEvents(events: EtcdEvent[]): void {
    for (const event of events) {
      const { key, value, modRevision } = event.kv;
      if (modRevision <= this.seenEtcdRevision) continue;
      if (key === this.revKey) {
        if (event.type === 'put') {
          this.revModRevision = modRevision;
          this.view.setRevision((JSON.parse(value) as RevisionMark).revision);
        }
      } else if (key.startsWith(this.kvPrefix)) {
        const name = key.slice(this.kvPrefix.length);
        if (event.type === 'put') this.loadRecord(name, value);
        else this.view.remove(name);
      }
    }
    const newest = events.reduce((max, e) => Math.max(max, e.kv.modRevision), 0);
    this.seenEtcdRevision = Math.max(this.seenEtcdRevision, newest);
  }

  /** Keeps a watch on the prefix open until close(), resuming after the last revision seen. */
  private async watchLoop(): Promise<void> {
    let failures = 0;
    while (!this.watchAbort.signal.aborted) {
      try {
        await this.client.watchPrefix(
          this.options.prefix,
          this.seenEtcdRevision + 1,
          (events) => {
            failures = 0;
            if (this.flushing) this.queued.push(...events);
            else this.applyEvents(events);
          },
          this.watchAbort.signal,
        );
      } catch (error) {
        if (this.watchAbort.signal.aborted) break;
        this.options.onWatchError?.(error as Error);
        if ((error as { compacted?: boolean }).compacted && !this.flushing) await this.load().catch(() => {});
        const delay = WATCH_RETRY_MS[Math.min(failures++, WATCH_RETRY_MS.length - 1)]!;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

/** Each key's final state across the batch, in first-written order. */
function mergedWrites(batch: PendingCommit[]): Map<string, StoreRecord | undefined> {
  const merged = new Map<string, StoreRecord | undefined>();
  for (const commit of batch) for (const [key, record] of commit.writes) merged.set(key, record);
  return merged;
}

function toStoreError(error: unknown): StoreError {
  return error instanceof StoreError ? error : new StoreError(`etcd: ${(error as Error).message}`, error);
}
