/**
 * The contract every Store keeps (server/store/types.ts), run against each implementation:
 * memory and journal in the unit tier, etcd (a real etcd) in the validators tier.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../server/store/index.ts';

export function describeStoreContract(name: string, make: () => Store): void {
  describe(`Store contract: ${name}`, () => {
    it('puts, gets and lists by prefix in key order', async () => {
      const store = make();
      await store.open();
      await store.commit({
        puts: [
          { key: 'step/b', value: { n: 2 } },
          { key: 'step/a', value: { n: 1 } },
          { key: 'host/x', value: 1 },
        ],
      });
      expect(store.get('step/a')?.value).toEqual({ n: 1 });
      expect(store.list('step/').map((r) => r.key)).toEqual(['step/a', 'step/b']);
      expect(store.get('nope')).toBeUndefined();
      await store.close();
    });

    it('compare-and-swap: a stale version or an existing key refuses the whole transaction', async () => {
      const store = make();
      await store.open();
      const first = await store.commit({
        puts: [{ key: 'lock/init', value: { holder: 'cp1' } }],
        checks: [{ key: 'lock/init', version: 0 }],
      });
      expect(first.ok).toBe(true);
      const second = await store.commit({
        puts: [
          { key: 'lock/init', value: { holder: 'cp2' } },
          { key: 'other', value: 1 },
        ],
        checks: [{ key: 'lock/init', version: 0 }],
      });
      expect(second).toEqual({ ok: false, conflicts: ['lock/init'] });
      expect(store.get('lock/init')?.value).toEqual({ holder: 'cp1' });
      expect(store.get('other')).toBeUndefined();
      const version = store.get('lock/init')!.version;
      expect(
        (await store.commit({ puts: [{ key: 'lock/init', value: { holder: 'cp1', ok: true } }], checks: [{ key: 'lock/init', version }] }))
          .ok,
      ).toBe(true);
      expect(store.get('lock/init')!.version).toBeGreaterThan(version);
      await store.close();
    });

    it('exactly one of many concurrent CAS acquisitions wins', async () => {
      const store = make();
      await store.open();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.commit({ puts: [{ key: 'lock/init', value: { holder: `cp${i}` } }], checks: [{ key: 'lock/init', version: 0 }] }),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      await store.close();
    });

    it('minRevision: a commit lands at that revision when it is ahead, and the next one follows it', async () => {
      const store = make();
      await store.open();
      await store.commit({ puts: [{ key: 'a', value: 1 }] });
      const jumped = await store.commit({ puts: [{ key: 'b', value: 2 }], minRevision: 40 });
      expect(jumped).toEqual({ ok: true, revision: 40 });
      expect(store.get('b')?.version).toBe(40);
      expect(store.revision()).toBe(40);
      // Behind the next revision it changes nothing: revisions never go back.
      expect(await store.commit({ puts: [{ key: 'c', value: 3 }], minRevision: 5 })).toEqual({ ok: true, revision: 41 });
      await store.close();
    });

    it('deletes, bumps the revision per commit, and freezes stored values', async () => {
      const store = make();
      await store.open();
      const value = { a: { b: 1 } };
      await store.commit({ puts: [{ key: 'k', value }] });
      value.a.b = 2;
      expect(store.get<typeof value>('k')!.value.a.b).toBe(1);
      expect(() => {
        (store.get<typeof value>('k')!.value.a as { b: number }).b = 3;
      }).toThrow();
      const rev = store.revision();
      await store.commit({ deletes: ['k'] });
      expect(store.revision()).toBe(rev + 1);
      expect(store.get('k')).toBeUndefined();
      await store.close();
    });
  });
}
