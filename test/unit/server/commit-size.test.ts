/**
 * No commit carries more than MAX_RECORDS_PER_COMMIT records, whatever the fleet: etcd refuses a
 * Txn of more than `--max-txn-ops` operations (128 by default: "etcdserver: too many operations in
 * txn request"), so on an etcd store the first start of a 43-host cluster, or a release wave of a
 * large `workerParallelism`, failed. The first start writes its records in chunks; the reconciler
 * releases a large wave over several commits in the same pass.
 */
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.ts';
import { MAX_RECORDS_PER_COMMIT } from '../../../server/rollout/repository.ts';
import { type CommitResult, MemoryStore, type StoreTxn } from '../../../server/store/index.ts';
import { SimulatedRollout } from '../status/rollout-sim.ts';
import { makePlan } from './fixtures.ts';
import { FakeKubernetes, makeInputs } from './support.ts';

class RecordingStore extends MemoryStore {
  readonly sizes: number[] = [];
  override commit(txn: StoreTxn): Promise<CommitResult> {
    this.sizes.push((txn.puts?.length ?? 0) + (txn.deletes?.length ?? 0));
    return super.commit(txn);
  }
}

describe('commit size', () => {
  it('fits etcd’s default --max-txn-ops with room for the revision mark and the leader fence', () => {
    expect(MAX_RECORDS_PER_COMMIT).toBeLessThanOrEqual(128 - 2);
  });

  it('the first start of a 250-host cluster and a 240-worker release wave stay within it, and everything is written', async () => {
    const workers = 240;
    const plan = makePlan({ workers, workerParallelism: 1000 });
    const store = new RecordingStore();
    const clock = { now: () => Date.now() };
    const app = buildApp(makeInputs(plan, { clock }), { store, kubernetes: new FakeKubernetes(), defaultWaitMs: 0 });
    try {
      await app.ready();
      expect(Math.max(...store.sizes)).toBeLessThanOrEqual(MAX_RECORDS_PER_COMMIT);
      expect(store.list('host/')).toHaveLength(plan.hosts.length);
      expect(store.list('step/').length).toBeGreaterThanOrEqual(plan.steps.length);

      const sim = new SimulatedRollout(app, plan, clock);
      await sim.enroll(...sim.hosts);
      const beforeWave = store.sizes.length;
      await sim.runToEnd(sim.hosts, 20);
      const status = app.coordinator.status();
      expect(status.done).toBe(true);
      // The worker wave was released at once (parallelism 1000) but over several commits.
      expect(store.sizes.slice(beforeWave).filter((n) => n > 10).length).toBeGreaterThan(1);
      expect(Math.max(...store.sizes)).toBeLessThanOrEqual(MAX_RECORDS_PER_COMMIT);
    } finally {
      await app.close();
    }
  }, 60_000);
});
