/**
 * The rollout repository (server/rollout/repository.ts): typed reads over the key layout, and the
 * init lock's one home — acquired under compare-and-swap, marked succeeded only for its holder.
 */
import { describe, expect, it } from 'vitest';
import { createStepRecord, type HostRecord } from '../../../server/model.ts';
import { RolloutRepository } from '../../../server/rollout/repository.ts';
import { MemoryStore, StoreError } from '../../../server/store/index.ts';
import { FailingStore } from './failing-store.ts';

function host(name: string): HostRecord {
  return { name, role: 'control-plane', credentialSpent: false, rebindAllowed: false, removed: false, awaitingApproval: false };
}

describe('RolloutRepository', () => {
  it('reads back what its transactions wrote, by host, by step and per host', async () => {
    const repo = new RolloutRepository(new MemoryStore());
    const steps = [
      createStepRecord('cp1/a', 'cp1', 'prepare-host', 'plan', 0),
      createStepRecord('cp10/a', 'cp10', 'prepare-host', 'plan', 0),
    ];
    const txn = repo.txn().host(host('cp1'), 0).host(host('cp10'), 0);
    for (const s of steps) txn.step(s, 0);
    expect((await repo.commit(txn)).ok).toBe(true);
    expect(repo.host('cp1')?.value.name).toBe('cp1');
    expect(Object.keys(repo.hostRecords())).toEqual(['cp1', 'cp10']);
    expect(repo.stepsNamedFor('cp1').map((r) => r.value.id)).toEqual(['cp1/a']);
    expect(repo.steps()).toHaveLength(2);
    // A second create of the same record conflicts: version 0 means "must not exist".
    expect((await repo.commit(repo.txn().host(host('cp1'), 0))).ok).toBe(false);
  });

  it('the init lock: taken under CAS, marked succeeded only by its holder, visible in the snapshot', async () => {
    const repo = new RolloutRepository(new MemoryStore());
    expect(repo.initLock()).toBeUndefined();
    const first = repo.txn().acquireInitLock('cp1', 10);
    const second = repo.txn().acquireInitLock('cp2', 11);
    expect((await repo.commit(first)).ok).toBe(true);
    // Built before the first commit, against the lock's old version: refused.
    expect((await repo.commit(second)).ok).toBe(false);
    expect(repo.initLock()).toEqual({ holder: 'cp1', acquiredAt: 10, succeeded: false });
    expect(repo.txn().initSucceeded('cp2', 20).empty).toBe(true);
    await repo.commit(repo.txn().initSucceeded('cp1', 20));
    expect(repo.snapshot({}).initLock).toEqual({ holder: 'cp1', acquiredAt: 10, succeeded: true, succeededAt: 20 });
  });

  it('a failed audit write is a storage failure (StoreError: 503, retry)', async () => {
    const store = new FailingStore(new MemoryStore());
    store.failing = true;
    const repo = new RolloutRepository(store);
    await expect(repo.audit({ at: 'x', host: 'cp1', step: 'cp1/a', attempt: 1, secrets: [] })).rejects.toBeInstanceOf(StoreError);
  });
});
