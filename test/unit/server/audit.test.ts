/**
 * The audit trail as store records (server/rollout/audit.ts, ADR 0035): hand-out order, a key
 * another writer took first, a store that cannot write, one host's entries, and the one-time
 * import of an `audit.log` kept before the trail moved into the store.
 */
import { describe, expect, it } from 'vitest';
import {
  AUDIT_PREFIX,
  type AuditEntry,
  appendAudit,
  importLegacyAudit,
  listAudit,
  parseLegacyAuditLog,
} from '../../../server/rollout/audit.ts';
import { MAX_RECORDS_PER_COMMIT } from '../../../server/rollout/repository.ts';
import { type CommitResult, MemoryStore, StoreError, type StoreTxn } from '../../../server/store/index.ts';
import { FailingStore } from './failing-store.ts';

const entry = (host: string, step: string, attempt = 1): AuditEntry => ({
  at: '2026-12-06T00:00:00.000Z',
  host,
  step,
  attempt,
  secrets: ['bootstrap-token'],
});

describe('the audit trail in the store', () => {
  it('lists hand-outs in the order they were made, the same attempt twice as two entries, one host with `host`', async () => {
    const store = new MemoryStore();
    await appendAudit(store, entry('cp1', 'cp1/kubeadm-init'));
    // Other records in between move the revision on: order still holds.
    await store.commit({ puts: [{ key: 'host/x', value: {} }] });
    await appendAudit(store, entry('cp2', 'cp2/kubeadm-join-control-plane'));
    await appendAudit(store, entry('cp1', 'cp1/kubeadm-init'));
    expect(listAudit(store).map((e) => `${e.host} ${e.step}`)).toEqual([
      'cp1 cp1/kubeadm-init',
      'cp2 cp2/kubeadm-join-control-plane',
      'cp1 cp1/kubeadm-init',
    ]);
    expect(listAudit(store, 'cp2')).toEqual([entry('cp2', 'cp2/kubeadm-join-control-plane')]);
    expect(listAudit(store, 'w9')).toEqual([]);
  });

  it('a key another writer took first (a second replica) is not overwritten: the entry goes to the next free key', async () => {
    const store = new MemoryStore();
    const next = `${AUDIT_PREFIX}${String(store.revision() + 1).padStart(12, '0')}`;
    // What a store shared with another replica looks like from here: the key is taken, the revision not yet moved.
    const shared = new (class extends MemoryStore {
      override revision(): number {
        return 0;
      }
    })();
    await shared.commit({ puts: [{ key: next, value: entry('other', 'other/step') }] });
    await appendAudit(shared, entry('cp1', 'cp1/kubeadm-init'));
    expect(listAudit(shared).map((e) => e.host)).toEqual(['other', 'cp1']);
  });

  it('hand-outs asked for in one turn share commits of at most MAX_RECORDS_PER_COMMIT, in order, and later ones list after them', async () => {
    class CountingStore extends MemoryStore {
      readonly sizes: number[] = [];
      override commit(txn: StoreTxn): Promise<CommitResult> {
        this.sizes.push(txn.puts?.length ?? 0);
        return super.commit(txn);
      }
    }
    const store = new CountingStore();
    const wave = Array.from({ length: 250 }, (_, i) => entry(`w${i}`, `w${i}/kubeadm-join-worker`));
    await Promise.all(wave.map((e) => appendAudit(store, e)));
    expect(store.sizes).toEqual([100, 100, 50]);
    // The wave used more keys than it moved the revision: the next hand-out still lists last.
    await appendAudit(store, entry('late', 'late/kubeadm-join-worker'));
    expect(listAudit(store).map((e) => e.host)).toEqual([...wave.map((e) => e.host), 'late']);
  });

  it('a writer started on an existing trail (a restart, a new leader) numbers its keys after the trail', async () => {
    const store = new MemoryStore();
    const wave = Array.from({ length: 40 }, (_, i) => entry(`w${i}`, `w${i}/kubeadm-join-worker`));
    await Promise.all(wave.map((e) => appendAudit(store, e)));
    // What a restarted coordinator sees: the same records, its own writer.
    const restarted = new MemoryStore();
    await restarted.commit({ puts: store.list(AUDIT_PREFIX).map((r) => ({ key: r.key, value: r.value })) });
    await appendAudit(restarted, entry('late', 'late/kubeadm-join-worker'));
    expect(listAudit(restarted).map((e) => e.host)).toEqual([...wave.map((e) => e.host), 'late']);
  });

  it('a store that cannot write rejects with StoreError and records nothing', async () => {
    const store = new FailingStore(new MemoryStore());
    store.failing = true;
    await expect(appendAudit(store, entry('cp1', 'cp1/kubeadm-init'))).rejects.toBeInstanceOf(StoreError);
    expect(listAudit(store)).toEqual([]);
  });
});

describe('an audit.log from before the store kept the trail', () => {
  it('is read line by line; a torn or foreign line is named by number, not dropped silently', () => {
    const text = [JSON.stringify(entry('cp1', 'cp1/kubeadm-init')), '{"at":"x","host":', '', JSON.stringify({ hello: 1 }), ''].join('\n');
    const { entries, unreadable } = parseLegacyAuditLog(text);
    expect(entries).toEqual([entry('cp1', 'cp1/kubeadm-init')]);
    expect(unreadable).toEqual([2, 4]);
  });

  it('is imported once, ahead of the entries the store records afterwards; a store with a trail imports nothing', async () => {
    const store = new MemoryStore();
    await store.commit({ puts: Array.from({ length: 30 }, (_, i) => ({ key: `host/h${i}`, value: {} })) });
    const legacy = Array.from({ length: 12 }, (_, i) => entry(`w${i}`, `w${i}/kubeadm-join-worker`));
    expect(await importLegacyAudit(store, legacy)).toBe(12);
    await appendAudit(store, entry('late', 'late/kubeadm-join-worker'));
    expect(listAudit(store).map((e) => e.host)).toEqual([...legacy.map((e) => e.host), 'late']);
    expect(await importLegacyAudit(store, legacy)).toBe(0);
    expect(listAudit(store)).toHaveLength(13);
  });

  it('a long log goes in commits of at most MAX_RECORDS_PER_COMMIT (etcd refuses larger Txns); an interrupted import resumes', async () => {
    class SizedStore extends MemoryStore {
      readonly sizes: number[] = [];
      failAt = -1;
      override commit(txn: StoreTxn): Promise<CommitResult> {
        if (this.sizes.length === this.failAt) {
          this.failAt = -1;
          return Promise.reject(new StoreError('etcd unreachable'));
        }
        this.sizes.push((txn.puts?.length ?? 0) + (txn.deletes?.length ?? 0));
        return super.commit(txn);
      }
    }
    const store = new SizedStore();
    const legacy = Array.from({ length: 250 }, (_, i) => entry(`w${i}`, `w${i}/kubeadm-join-worker`));
    store.failAt = 1;
    await expect(importLegacyAudit(store, legacy)).rejects.toBeInstanceOf(StoreError);
    expect(listAudit(store)).toHaveLength(MAX_RECORDS_PER_COMMIT);
    // The next start finishes the import: the entries already in the store are not written twice.
    expect(await importLegacyAudit(store, legacy)).toBe(250 - MAX_RECORDS_PER_COMMIT);
    expect(listAudit(store).map((e) => e.host)).toEqual(legacy.map((e) => e.host));
    expect(Math.max(...store.sizes)).toBeLessThanOrEqual(MAX_RECORDS_PER_COMMIT);
    await appendAudit(store, entry('late', 'late/kubeadm-join-worker'));
    expect(await importLegacyAudit(store, legacy)).toBe(0);
  });
});
