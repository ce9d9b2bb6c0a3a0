/**
 * Scheduled etcd snapshots (spec.etcd.backup, ADR 0044): the pure part of `decide` as a table over
 * snapshots of a finished rollout, then a coordinator on a journal with a fake clock — due →
 * released once, in flight → not doubled, failed → final and retried at the next due time,
 * restart → the same step again, never a second one.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterPlan } from '../../../generator/plan/types.ts';
import { snapshotHistory, snapshotStepId } from '../../../server/backup/schedule.ts';
import { Coordinator } from '../../../server/coordinator.ts';
import { readRolloutHosts } from '../../../server/day2/operation.ts';
import { createStepRecord, type HostRecord, type RolloutSnapshot, type StepRecord } from '../../../server/model.ts';
import { createSchedulerConfig, decide } from '../../../server/scheduler.ts';
import { JournalStore, type Store } from '../../../server/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makePlan, newHostRecord } from './fixtures.ts';
import { FakeClock, makeInputs } from './support.ts';

const HOUR = 3_600_000;
const T = Date.UTC(2026, 11, 6, 12, 0, 0);
const SIX_HOURS = { schedule: '6h', intervalSeconds: 21_600, retention: 7 };

function withBackup(plan: ClusterPlan): ClusterPlan {
  return { ...plan, spec: { ...plan.spec, etcd: { ...plan.spec.etcd, backup: SIX_HOURS } } };
}

function enrolled(name: string, role: HostRecord['role']): HostRecord {
  const binding = {
    publicKey: `key-${name}`,
    machineId: `m-${name}`,
    smbiosUuid: `u-${name}`,
    macs: [],
    hostname: name,
    arch: 'amd64',
    os: 'debian',
    agentVersion: 'test',
    at: T - 48 * HOUR,
    sourceAddress: '127.0.0.1',
  };
  return { ...newHostRecord(name, role), enrollment: binding, credentialSpent: true };
}

/** Every plan step succeeded, every host enrolled and its agent seen just now. */
function finished(plan: ClusterPlan, extra: StepRecord[] = []): RolloutSnapshot {
  const steps: Record<string, StepRecord> = {};
  for (const s of plan.steps) steps[s.id] = { ...createStepRecord(s.id, s.host, s.kind, 'plan', 0), state: 'succeeded', attempt: 1 };
  for (const r of extra) steps[r.id] = r;
  const hosts = Object.fromEntries(plan.hosts.map((h) => [h.name, enrolled(h.name, h.role)]));
  return {
    hosts,
    steps,
    tokens: [],
    initLock: { holder: 'cp1', acquiredAt: T - 48 * HOUR, succeeded: true },
    lastSeen: Object.fromEntries(plan.hosts.map((h) => [h.name, T])),
  };
}

function snapshotRecord(host: string, at: number, state: StepRecord['state'], seq = 1): StepRecord {
  return {
    ...createStepRecord(snapshotStepId(host, at), host, 'etcd-snapshot', 'snapshot', seq),
    state,
    attempt: 1,
    ...(state === 'succeeded' || state === 'failed' ? { finishedAt: at + 60_000 } : {}),
  };
}

const PLAN = withBackup(makePlan({ workers: 1 }));
const CONFIG = createSchedulerConfig(PLAN);

/** What one pass over `snapshot` does about snapshots: created ids, cancelled ids, releases, wake. */
function snapshotDecisions(plan: ClusterPlan, snapshot: RolloutSnapshot, now = T) {
  const schedule = decide(snapshot, plan, now, CONFIG);
  const created = schedule.decisions.flatMap((d) => (d.type === 'create-steps' ? d.steps.map((s) => s.id) : []));
  const cancelled = schedule.decisions.flatMap((d) =>
    d.type === 'create-steps' ? (d.replaces ?? []).map((s) => `${s.id}:${s.state}`) : [],
  );
  const released = schedule.decisions.flatMap((d) => (d.type === 'release' ? [d.stepId] : []));
  return { created, cancelled, released, nextWakeAt: schedule.nextWakeAt };
}

describe('the scheduler creates and releases a snapshot step when one is due', () => {
  const now = snapshotStepId('cp1', T);
  const olderFailed = snapshotRecord('cp1', T - 6 * HOUR - 60_000, 'failed');
  const removedCp1 = (() => {
    const s = finished(PLAN);
    s.hosts.cp1 = { ...s.hosts.cp1!, removed: true };
    return s;
  })();
  const cp1Away = (() => {
    const s = finished(PLAN);
    s.lastSeen.cp1 = T - 10 * 60_000;
    return s;
  })();
  const nobodyLive = (() => {
    const s = finished(PLAN);
    s.lastSeen = {};
    return s;
  })();
  const unfinished = (() => {
    const s = finished(PLAN);
    s.steps['w1/kubeadm-join-worker'] = { ...s.steps['w1/kubeadm-join-worker']!, state: 'released' };
    return s;
  })();
  const cp1Busy = finished(PLAN, [{ ...createStepRecord('cp1/reset#9', 'cp1', 'reset', 'cleanup', 9), state: 'released', attempt: 1 }]);
  /** A snapshot released to cp1 `hoursAgo`, whose agent last called `silentMin` minutes ago. */
  const heldByCp1 = (hoursAgo: number, silentMin: number) => {
    const held = { ...snapshotRecord('cp1', T - 7 * HOUR, 'released'), releasedAt: T - hoursAgo * HOUR };
    const s = finished(PLAN, [held]);
    s.lastSeen.cp1 = T - silentMin * 60_000;
    return { s, held };
  };
  const abandoned = heldByCp1(2, 10);

  it.each([
    ['no snapshot yet: one at once, on the first control plane', PLAN, finished(PLAN), [now], [], undefined],
    ['no spec.etcd.backup: never', makePlan({ workers: 1 }), finished(PLAN), [], [], undefined],
    ['the rollout is not finished: not yet', PLAN, unfinished, [], [], undefined],
    [
      'one in flight (released 7 h ago): not a second one',
      PLAN,
      finished(PLAN, [snapshotRecord('cp1', T - 7 * HOUR, 'released')]),
      [],
      [],
      undefined,
    ],
    [
      'newest taken 5 h ago: woken when it is 6 h old',
      PLAN,
      finished(PLAN, [snapshotRecord('cp2', T - 5 * HOUR, 'succeeded')]),
      [],
      [],
      T + HOUR + 60_000,
    ],
    [
      'the newest failed 6 h ago: a fresh one, the failed one cancelled',
      PLAN,
      finished(PLAN, [olderFailed]),
      [now],
      [`${olderFailed.id}:cancelled`],
      undefined,
    ],
    [
      'a failed one 1 h ago: the next due time, not now',
      PLAN,
      finished(PLAN, [snapshotRecord('cp1', T - HOUR, 'failed')]),
      [],
      [],
      T + 5 * HOUR + 60_000,
    ],
    [
      'a cancelled one (host removed mid-snapshot) counts for nothing',
      PLAN,
      finished(PLAN, [snapshotRecord('cp1', T - HOUR, 'cancelled')]),
      [now],
      [],
      undefined,
    ],
    [
      'released 2 h ago to cp1, whose agent has not called for 10 min: abandoned, cancelled, cp2 takes a fresh one',
      PLAN,
      abandoned.s,
      [snapshotStepId('cp2', T)],
      [`${abandoned.held.id}:cancelled`],
      undefined,
    ],
    ['released 2 h ago to cp1, whose agent still calls: still its own (a slow etcd)', PLAN, heldByCp1(2, 0).s, [], [], undefined],
    [
      'released 30 min ago to a silent cp1: not yet abandoned, woken when it is an hour old',
      PLAN,
      heldByCp1(0.5, 10).s,
      [],
      [],
      T + 0.5 * HOUR,
    ],
    ['cp1 removed: cp2 takes it', PLAN, removedCp1, [snapshotStepId('cp2', T)], [], undefined],
    ['cp1 busy with another step: cp2 takes it', PLAN, cp1Busy, [snapshotStepId('cp2', T)], [], undefined],
    ["cp1's agent not seen for 10 min: cp2 takes it", PLAN, cp1Away, [snapshotStepId('cp2', T)], [], undefined],
    ['no agent live (just restarted): none until one calls', PLAN, nobodyLive, [], [], undefined],
  ] as const)('%s', (_name, plan, snapshot, created, cancelled, wake) => {
    const got = snapshotDecisions(plan, snapshot);
    expect(got.created).toEqual(created);
    expect(got.cancelled).toEqual(cancelled);
    // Created and released in the same pass.
    expect(got.released.filter((id) => id.includes('/snapshot-'))).toEqual(created);
    if (wake !== undefined) expect(got.nextWakeAt).toBe(wake);
  });

  it('external etcd: an etcd member takes it', () => {
    const plan = withBackup(makePlan({ topology: 'external-etcd', etcd: 3, workers: 1 }));
    expect(snapshotDecisions(plan, finished(plan)).created).toEqual([snapshotStepId('etcd1', T)]);
  });

  it('the history: in flight, newest finished, the failed ones', () => {
    const ok = snapshotRecord('cp1', T - 3 * HOUR, 'succeeded');
    const bad = snapshotRecord('cp2', T - HOUR, 'failed');
    const open = snapshotRecord('cp1', T, 'running');
    expect(snapshotHistory([ok, bad, open])).toEqual({ inFlight: open, newestFinishedAt: T - HOUR + 60_000, failed: [bad] });
    expect(snapshotHistory([])).toEqual({ failed: [] });
  });
});

describe('a coordinator with a fake clock takes scheduled snapshots', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    while (stores.length) await stores.pop()!.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('a failed scheduled snapshot does not stop `kubeseed upgrade`/`renew` from planning', async () => {
    const stateDir = tempDir('ks-snapshot-day2-');
    dirs.push(stateDir);
    const store = await openJournal(join(stateDir, 'store'));
    const failed = snapshotRecord('cp1', T - HOUR, 'failed');
    const s = finished(PLAN, [failed]);
    const puts = [
      ...Object.values(s.hosts).map((h) => ({ key: `host/${h.name}`, value: h })),
      ...Object.values(s.steps).map((r) => ({ key: `step/${r.id}`, value: r })),
    ];
    expect((await store.commit({ puts, checks: [] })).ok).toBe(true);
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    const hosts = await readRolloutHosts(stateDir, PLAN);
    expect(hosts.find((h) => h.name === 'cp1')).toMatchObject({ failed: false, ready: true });
  });

  async function openJournal(dir: string): Promise<JournalStore> {
    const store = new JournalStore(dir);
    await store.open();
    stores.push(store);
    return store;
  }

  /** A journal holding a finished rollout, as the coordinator left it. */
  async function finishedJournal(): Promise<{ dir: string; store: JournalStore }> {
    const dir = tempDir('ks-snapshot-schedule-');
    dirs.push(dir);
    const store = await openJournal(dir);
    const s = finished(PLAN);
    const puts = [
      ...Object.values(s.hosts).map((h) => ({ key: `host/${h.name}`, value: h })),
      ...Object.values(s.steps).map((r) => ({ key: `step/${r.id}`, value: r })),
      { key: 'lock/init', value: s.initLock },
    ];
    expect((await store.commit({ puts, checks: [] })).ok).toBe(true);
    return { dir, store };
  }

  function coordinatorOn(store: Store, clock: FakeClock): Coordinator {
    return new Coordinator(makeInputs(PLAN, { clock, realClock: clock }), { store, maxWaitMs: 0 });
  }

  const snapshotSteps = (c: Coordinator) => Object.values(c.snapshot().steps).filter((r) => r.origin === 'snapshot');

  it('due → released once to the idle agent; in flight → not doubled; failed → retried at the next due time', async () => {
    const { store } = await finishedJournal();
    const clock = new FakeClock(T);
    const c = coordinatorOn(store, clock);
    await c.start();
    // No agent has called this coordinator yet: nobody to give it to.
    expect(snapshotSteps(c)).toEqual([]);
    const first = await c.next('cp1', 0);
    expect(first?.step).toMatchObject({ id: 'cp1/snapshot-20261206T120000Z', kind: 'etcd-snapshot', host: 'cp1', attempt: 1 });
    // A day later, still in flight: the same step, not a second one.
    clock.advance(24 * HOUR);
    c.reconcile();
    expect(snapshotSteps(c).map((r) => `${r.id}:${r.state}`)).toEqual(['cp1/snapshot-20261206T120000Z:released']);
    expect(c.status().hosts.find((h) => h.name === 'cp1')).toMatchObject({ currentStep: 'cp1/snapshot-20261206T120000Z', done: false });

    await c.report('cp1', {
      stepId: first!.step!.id,
      attempt: 1,
      outcome: 'failed',
      reason: 'etcdctl-exit-1',
      logTail: '',
      startedAt: clock.t,
    });
    // Final at once (no backoff retries) and does not hold the host.
    expect(snapshotSteps(c).map((r) => r.state)).toEqual(['failed']);
    clock.advance(6 * HOUR - 1);
    await c.next('cp1', 0);
    expect(snapshotSteps(c)).toHaveLength(1);
    // The wake timer (nextWakeAt, the coordinator's clock) fires: a pass at the due time.
    clock.advance(1);
    c.reconcile();
    const second = await c.next('cp1', 0);
    expect(second?.step?.id).toBe('cp1/snapshot-20261207T180000Z');
    expect(snapshotSteps(c).map((r) => `${r.id}:${r.state}`)).toEqual([
      'cp1/snapshot-20261206T120000Z:cancelled',
      'cp1/snapshot-20261207T180000Z:released',
    ]);
    await c.report('cp1', { stepId: second!.step!.id, attempt: 1, outcome: 'succeeded', logTail: '', startedAt: clock.t });
    expect(c.status().hosts.find((h) => h.name === 'cp1')).toMatchObject({ done: true, failed: false });
    clock.advance(6 * HOUR - 1);
    expect(await c.next('cp1', 0)).toMatchObject({ step: null, done: true });
    clock.advance(1);
    c.reconcile();
    expect((await c.next('cp1', 0))?.step?.id).toBe('cp1/snapshot-20261208T000000Z');
    c.stop();
  });

  it('a restart neither loses nor duplicates the step in flight', async () => {
    const { dir, store } = await finishedJournal();
    const clock = new FakeClock(T);
    const before = coordinatorOn(store, clock);
    await before.start();
    const released = await before.next('cp1', 0);
    expect(released?.step?.id).toBe('cp1/snapshot-20261206T120000Z');
    before.stop();
    await store.close();
    stores.splice(stores.indexOf(store), 1);

    clock.advance(7 * HOUR);
    const after = coordinatorOn(await openJournal(dir), clock);
    await after.start();
    // The agent asks again after the restart: the same step, the same attempt.
    const again = await after.next('cp1', 0);
    expect(again?.step).toMatchObject({ id: 'cp1/snapshot-20261206T120000Z', attempt: 1 });
    await after.next('cp2', 0);
    expect(snapshotSteps(after).map((r) => r.id)).toEqual(['cp1/snapshot-20261206T120000Z']);
    after.stop();
  });
});
