/**
 * The store view interns the short strings of the records it holds (server/store/intern.ts, issue 19):
 * equal text in many records is one string in the heap, on commit and on journal replay alike, and
 * what a reader sees does not change (equal values, frozen, the caller's object untouched). String
 * identity is not observable in JavaScript, so the sharing is shown by what it saves: records whose
 * field holds the same text cost less heap than as many records with distinct text of that length.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { JournalStore, MemoryStore, type Store } from '../../../server/store/index.ts';
import { INTERN_MAX_LENGTH, internValues, StringTable } from '../../../server/store/intern.ts';
import { tempDir } from '../../support/temp-dir.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const RECORDS = 20_000;
/** 80 characters: below INTERN_MAX_LENGTH, ~100 bytes of heap per copy. */
const text = (i: number | undefined) => `w${String(i ?? 'x').padStart(5, '0')}/${'kubeadm-join-worker-'.repeat(4)}`.slice(0, 80);

/** Heap bytes held by RECORDS records of `{ host }`, each host string built fresh (`i` undefined: all equal). */
async function heldBy(store: Store, distinct: boolean): Promise<number> {
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let c = 0; c < RECORDS; c += 500) {
    const puts = Array.from({ length: 500 }, (_, j) => ({ key: `step/${c + j}`, value: { host: text(distinct ? c + j : undefined) } }));
    await store.commit({ puts });
  }
  gc();
  return process.memoryUsage().heapUsed - before;
}

describe('the store view interns record strings', () => {
  it('records with equal short strings share one copy: ≥ 80 bytes less heap per record than distinct text', async () => {
    expect(text(1).length).toBeLessThanOrEqual(INTERN_MAX_LENGTH);
    await heldBy(new MemoryStore(), true); // warm-up: compiled code and feedback are not counted below
    const equal = new MemoryStore();
    const distinct = new MemoryStore();
    const equalBytes = await heldBy(equal, false);
    const distinctBytes = await heldBy(distinct, true);
    // Without interning both hold RECORDS strings of 80 characters (~100 bytes each; measured: 0 bytes
    // apart); with it the equal ones hold one (measured: ~130 bytes apart, the distinct ones also fill the table).
    expect((distinctBytes - equalBytes) / RECORDS).toBeGreaterThan(80);
    expect(equal.list('step/')).toHaveLength(RECORDS);
    expect(distinct.get('step/7')?.value).toEqual({ host: text(7) });
  });

  it('shares on journal replay as on commit', async () => {
    const replayed = async (distinct: boolean) => {
      const dir = tempDir('ks-intern-');
      const writer = new JournalStore(dir);
      await writer.open();
      await heldBy(writer, distinct);
      await writer.close();
      const reader = new JournalStore(dir);
      gc();
      const before = process.memoryUsage().heapUsed;
      await reader.open();
      gc();
      const bytes = process.memoryUsage().heapUsed - before;
      expect(reader.list('step/')).toHaveLength(RECORDS);
      return { bytes, reader };
    };
    const equal = await replayed(false);
    const distinct = await replayed(true);
    expect((distinct.bytes - equal.bytes) / RECORDS).toBeGreaterThan(80);
    await equal.reader.close();
    await distinct.reader.close();
  });

  it('a reader sees the same values, frozen, and the caller keeps its own object', async () => {
    const dir = tempDir('ks-intern-');
    const store = new JournalStore(dir);
    await store.open();
    const value = { host: 'w1', kind: 'kubeadm-join-worker', results: {}, after: [], nested: { list: ['a', { b: 'w1' }] } };
    await store.commit({ puts: [{ key: 'step/a', value }] });
    // The caller's object is not touched: the view interned its own clone.
    expect(Object.isFrozen(value)).toBe(false);
    expect(value.results).not.toBe(store.get<typeof value>('step/a')!.value.results);
    expect(store.get('step/a')!.value).toEqual(value);
    await store.close();
    const reopened = new JournalStore(dir);
    await reopened.open();
    const loaded = reopened.get<typeof value>('step/a')!.value;
    expect(loaded).toEqual(value);
    expect(Object.isFrozen(loaded.results) && Object.isFrozen(loaded.after) && Object.isFrozen(loaded.nested.list[1])).toBe(true);
    await reopened.close();
  });

  it('the table is bounded: long text is not held, and a full generation ages into the old one', () => {
    const table = new StringTable(4);
    const long = 'x'.repeat(INTERN_MAX_LENGTH + 1);
    expect(table.intern(long)).toBe(long);
    expect(table.size()).toBe(0);
    for (const word of ['a', 'b', 'c', 'd', 'e', 'f']) table.intern(word);
    // young holds e, f; old holds a–d: never more than two generations.
    expect(table.size()).toBe(6);
    for (const word of ['g', 'h', 'i']) table.intern(word);
    expect(table.size()).toBeLessThanOrEqual(8);
  });

  it('leaves frozen values, non-plain objects and an own __proto__ key as they are', () => {
    const table = new StringTable();
    const frozen = Object.freeze({ a: 'x' });
    expect(internValues(frozen, table)).toBe(frozen);
    const buffer = Buffer.from('abc');
    expect(internValues({ buffer }, table)).toEqual({ buffer });
    const parsed = JSON.parse('{"__proto__": {"polluted": "yes"}, "k": "v"}') as Record<string, unknown>;
    const out = internValues(parsed, table) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(out.k).toBe('v');
  });
});
