/**
 * The core of `kubeseed store migrate` (server/store/migrate.ts) on MemoryStores and journals:
 * every record copied in bounded commits with the source's revision carried over, a target that
 * holds anything refused untouched, a copy that does not read back equal refused, and a journal
 * marked moved refused by every later open. The move into a real etcd is
 * test/validators/server/store-migrate.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  batchRecords,
  JournalStore,
  MemoryStore,
  MOVED_FILE,
  migrateJournalToEtcd,
  migrateStore,
  openStore,
  type Store,
  StoreError,
  type StoreRecord,
  StoreRefusal,
  type StoreTxn,
} from '../../../server/store/index.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ks-migrate-'));
  dirs.push(d);
  return d;
};

const OPTIONS = { where: 'the target', emptyIt: 'etcdctl del --prefix kubeseed/t/' };

/** A source as a rollout leaves it: records under several prefixes, some rewritten and deleted, so the revision is ahead of the count. */
async function rolloutSource(records = 250): Promise<MemoryStore> {
  const store = new MemoryStore();
  for (let i = 0; i < records; i++)
    await store.commit({ puts: [{ key: `step/h${i}/install`, value: { attempt: 1, log: 'x'.repeat(i % 7) } }] });
  await store.commit({ puts: [{ key: 'lock/init', value: { holder: 'cp1', succeeded: true } }] });
  await store.commit({ puts: [{ key: 'security/000000000003', value: { kind: 'bad-credential', seq: 3 } }] });
  await store.commit({ puts: [{ key: 'step/h1/install', value: { attempt: 2 } }] });
  await store.commit({ deletes: ['step/h2/install'] });
  return store;
}

/** Wraps a store: sees every commit, and can change what a later reader gets. */
class Recording implements Store {
  readonly commits: StoreTxn[] = [];
  closed = 0;
  constructor(readonly inner: Store) {}
  open = () => this.inner.open();
  get = <T>(key: string) => this.inner.get<T>(key);
  list = <T>(prefix: string) => this.inner.list<T>(prefix);
  revision = () => this.inner.revision();
  commit(txn: StoreTxn) {
    this.commits.push(txn);
    return this.inner.commit(txn);
  }
  flushed = () => this.inner.flushed();
  async close() {
    this.closed++;
  }
}

describe('migrateStore', () => {
  it('copies every record in commits of at most 100, carries the revision over, and reads the copy back', async () => {
    const source = await rolloutSource();
    const target = new Recording(new MemoryStore());
    let opened = 0;
    const result = await migrateStore(
      source,
      async () => {
        opened++;
        return target;
      },
      OPTIONS,
    );
    expect(opened).toBe(2); // once to copy, once to read back
    expect(target.closed).toBe(2);
    expect(result).toEqual({ records: 251, revision: source.revision(), commits: 3 });
    expect(target.commits.map((c) => c.puts!.length)).toEqual([100, 100, 51]);
    expect(target.list('').map((r) => [r.key, r.value])).toEqual(source.list('').map((r) => [r.key, r.value]));
    expect(target.get('step/h1/install')?.value).toEqual({ attempt: 2 });
    expect(target.get('step/h2/install')).toBeUndefined();
    // A security event recorded after the move gets a key no copied event has (seq = revision + 1).
    expect(target.revision()).toBe(source.revision());
    expect(target.revision() + 1).toBeGreaterThan(3);
  });

  it('bounds a commit by bytes too; a record larger than the bound goes alone', () => {
    const rec = (key: string, size: number): StoreRecord => ({ key, value: 'v'.repeat(size), version: 1 });
    const batches = batchRecords([rec('a', 40), rec('b', 40), rec('c', 500), rec('d', 10)], 100, 100);
    expect(batches.map((b) => b.map((r) => r.key))).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(batchRecords([rec('a', 1), rec('b', 1), rec('c', 1)], 2, 1000).map((b) => b.length)).toEqual([2, 1]);
  });

  it('refuses a target that holds a record, naming it and the fix, and writes nothing', async () => {
    const source = await rolloutSource(3);
    const target = new Recording(new MemoryStore());
    await target.inner.commit({ puts: [{ key: 'host/other-cluster', value: {} }] });
    const error = await migrateStore(source, async () => target, OPTIONS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreRefusal);
    expect((error as StoreRefusal).code).toBe('NOT_EMPTY');
    expect((error as Error).message).toContain('the target already holds 1 record(s)');
    expect((error as Error).message).toContain('`etcdctl del --prefix kubeseed/t/`');
    expect(target.commits).toEqual([]);
    expect(target.closed).toBe(1);
  });

  it('refuses a target whose revision moved even with no record left (something wrote there)', async () => {
    const target = new MemoryStore();
    await target.commit({ puts: [{ key: 'x', value: 1 }] });
    await target.commit({ deletes: ['x'] });
    await expect(migrateStore(await rolloutSource(2), async () => target, OPTIONS)).rejects.toThrow(/holds 0 record\(s\) \(revision 2\)/);
  });

  it.each([
    ['a record lost', (s: MemoryStore) => s.commit({ deletes: ['lock/init'] }), /lock\/init is missing/],
    [
      'a value changed',
      (s: MemoryStore) => s.commit({ puts: [{ key: 'step/h0/install', value: { attempt: 9 } }] }),
      /step\/h0\/install differs/,
    ],
    ['a record too many', (s: MemoryStore) => s.commit({ puts: [{ key: 'stray', value: 1 }] }), /stray is not in the source/],
  ])('refuses a copy that does not read back equal: %s', async (_what, damage, message) => {
    const source = await rolloutSource(5);
    const written = new MemoryStore();
    let opened = 0;
    const openTarget = async () => {
      // The second open reads "the medium": the copy with the damage done to it.
      if (opened++ === 1) await damage(written);
      return written;
    };
    const error = await migrateStore(source, openTarget, OPTIONS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(StoreRefusal);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain("The source is unchanged and still the rollout's store");
  });

  it('refuses a copy whose revision reads back behind the source', async () => {
    const source = await rolloutSource(2);
    let opened = 0;
    const error = await migrateStore(
      source,
      async () => {
        if (opened++ === 0) return new MemoryStore();
        const behind = new MemoryStore();
        await behind.commit({ puts: source.list('').map((r) => ({ key: r.key, value: r.value })) });
        return behind;
      },
      OPTIONS,
    ).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/revision 1 is behind the source's \d+/);
  });

  it('a commit that fails says how far it got and how to empty the partial copy', async () => {
    const inner = new MemoryStore();
    let commits = 0;
    const target = new Recording(inner);
    target.commit = (txn: StoreTxn) => (++commits === 2 ? Promise.reject(new StoreError('etcd unreachable')) : inner.commit(txn));
    const error = await migrateStore(await rolloutSource(150), async () => target, OPTIONS).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /copying into the target failed after 1 commit\(s\): etcd unreachable\..*etcdctl del --prefix/,
    );
  });

  it('a target that cannot be opened, to copy or to read back, is a failure naming the source as still the store', async () => {
    const source = await rolloutSource(2);
    const unreachable = async (): Promise<Store> => {
      throw new StoreError('etcd unreachable: connect ECONNREFUSED');
    };
    await expect(migrateStore(source, unreachable, OPTIONS)).rejects.toThrow(
      /copying into the target failed after 0 commit\(s\): etcd unreachable: connect ECONNREFUSED\. The source is unchanged/,
    );
    let opened = 0;
    const once = async () => (opened++ === 0 ? new MemoryStore() : unreachable());
    await expect(migrateStore(source, once, OPTIONS)).rejects.toThrow(/reading the copy back from the target failed: etcd unreachable/);
  });
});

describe('the journal after a move', () => {
  it('keeps the carried-over revision across a reopen (journal replay)', async () => {
    const dir = tempDir();
    const source = await rolloutSource(3);
    const target = await openStore(`journal:${dir}`);
    const result = await migrateStore(source, async () => (target.revision() ? openStore(`journal:${dir}`) : target), OPTIONS);
    expect(result.revision).toBe(source.revision());
  });

  it('migrateJournalToEtcd refuses a directory without a journal before touching anything', async () => {
    const dir = tempDir();
    const error = await migrateJournalToEtcd({
      journalDir: join(dir, 'store'),
      to: 'etcd://127.0.0.1:1',
      store: {},
      now: new Date(),
    }).catch((e: unknown) => e);
    expect((error as StoreRefusal).code).toBe('NO_JOURNAL');
    expect((error as Error).message).toContain(`no journal in ${join(dir, 'store')}`);
    expect(existsSync(join(dir, 'store'))).toBe(false);
  });

  it('a journal marked moved is refused on open, naming where it went and how to go back', async () => {
    const dir = tempDir();
    const journal = new JournalStore(dir);
    await journal.open();
    await journal.commit({ puts: [{ key: 'lock/init', value: { holder: 'cp1' } }] });
    await journal.close();
    writeFileSync(
      join(dir, MOVED_FILE),
      JSON.stringify({
        format: 'kubeseed-store-moved',
        version: 1,
        to: 'etcd://10.0.0.11:2379',
        prefix: 'kubeseed/c1/',
        movedAt: '2026-12-06T03:00:00.000Z',
        records: 1,
        revision: 1,
      }),
    );
    const before = readFileSync(join(dir, 'journal.log'));
    const error = await openStore(`journal:${dir}`).catch((e: unknown) => e);
    expect((error as StoreRefusal).code).toBe('MOVED');
    expect((error as Error).message).toContain('was moved to etcd://10.0.0.11:2379 (prefix kubeseed/c1/)');
    expect((error as Error).message).toContain('serve with --store etcd://10.0.0.11:2379');
    expect((error as Error).message).toContain(`remove ${join(dir, MOVED_FILE)}`);
    expect(readFileSync(join(dir, 'journal.log'))).toEqual(before);
    writeFileSync(join(dir, MOVED_FILE), '{not json');
    await expect(openStore(`journal:${dir}`)).rejects.toThrow(/moved\.json is not JSON; it marks this journal as moved/);
  });
});
