/**
 * The rollout repository: the only code that knows the store's key layout. Reads are typed
 * (host, step, token records, the init lock, security events); writes go through `RolloutTxn`,
 * a builder that pairs every put with the compare-and-swap check it needs. The init lock — the
 * control-plane init mutex, like cluster-api's — is read and written here and nowhere else:
 * acquired when `kubeadm init` is released, marked succeeded when it reports success.
 * Secret hand-outs are audit records under `audit/` (server/rollout/audit.ts), and security events
 * are records under `security/` (server/rollout/security-events.ts).
 *
 * Runtime contract: one repository per store; synchronous reads from the store's view.
 */
import type { HostRecord, InitLock, RolloutSnapshot, SecurityEvent, StepRecord, TokenRecord } from '../model.ts';
import { type CommitResult, type Store, StoreError, type StoreRecord, type StoreTxn } from '../store/index.ts';
import { type AuditEntry, appendAudit, listAudit } from './audit.ts';
import { HOST_PREFIX, INIT_LOCK_KEY, RolloutModel, STEP_PREFIX, TOKEN_PREFIX } from './rollout-model.ts';
import { SecurityEventLog } from './security-events.ts';

// Writers keep to the store's MAX_RECORDS_PER_COMMIT (server/store/types.ts); re-exported for them.
export { MAX_RECORDS_PER_COMMIT } from '../store/index.ts';
/** Records that hold secrets (bootstrap tokens; steps with their reported log tails): sealed at rest under a passphrase. */
export const SECRET_RECORD_PREFIXES: readonly string[] = [STEP_PREFIX, TOKEN_PREFIX];

/** A record as read, with the version a later write must check. */
export type Stored<T> = StoreRecord<T>;

/** Builds one compare-and-swap transaction over rollout records. */
export class RolloutTxn {
  private readonly puts: NonNullable<StoreTxn['puts']> = [];
  private readonly checks: NonNullable<StoreTxn['checks']> = [];

  constructor(private readonly store: Store) {}

  /** Writes a host record read at `version` (0: it must not exist yet). */
  host(value: HostRecord, version: number): this {
    return this.put(HOST_PREFIX + value.name, value, version);
  }

  /** Writes a step record read at `version` (0: it must not exist yet). */
  step(value: StepRecord, version: number): this {
    return this.put(STEP_PREFIX + value.id, value, version);
  }

  /** Writes a step record at the version the store holds now (the scheduler's own commits). */
  stepAsStored(value: StepRecord): this {
    return this.step(value, this.store.get(STEP_PREFIX + value.id)?.version ?? 0);
  }

  /** Records a new bootstrap token. */
  newToken(value: TokenRecord): this {
    return this.put(TOKEN_PREFIX + value.id, value, 0);
  }

  /** Takes the init lock for `holder` (the release of `kubeadm init`), checked against its current version. */
  acquireInitLock(holder: string, now: number): this {
    const current = this.store.get<InitLock>(INIT_LOCK_KEY)?.version ?? 0;
    return this.put(INIT_LOCK_KEY, { holder, acquiredAt: now, succeeded: false } satisfies InitLock, current);
  }

  /** Marks the init lock succeeded when `holder` holds it (its `kubeadm init` reported success); otherwise nothing. */
  initSucceeded(holder: string, now: number): this {
    const lock = this.store.get<InitLock>(INIT_LOCK_KEY);
    if (!lock || lock.value.holder !== holder) return this;
    return this.put(INIT_LOCK_KEY, { ...lock.value, succeeded: true, succeededAt: now } satisfies InitLock, lock.version);
  }

  get empty(): boolean {
    return this.puts.length === 0;
  }

  /** Records written so far. */
  get size(): number {
    return this.puts.length;
  }

  toStoreTxn(): StoreTxn {
    return { puts: [...this.puts], checks: [...this.checks] };
  }

  private put(key: string, value: unknown, version: number): this {
    this.puts.push({ key, value });
    this.checks.push({ key, version });
    return this;
  }
}

export class RolloutRepository {
  private readonly security: SecurityEventLog;
  private modelCache: RolloutModel | undefined;

  constructor(private readonly store: Store) {
    this.security = new SecurityEventLog(store);
  }

  /** The in-memory rollout model (rollout-model.ts), built on first use; undefined for a store that cannot be watched. */
  private get model(): RolloutModel | undefined {
    const { store } = this;
    if (!this.modelCache && store.watch) this.modelCache = new RolloutModel(store as Store & { watch: NonNullable<Store['watch']> });
    return this.modelCache;
  }

  host(name: string): Stored<HostRecord> | undefined {
    return this.store.get<HostRecord>(HOST_PREFIX + name);
  }

  hosts(): Stored<HostRecord>[] {
    return this.store.list<HostRecord>(HOST_PREFIX);
  }

  /** The host records by name. */
  hostRecords(): RolloutSnapshot['hosts'] {
    const model = this.model;
    if (model) return { ...model.hosts };
    const hosts: RolloutSnapshot['hosts'] = {};
    for (const r of this.hosts()) hosts[r.value.name] = r.value;
    return hosts;
  }

  step(id: string): Stored<StepRecord> | undefined {
    return this.store.get<StepRecord>(STEP_PREFIX + id);
  }

  steps(): Stored<StepRecord>[] {
    return this.store.list<StepRecord>(STEP_PREFIX);
  }

  /** The host's released or running step, if any (from the rollout model's index when there is one). */
  activeStepOf(host: string): StepRecord | undefined {
    const model = this.model;
    if (model) return model.activeStepOf(host);
    for (const r of this.stepsNamedFor(host))
      if (r.value.host === host && (r.value.state === 'released' || r.value.state === 'running')) return r.value;
    return undefined;
  }

  /** The steps whose id starts with `host/` (every step of a host is named so); filter on `.host` for exactness. */
  stepsNamedFor(host: string): Stored<StepRecord>[] {
    return this.store.list<StepRecord>(`${STEP_PREFIX}${host}/`);
  }

  /** Steps whose id starts with `prefix` (the coordinator's own steps: `@coordinator`). */
  stepsWithPrefix(prefix: string): Stored<StepRecord>[] {
    return this.store.list<StepRecord>(STEP_PREFIX + prefix);
  }

  tokens(): TokenRecord[] {
    const model = this.model;
    if (model) return [...model.tokens];
    return this.store.list<TokenRecord>(TOKEN_PREFIX).map((r) => r.value);
  }

  initLock(): InitLock | undefined {
    return this.store.get<InitLock>(INIT_LOCK_KEY)?.value;
  }

  /**
   * What a scheduling pass reads, without copying: the rollout model's own maps and indexes, valid
   * for synchronous use until the next commit (the reconciler). Falls back to `snapshot`.
   */
  liveSnapshot(lastSeen: Record<string, number>): RolloutSnapshot {
    return this.model?.live(lastSeen) ?? this.snapshot(lastSeen);
  }

  /** Everything the scheduler reads, at one instant, as a copy; `lastSeen` is per-process state the caller owns. */
  snapshot(lastSeen: Record<string, number>): RolloutSnapshot {
    const model = this.model;
    if (model) {
      const lock = model.initLock;
      return {
        hosts: { ...model.hosts },
        steps: { ...model.steps },
        ...(lock ? { initLock: lock } : {}),
        tokens: [...model.tokens],
        lastSeen: { ...lastSeen },
      };
    }
    const hosts = this.hostRecords();
    const steps: RolloutSnapshot['steps'] = {};
    for (const r of this.steps()) steps[r.value.id] = r.value;
    const lock = this.initLock();
    return { hosts, steps, ...(lock ? { initLock: lock } : {}), tokens: this.tokens(), lastSeen: { ...lastSeen } };
  }

  txn(): RolloutTxn {
    return new RolloutTxn(this.store);
  }

  /** Applies at once to the store's view; resolves when durable (see server/store/types.ts). */
  commit(txn: RolloutTxn): Promise<CommitResult> {
    return this.store.commit(txn.toStoreTxn());
  }

  flushed(): Promise<void> {
    return this.store.flushed();
  }

  /** Records a secret hand-out before it leaves; a failed write is a storage failure (503, retry). */
  async audit(entry: AuditEntry): Promise<void> {
    await appendAudit(this.store, entry).catch((error: unknown) => {
      throw error instanceof StoreError ? error : new StoreError('the audit record could not be written', error);
    });
  }

  /** The audit trail, oldest first (one host's with `host`). */
  auditTrail(host?: string): AuditEntry[] {
    return listAudit(this.store, host);
  }

  /** Stores a security event (bounded per kind: first + latest, server/rollout/security-events.ts). */
  recordSecurityEvent(event: Omit<SecurityEvent, 'seq' | 'count'>): Promise<SecurityEvent> {
    return this.security.record(event);
  }

  securityEvents(): SecurityEvent[] {
    return this.security.list();
  }
}
