/**
 * Property test of the incremental scheduler (ADR 0037): random event sequences (enrollments,
 * reports of every outcome, time passing, tokens minted and expired, operator retry/remove/rebind)
 * are committed to a store, and after every event the scheduler decides twice — once over a
 * snapshot rebuilt from the whole store the old way (no index: every step walked), once over the
 * rollout model kept current by the store's changes (server/rollout/rollout-model.ts, with its
 * indexes) — and both must give identical decisions, waiting words and wake time. The decisions
 * are then committed the way the reconciler does. Seeded PRNG: a failure names its seed.
 * A second test checks the model against a rebuild after rollbacks and deletes.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterPlan } from '../../../generator/plan/types.ts';
import {
  createStepRecord,
  type HostRecord,
  type InitLock,
  type RolloutSnapshot,
  type StepRecord,
  type TokenRecord,
} from '../../../server/model.ts';
import { RolloutRepository } from '../../../server/rollout/repository.ts';
import { RolloutModel } from '../../../server/rollout/rollout-model.ts';
import {
  applyReport,
  createSchedulerConfig,
  type Decision,
  decide,
  doneHosts,
  planRebind,
  planRemoval,
  requeueFailed,
  type SchedulerConfig,
} from '../../../server/scheduler.ts';
import { MemoryStore } from '../../../server/store/memory-store.ts';
import type { Store, StoreRecord, StoreTxn } from '../../../server/store/types.ts';
import { KeyValueView } from '../../../server/store/view.ts';
import { type FixtureOptions, makePlan, newHostRecord } from './fixtures.ts';

const T0 = Date.UTC(2026, 10, 22, 8, 0, 0);
const RESULTS = { etcdVoter: true, nodeRegistered: true, apiServerReady: true, etcdHealthy: true };

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The snapshot as the coordinator built it before the rollout model: every record listed from the store. */
function fullSnapshot(store: Store, lastSeen: Record<string, number>): RolloutSnapshot {
  const hosts: Record<string, HostRecord> = {};
  for (const r of store.list<HostRecord>('host/')) hosts[r.value.name] = r.value;
  const steps: Record<string, StepRecord> = {};
  for (const r of store.list<StepRecord>('step/')) steps[r.value.id] = r.value;
  const lock = store.get<InitLock>('lock/init')?.value;
  const tokens = store.list<TokenRecord>('token/').map((r) => r.value);
  return { hosts, steps, ...(lock ? { initLock: lock } : {}), tokens, lastSeen: { ...lastSeen } };
}

class Run {
  readonly store = new MemoryStore();
  readonly repo = new RolloutRepository(this.store);
  readonly lastSeen: Record<string, number> = {};
  readonly config: SchedulerConfig;
  now = T0;
  private tokens = 0;

  constructor(
    readonly plan: ClusterPlan,
    readonly random: () => number,
  ) {
    this.config = createSchedulerConfig(plan, { backoffBaseMs: 1000, backoffMaxMs: 8000, maxAttempts: 2 });
  }

  async start(): Promise<void> {
    const txn: StoreTxn = { puts: [] };
    for (const h of this.plan.hosts) txn.puts!.push({ key: `host/${h.name}`, value: newHostRecord(h.name, h.role) });
    for (const s of this.plan.steps) txn.puts!.push({ key: `step/${s.id}`, value: createStepRecord(s.id, s.host, s.kind, 'plan', 0) });
    await this.store.commit(txn);
  }

  pick<T>(items: T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)];
  }

  async put(records: { key: string; value: unknown }[]): Promise<void> {
    if (records.length > 0) await this.store.commit({ puts: records });
  }

  /** One random event, committed to the store. */
  async event(): Promise<string> {
    const roll = this.random();
    const hosts = this.repo.hosts().map((r) => r.value);
    const steps = this.repo.steps().map((r) => r.value);
    if (roll < 0.2) {
      const host = this.pick(hosts.filter((h) => !h.enrollment && !h.removed));
      if (!host) return 'nothing to enroll';
      const enrollment = {
        publicKey: 'k',
        machineId: host.name,
        smbiosUuid: '',
        macs: [],
        hostname: host.name,
        arch: 'amd64',
        os: 'x',
        agentVersion: 't',
        at: this.now,
        sourceAddress: '::1',
      };
      this.lastSeen[host.name] = this.now;
      await this.put([
        { key: `host/${host.name}`, value: { ...host, credentialSpent: true, enrollment, awaitingApproval: this.random() < 0.1 } },
      ]);
      return `enroll ${host.name}`;
    }
    if (roll < 0.6) {
      const step = this.pick(steps.filter((s) => s.state === 'released' || s.state === 'running'));
      if (!step) return 'nothing to report';
      const r = this.random();
      const outcome = r < 0.65 ? 'succeeded' : r < 0.9 ? 'failed' : 'running';
      const updated = applyReport(
        this.plan,
        step,
        {
          outcome,
          attempt: step.attempt,
          permanent: outcome === 'failed' && this.random() < 0.2,
          results: this.random() < 0.9 ? RESULTS : {},
        },
        '',
        this.now,
        this.config,
      );
      const puts: { key: string; value: unknown }[] = [{ key: `step/${step.id}`, value: updated }];
      const lock = this.repo.initLock();
      if (step.kind === 'kubeadm-init' && updated.state === 'succeeded' && lock?.holder === step.host)
        puts.push({ key: 'lock/init', value: { ...lock, succeeded: true, succeededAt: this.now } });
      await this.put(puts);
      return `report ${step.id} ${outcome}`;
    }
    if (roll < 0.75) {
      this.now += Math.floor(this.random() * (this.random() < 0.2 ? 3 * 3600_000 : 20_000));
      return 'time passes';
    }
    if (roll < 0.82) {
      const id = `t${String(this.tokens++).padStart(4, '0')}`;
      await this.put([
        {
          key: `token/${id}`,
          value: { id, token: `${id}.x`, createdAt: this.now, expiresAt: this.now + this.config.tokenTtlMs, via: 'api' },
        },
      ]);
      return `token ${id}`;
    }
    if (roll < 0.86) {
      const expired = this.repo.tokens().find((t) => t.expiresAt < this.now);
      if (!expired) return 'no token to expire';
      await this.store.commit({ deletes: [`token/${expired.id}`] });
      return `token ${expired.id} deleted`;
    }
    if (roll < 0.93) {
      const host = this.pick(hosts.map((h) => h.name));
      const requeued = requeueFailed(
        steps.filter((s) => s.host === host),
        this.now,
      );
      await this.put(requeued.map((s) => ({ key: `step/${s.id}`, value: s })));
      return `retry ${host}`;
    }
    const host = this.pick(hosts.filter((h) => !h.removed));
    if (!host) return 'nothing to remove';
    if (this.random() < 0.5) {
      const changed = planRebind(steps, host.name, this.now);
      const { enrollment: _e, ...unbound } = host;
      await this.put([
        { key: `host/${host.name}`, value: { ...unbound, rebindAllowed: true } },
        ...changed.map((s) => ({ key: `step/${s.id}`, value: s })),
      ]);
      return `rebind ${host.name}`;
    }
    const { cancel, create } = planRemoval(fullSnapshot(this.store, this.lastSeen), this.plan, host.name, this.now, this.config);
    await this.put([
      { key: `host/${host.name}`, value: { ...host, removed: true } },
      ...[...cancel, ...create].map((s) => ({ key: `step/${s.id}`, value: s })),
    ]);
    return `remove ${host.name}`;
  }

  /** Decides over both snapshots, requires the same schedule, and commits it as the reconciler does. */
  async schedule(trace: string[]): Promise<void> {
    for (let round = 0; round < 6; round++) {
      const full = fullSnapshot(this.store, this.lastSeen);
      const incremental = this.repo.liveSnapshot(this.lastSeen);
      expect(incremental.index, 'the memory store feeds a rollout model').toBeDefined();
      const expected = decide(full, this.plan, this.now, this.config);
      const actual = decide(incremental, this.plan, this.now, this.config);
      expect(actual, trace.join('\n')).toEqual(expected);
      expect(doneHosts(incremental, this.plan), trace.join('\n')).toEqual(doneHosts(full, this.plan));
      if (!(await this.commit(expected.decisions, full))) return;
    }
  }

  private async commit(decisions: Decision[], snapshot: RolloutSnapshot): Promise<boolean> {
    const working = new Map<string, StepRecord>();
    const puts: { key: string; value: unknown }[] = [];
    const get = (id: string) => working.get(id) ?? snapshot.steps[id];
    for (const d of decisions) {
      if (d.type === 'create-steps') {
        for (const s of d.steps) working.set(s.id, s);
        const target = d.cleanupFor ? get(d.cleanupFor) : undefined;
        if (target) working.set(target.id, { ...target, cleanup: d.steps.map((s) => s.id) });
      } else if (d.type === 'release') {
        const next: StepRecord = { ...get(d.stepId)!, state: 'released', attempt: d.attempt, releasedAt: this.now };
        delete next.lastReport;
        if (d.acquireInitLock) puts.push({ key: 'lock/init', value: { holder: d.host, acquiredAt: this.now, succeeded: false } });
        if (d.mintInitToken) {
          const id = `i${String(this.tokens++).padStart(4, '0')}`;
          puts.push({
            key: `token/${id}`,
            value: { id, token: `${id}.x`, createdAt: this.now, expiresAt: this.now + this.config.tokenTtlMs, via: 'init' },
          });
          next.tokenId = id;
        } else if (d.tokenId !== undefined) next.tokenId = d.tokenId;
        working.set(next.id, next);
      }
    }
    for (const [id, record] of working) puts.push({ key: `step/${id}`, value: record });
    await this.put(puts);
    return puts.length > 0;
  }
}

const CASES: { name: string; options: FixtureOptions }[] = [
  { name: 'stacked, coordinator distribution', options: { controlPlanes: 3, workers: 6, workerParallelism: 2 } },
  { name: 'stacked, upload-certs', options: { controlPlanes: 3, workers: 4, distribution: 'upload-certs', controlPlaneParallelism: 2 } },
  { name: 'external etcd', options: { topology: 'external-etcd', etcd: 3, controlPlanes: 2, workers: 5, workerParallelism: 3 } },
];

describe('incremental scheduling decides exactly as the full pass', () => {
  for (const { name, options } of CASES) {
    it(`${name}: 40 random sequences of 120 events`, async () => {
      const plan = makePlan(options);
      for (let seed = 1; seed <= 40; seed++) {
        const run = new Run(plan, prng(seed * 7919));
        await run.start();
        const trace = [`seed ${seed * 7919}`];
        await run.schedule(trace);
        for (let i = 0; i < 120; i++) {
          trace.push(await run.event());
          await run.schedule(trace);
        }
      }
    });
  }
});

/** A store over a bare view, so a test can apply and roll back like the journal and etcd stores do. */
function viewStore(view: KeyValueView): Store & { watch: NonNullable<Store['watch']> } {
  return {
    open: async () => {},
    get: <T>(key: string) => view.get<T>(key),
    list: <T>(prefix: string) => view.list<T>(prefix),
    revision: () => view.revision(),
    watch: (listener) => view.watch(listener),
    commit: async () => ({ ok: false, conflicts: [] }),
    flushed: async () => {},
    close: async () => {},
  };
}

function modelState(model: RolloutModel): unknown {
  const index = model.index;
  const sorted = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    hosts: sorted(model.hosts),
    steps: sorted(model.steps),
    tokens: model.tokens,
    initLock: model.initLock,
    index: {
      ...index,
      busyHosts: [...index.busyHosts].sort(),
      dynamic: [...index.dynamic].sort(),
      cleanup: [...index.cleanup].sort(),
      uploads: [...index.uploads].sort(),
      occupying: [...index.occupying].sort(),
    },
  };
}

describe('the rollout model follows every change to the view', () => {
  it('matches a model rebuilt from the view after commits, rollbacks, deletes and loads', () => {
    const random = prng(42);
    const view = new KeyValueView();
    const model = new RolloutModel(viewStore(view));
    const step = (i: number, state: StepRecord['state'], seq: number): StepRecord => ({
      id: `h${i % 5}/reset#${i}`,
      host: `h${i % 5}`,
      kind: i % 3 === 0 ? 'upload-certs' : 'reset',
      origin: i % 2 === 0 ? 'plan' : 'cleanup',
      state,
      attempt: 0,
      failures: 0,
      results: {},
      seq,
      ...(i % 4 === 0 ? { needsCleanup: true } : {}),
    });
    const states: StepRecord['state'][] = ['pending', 'released', 'running', 'succeeded', 'failed', 'retry-wait', 'cancelled'];
    for (let round = 0; round < 300; round++) {
      const puts: { key: string; value: unknown }[] = [];
      const deletes: string[] = [];
      for (let k = 0; k < 1 + Math.floor(random() * 4); k++) {
        const i = Math.floor(random() * 20);
        const r = random();
        if (r < 0.7)
          puts.push({
            key: `step/${step(i, states[Math.floor(random() * states.length)]!, Math.floor(random() * 30)).id}`,
            value: step(i, states[Math.floor(random() * states.length)]!, Math.floor(random() * 30)),
          });
        else if (r < 0.85) deletes.push(`step/${step(i, 'pending', 0).id}`);
        else puts.push({ key: `token/t${i}`, value: { id: `t${i}`, token: 'x', createdAt: 0, expiresAt: i, via: 'api' } });
      }
      const base = view.revision();
      const { undo } = view.apply({ puts, deletes: deletes.filter((d) => !puts.some((p) => p.key === d)) });
      if (random() < 0.3) view.rollback(undo, base);
      if (random() < 0.05)
        view.load({
          key: 'lock/init',
          value: { holder: 'h1', acquiredAt: 0, succeeded: random() < 0.5 },
          version: view.revision() + 1,
        } as StoreRecord);
      expect(modelState(model), `round ${round}`).toEqual(modelState(new RolloutModel(viewStore(view))));
    }
  });
});
