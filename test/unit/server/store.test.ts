/**
 * One contract suite for every Store (memory and the durable journal store), plus what only the
 * durable store promises: reopen keeps everything, group commit shares one fsync, a torn final
 * record is ignored, snapshots rotate the journal, and a failed write rolls back without damage.
 */
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalStore, MemoryStore, type Store, StoreError } from '../../../server/store/index.ts';
import { describeStoreContract } from '../../support/store-contract.ts';
import { tempDir } from '../../support/temp-dir.ts';

const implementations: [string, () => Store][] = [
  ['MemoryStore', () => new MemoryStore()],
  ['JournalStore', () => new JournalStore(tempDir('ks-store-'))],
];

for (const [name, make] of implementations) describeStoreContract(name, make);

describe('JournalStore durability', () => {
  it('survives reopen with every committed record and revision', async () => {
    const dir = tempDir('ks-store-');
    const store = new JournalStore(dir);
    await store.open();
    for (let i = 0; i < 20; i++) await store.commit({ puts: [{ key: `step/${i}`, value: { i } }] });
    await store.commit({ deletes: ['step/3'] });
    const rev = store.revision();
    await store.close();
    const again = new JournalStore(dir);
    await again.open();
    expect(again.list('step/')).toHaveLength(19);
    expect(again.get('step/3')).toBeUndefined();
    expect(again.revision()).toBe(rev);
    await again.close();
  });

  it('group commit: writes that arrive together share one fsync', async () => {
    const store = new JournalStore(tempDir('ks-store-'));
    await store.open();
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.commit({ puts: [{ key: `k${i}`, value: i }] })));
    const stats = store.getStats();
    expect(stats.commits).toBe(100);
    expect(stats.syncs).toBe(1);
    await store.close();
  });

  it('ignores a torn final record on load and keeps appending after it', async () => {
    const dir = tempDir('ks-store-');
    const store = new JournalStore(dir);
    await store.open();
    await store.commit({ puts: [{ key: 'a', value: 1 }] });
    await store.commit({ puts: [{ key: 'b', value: 2 }] });
    await store.close();
    const journal = join(dir, 'journal.log');
    const goodSize = statSync(journal).size;
    // A frame header announcing 500 bytes with only a few present: kill -9 mid-write.
    const torn = Buffer.alloc(20);
    torn.writeUInt32BE(500, 0);
    appendFileSync(journal, torn);
    const reopened = new JournalStore(dir);
    await reopened.open();
    expect(reopened.getStats().tornBytes).toBe(20);
    expect(reopened.get('b')?.value).toBe(2);
    await reopened.commit({ puts: [{ key: 'c', value: 3 }] });
    await reopened.close();
    expect(statSync(journal).size).toBeGreaterThan(goodSize);
    const third = new JournalStore(dir);
    await third.open();
    expect(third.get('c')?.value).toBe(3);
    expect(third.getStats().tornBytes).toBe(0);
    await third.close();
  });

  it('cut at any byte (kill -9 mid-write): reopening yields exactly a prefix of the commits', async () => {
    const dir = tempDir('ks-store-');
    const store = new JournalStore(dir);
    await store.open();
    const states: Record<string, unknown>[] = [{}];
    for (let i = 0; i < 12; i++) {
      await store.commit({
        puts: [{ key: `k${i % 4}`, value: { i, pad: 'x'.repeat(i * 3) } }],
        ...(i % 5 === 4 ? { deletes: ['k0'] } : {}),
      });
      states.push(Object.fromEntries(store.list('').map((r) => [r.key, r.value])));
    }
    await store.close();
    const full = readFileSync(join(dir, 'journal.log'));
    const { writeFileSync } = await import('node:fs');
    let lastPrefix = 0;
    for (let cut = 0; cut <= full.length; cut += 5) {
      const trial = tempDir('ks-store-');
      writeFileSync(join(trial, 'journal.log'), full.subarray(0, cut));
      const reopened = new JournalStore(trial);
      await reopened.open();
      const state = Object.fromEntries(reopened.list('').map((r) => [r.key, r.value]));
      const prefix = states.findIndex((s) => JSON.stringify(s) === JSON.stringify(state));
      expect(prefix, `cut at ${cut}`).toBeGreaterThanOrEqual(lastPrefix);
      expect(reopened.revision()).toBe(prefix);
      lastPrefix = prefix;
      await reopened.close();
    }
    expect(lastPrefix).toBe(12);
  });

  it('a record with a bad CRC ends the replay there', async () => {
    const dir = tempDir('ks-store-');
    const store = new JournalStore(dir);
    await store.open();
    await store.commit({ puts: [{ key: 'a', value: 'x'.repeat(10) }] });
    await store.commit({ puts: [{ key: 'b', value: 'y'.repeat(10) }] });
    await store.close();
    const journal = join(dir, 'journal.log');
    const bytes = readFileSync(journal);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(journal, bytes);
    const reopened = new JournalStore(dir);
    await reopened.open();
    expect(reopened.get('a')).toBeDefined();
    expect(reopened.get('b')).toBeUndefined();
    await reopened.close();
  });

  it('snapshots rotate the journal and reload identically', async () => {
    const dir = tempDir('ks-store-');
    const store = new JournalStore(dir, { snapshotEvery: 10 });
    await store.open();
    for (let i = 0; i < 35; i++) await store.commit({ puts: [{ key: `k${i % 7}`, value: i }] });
    expect(store.getStats().snapshots).toBeGreaterThanOrEqual(3);
    const expected = structuredClone(store.list(''));
    const rev = store.revision();
    await store.close();
    const again = new JournalStore(dir);
    await again.open();
    expect(again.list('')).toEqual(expected);
    expect(again.revision()).toBe(rev);
    await again.close();
  });

  it('by default a snapshot waits for as many commits as there are records (at least 2,000): its cost per commit stays constant', async () => {
    const dir = tempDir('ks-store-');
    const store = new JournalStore(dir);
    await store.open();
    // 5,000 records in 50 commits, then 2,100 one-record commits: past 2,000 commits, short of 5,000.
    for (let c = 0; c < 50; c++)
      await store.commit({ puts: Array.from({ length: 100 }, (_, i) => ({ key: `r${c * 100 + i}`, value: i })) });
    for (let i = 0; i < 2100; i++) await store.commit({ puts: [{ key: `r${i}`, value: -i }] });
    expect(store.getStats().snapshots).toBe(0);
    for (let i = 0; i < 3000; i++) await store.commit({ puts: [{ key: `r${i}`, value: i }] });
    expect(store.getStats().snapshots).toBe(1);
    await store.close();
  });

  it('a failed write rejects the batch with StoreError, rolls the view back, and the store recovers', async () => {
    const dir = tempDir('ks-store-');
    let fail = false;
    const store = new JournalStore(dir, {
      faults: {
        beforeSync: () => {
          if (fail) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        },
      },
    });
    await store.open();
    await store.commit({ puts: [{ key: 'a', value: 1 }] });
    const rev = store.revision();
    fail = true;
    const pending = store.commit({
      puts: [
        { key: 'a', value: 2 },
        { key: 'b', value: 1 },
      ],
    });
    // Applied to the view at once (so the scheduler sees it in this turn)…
    expect(store.get('a')?.value).toBe(2);
    await expect(pending).rejects.toBeInstanceOf(StoreError);
    await expect(store.flushed()).resolves.toBeUndefined();
    // …and rolled back when it could not be made durable.
    expect(store.get('a')?.value).toBe(1);
    expect(store.get('b')).toBeUndefined();
    expect(store.revision()).toBe(rev);
    fail = false;
    await store.commit({ puts: [{ key: 'c', value: 3 }] });
    await store.close();
    const again = new JournalStore(dir);
    await again.open();
    expect(again.get('a')?.value).toBe(1);
    expect(again.get('b')).toBeUndefined();
    expect(again.get('c')?.value).toBe(3);
    await again.close();
  });
});
