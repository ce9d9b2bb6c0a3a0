/**
 * The rollout model: the host, step and token records and the init lock, held in memory and kept
 * current by the store's own changes (`Store.watch`: every commit, rollback, journal replay and
 * etcd watch event, in the same turn), with the indexes the scheduler would otherwise derive from
 * every step on every pass (`StepIndex`: busy hosts, coordinator-made steps, steps needing cleanup,
 * certificate uploads, the highest seq). A scheduling pass reads it as a snapshot without copying
 * anything (ADR 0037). The records are the store's own deep-frozen values.
 *
 * Runtime contract: one model per store; built on first use from `list`, then updated per change.
 */
import type { HostRecord, InitLock, RolloutSnapshot, StepIndex, StepRecord, TokenRecord } from '../model.ts';
import { stepIndexSets } from '../scheduler-pass.ts';
import type { Store, StoreRecord } from '../store/index.ts';

export const HOST_PREFIX = 'host/';
export const STEP_PREFIX = 'step/';
export const TOKEN_PREFIX = 'token/';
export const INIT_LOCK_KEY = 'lock/init';

export class RolloutModel {
  readonly hosts: Record<string, HostRecord> = {};
  readonly steps: Record<string, StepRecord> = {};
  private readonly tokenRecords = new Map<string, TokenRecord>();
  private tokenList: TokenRecord[] | undefined;
  initLock: InitLock | undefined;
  /** Host (not the coordinator) → ids of its released or running steps. */
  private readonly busy = new Map<string, Set<string>>();
  private readonly busyHosts = new Set<string>();
  private readonly dynamic = new Set<string>();
  private readonly cleanup = new Set<string>();
  private readonly uploads = new Set<string>();
  private readonly occupying = new Set<string>();
  private maxSeq = 0;
  /** The highest seq may have been deleted: recompute on the next read. */
  private maxSeqStale = false;

  constructor(store: Store & { watch: NonNullable<Store['watch']> }) {
    for (const prefix of [HOST_PREFIX, STEP_PREFIX, TOKEN_PREFIX]) for (const r of store.list(prefix)) this.changed(r.key, r);
    this.changed(INIT_LOCK_KEY, store.get(INIT_LOCK_KEY));
    store.watch((key, record) => this.changed(key, record));
  }

  get tokens(): TokenRecord[] {
    this.tokenList ??= [...this.tokenRecords.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t);
    return this.tokenList;
  }

  get index(): StepIndex {
    if (this.maxSeqStale) {
      this.maxSeq = 0;
      for (const r of Object.values(this.steps)) if (r.seq > this.maxSeq) this.maxSeq = r.seq;
      this.maxSeqStale = false;
    }
    return {
      maxSeq: this.maxSeq,
      busyHosts: this.busyHosts,
      dynamic: this.dynamic,
      cleanup: this.cleanup,
      uploads: this.uploads,
      occupying: this.occupying,
    };
  }

  /** The host's released or running step (one at a time per host; the first by id if ever more). */
  activeStepOf(host: string): StepRecord | undefined {
    const ids = this.busy.get(host);
    if (!ids) return undefined;
    return [...ids].sort().map((id) => this.steps[id]!)[0];
  }

  /**
   * The model as a scheduler snapshot, sharing the model's maps: valid for synchronous use until
   * the next commit (the reconciler's pass); `lastSeen` is the caller's own, not copied.
   */
  live(lastSeen: Record<string, number>): RolloutSnapshot {
    const lock = this.initLock;
    return { hosts: this.hosts, steps: this.steps, ...(lock ? { initLock: lock } : {}), tokens: this.tokens, lastSeen, index: this.index };
  }

  private changed(key: string, record: StoreRecord | undefined): void {
    if (key.startsWith(STEP_PREFIX)) this.stepChanged(key.slice(STEP_PREFIX.length), record?.value as StepRecord | undefined);
    else if (key.startsWith(HOST_PREFIX)) {
      const name = key.slice(HOST_PREFIX.length);
      if (record) this.hosts[name] = record.value as HostRecord;
      else delete this.hosts[name];
    } else if (key.startsWith(TOKEN_PREFIX)) {
      if (record) this.tokenRecords.set(key, record.value as TokenRecord);
      else this.tokenRecords.delete(key);
      this.tokenList = undefined;
    } else if (key === INIT_LOCK_KEY) this.initLock = record?.value as InitLock | undefined;
  }

  private stepChanged(id: string, next: StepRecord | undefined): void {
    const previous = this.steps[id];
    if (previous) this.unindex(previous);
    if (!next) {
      delete this.steps[id];
      if (previous && previous.seq >= this.maxSeq) this.maxSeqStale = true;
      return;
    }
    this.steps[id] = next;
    const sets = stepIndexSets(next);
    if (sets.dynamic) this.dynamic.add(id);
    if (sets.cleanup) this.cleanup.add(id);
    if (sets.uploads) this.uploads.add(id);
    if (sets.occupying) this.occupying.add(id);
    if (sets.busy) {
      let ids = this.busy.get(next.host);
      if (!ids) {
        ids = new Set();
        this.busy.set(next.host, ids);
      }
      ids.add(id);
      this.busyHosts.add(next.host);
    }
    if (next.seq > this.maxSeq) this.maxSeq = next.seq;
    else if (previous && previous.seq === this.maxSeq && next.seq < previous.seq) this.maxSeqStale = true;
  }

  private unindex(record: StepRecord): void {
    this.dynamic.delete(record.id);
    this.cleanup.delete(record.id);
    this.uploads.delete(record.id);
    this.occupying.delete(record.id);
    const ids = this.busy.get(record.host);
    if (!ids?.delete(record.id) || ids.size > 0) return;
    this.busy.delete(record.host);
    this.busyHosts.delete(record.host);
  }
}
