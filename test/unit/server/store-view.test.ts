/**
 * The store view's `list` (server/store/view.ts): every record under a prefix, in key order, after
 * any mix of commits, deletes, rollbacks and loads — the sorted key index merges a commit's new keys
 * in at the next read instead of splicing each one in (issue 19). Random operations, seeded, are
 * checked against a plain sorted copy of the keys.
 */
import { describe, expect, it } from 'vitest';
import { KeyValueView, type UndoEntry } from '../../../server/store/view.ts';

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PREFIXES = ['audit/', 'hosts/', 'steps/', 'steps/w1', 'tokens/', ''];

describe('KeyValueView.list', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'lists exactly the live keys under a prefix, sorted, through random commits, deletes, rollbacks and loads (seed %i)',
    (seed) => {
      const next = random(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
      const view = new KeyValueView();
      const live = new Map<string, number>();
      let counter = 0;
      const newKey = () => `${pick(['audit/', 'hosts/', 'steps/w', 'steps/cp', 'tokens/'])}${Math.floor(next() * 5000)}`;
      const expectList = (prefix: string) =>
        expect(view.list(prefix).map((r) => r.key)).toEqual([...live.keys()].filter((k) => k.startsWith(prefix)).sort());

      for (let op = 0; op < 1500; op++) {
        const roll = next();
        if (roll < 0.45) {
          // A commit of 1–120 puts (new keys and updates) and a few deletes.
          const puts = Array.from({ length: 1 + Math.floor(next() * 120) }, () => {
            const key = live.size > 0 && next() < 0.3 ? pick([...live.keys()]) : newKey();
            return { key, value: { n: ++counter } };
          });
          const deletes = live.size > 0 && next() < 0.3 ? [pick([...live.keys()])] : [];
          const before = new Map(live);
          const { undo, revision } = view.apply({ puts, deletes });
          for (const p of puts) live.set(p.key, p.value.n);
          for (const d of deletes) live.delete(d);
          if (next() < 0.2) {
            // A failed durable write: the view goes back to what it was.
            view.rollback(undo as UndoEntry[], revision - 1);
            live.clear();
            for (const [k, v] of before) live.set(k, v);
          }
        } else if (roll < 0.55 && live.size > 0) {
          const key = pick([...live.keys()]);
          view.remove(key);
          live.delete(key);
        } else if (roll < 0.6) {
          const key = newKey();
          view.load({ key, value: { n: ++counter }, version: 1 });
          live.set(key, counter);
        } else {
          expectList(pick(PREFIXES));
        }
      }
      for (const prefix of PREFIXES) expectList(prefix);
      expect(view.size()).toBe(live.size);
    },
  );
});
