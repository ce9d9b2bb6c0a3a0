/**
 * EtcdStore against a real etcd (Debian's 3.4, TLS with client-certificate auth, on 127.0.0.1):
 * the Store contract the memory and journal stores keep, then what only a shared store must
 * promise — two stores (two coordinator replicas) on one prefix see each other's writes through
 * the watch; when both write from the same revision exactly one Txn lands and the other is fenced
 * (StoreError, view rolled back, then caught up), so two replicas can never both take the init
 * lock; a reopened store has every record; secret records are sealed in etcd; concurrent commits
 * share Txns.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient } from '../../../server/store/etcd-client.ts';
import { EtcdStore, type EtcdStoreOptions } from '../../../server/store/etcd-store.ts';
import { openStore } from '../../../server/store/open.ts';
import { openRecordCipher, type RecordCipher } from '../../../server/store/record-cipher.ts';
import { StoreError } from '../../../server/store/types.ts';
import { startTestEtcd, type TestEtcd } from '../../support/etcd-server.ts';
import { skipUnless } from '../../support/requirements.ts';
import { describeStoreContract } from '../../support/store-contract.ts';
import { tempDir } from '../../support/temp-dir.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });

let etcd: TestEtcd | undefined;
let prefixes = 0;
const opened: EtcdStore[] = [];

/** Options for a store on a fresh prefix (or on `prefix`), with the test etcd's client certificate. */
function options(prefix = `test/${process.pid}/${++prefixes}/`): EtcdStoreOptions {
  return { endpoints: [etcd!.clientUrl], tls: etcd!.clientTls(), prefix, requestTimeoutMs: 5_000 };
}

function store(opts: EtcdStoreOptions): EtcdStore {
  const s = new EtcdStore(opts);
  opened.push(s);
  return s;
}

/** Polls (≤ 5 s) until `probe` holds: a watch delivers within milliseconds on loopback. */
async function eventually(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`not within 5 s: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  if (!skip) etcd = await startTestEtcd('ks-etcd-store-');
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(opened.map((s) => s.close()));
  etcd?.stop();
});

describe.skipIf(skip)('EtcdStore on a real etcd', () => {
  describeStoreContract('EtcdStore', () => store(options()));

  it('a commit larger than one etcd Txn is refused by the store, naming --max-txn-ops, and changes nothing', async () => {
    const s = store(options());
    await s.open();
    const puts = Array.from({ length: 127 }, (_, i) => ({ key: `step/${i}`, value: i }));
    await expect(s.commit({ puts })).rejects.toThrow(
      /a commit of 127 records does not fit one etcd Txn of at most 128 operations .*--max-txn-ops/,
    );
    expect(s.list('step/')).toEqual([]);
    // What the coordinator sends (at most MAX_RECORDS_PER_COMMIT) lands.
    expect((await s.commit({ puts: puts.slice(0, 100) })).ok).toBe(true);
    expect(s.list('step/')).toHaveLength(100);
  });

  it('two stores on one prefix see each other through the watch', async () => {
    const opts = options();
    const a = store(opts);
    const b = store(opts);
    await a.open();
    await b.open();
    await a.commit({ puts: [{ key: 'host/cp1', value: { enrolled: true } }] });
    await eventually('b sees host/cp1', () => b.get('host/cp1') !== undefined);
    expect(b.get('host/cp1')).toEqual(a.get('host/cp1'));
    expect(b.revision()).toBe(a.revision());
    await a.commit({ deletes: ['host/cp1'] });
    await eventually('b sees the delete', () => b.get('host/cp1') === undefined);
    // Now b writes, from the revision it caught up to: accepted, and a sees it.
    expect((await b.commit({ puts: [{ key: 'host/w1', value: 1 }] })).ok).toBe(true);
    await eventually('a sees host/w1', () => a.get('host/w1')?.value === 1);
  });

  it('two replicas racing for the init lock: one Txn lands, the other is fenced and catches up', async () => {
    const opts = options();
    const a = store(opts);
    const b = store(opts);
    await a.open();
    await b.open();
    const take = (s: EtcdStore, holder: string) =>
      s.commit({ puts: [{ key: 'lock/init', value: { holder } }], checks: [{ key: 'lock/init', version: 0 }] }).then(
        (r) => ({ ok: r.ok, error: undefined as unknown }),
        (error: unknown) => ({ ok: false, error }),
      );
    const [ra, rb] = await Promise.all([take(a, 'cp1'), take(b, 'cp2')]);
    expect([ra.ok, rb.ok].filter(Boolean)).toHaveLength(1);
    const loser = ra.ok ? rb : ra;
    expect(loser.error).toBeInstanceOf(StoreError);
    expect(String(loser.error)).toMatch(/written by another coordinator .* refused \(fenced\)/);
    const winner = ra.ok ? 'cp1' : 'cp2';
    await eventually('both views hold the winner', () =>
      [a, b].every((s) => (s.get('lock/init')?.value as { holder?: string } | undefined)?.holder === winner),
    );
    // etcd holds exactly what the views hold.
    const reopened = store(opts);
    await reopened.open();
    expect(reopened.get('lock/init')?.value).toEqual({ holder: winner });
    // The loser's view caught up, so its next write from there is accepted.
    const loserStore = ra.ok ? b : a;
    expect((await loserStore.commit({ puts: [{ key: 'after', value: 1 }] })).ok).toBe(true);
  });

  it('a reopened store has every record and the revision; concurrent commits share Txns', async () => {
    const opts = options();
    const s = store(opts);
    await s.open();
    const client = new EtcdClient(opts);
    try {
      const before = (await client.get(`${opts.prefix}rev`))?.modRevision ?? 0;
      await Promise.all(Array.from({ length: 200 }, (_, i) => s.commit({ puts: [{ key: `step/${i}`, value: { i } }] })));
      const after = (await client.get(`${opts.prefix}rev`))!.modRevision;
      // 200 commits, each its own store revision, in far fewer etcd Txns (≤ 127 puts per Txn here).
      expect(s.revision()).toBe(200);
      expect(after - before).toBeLessThan(20);
      expect(after - before).toBeGreaterThanOrEqual(2);
    } finally {
      client.close();
    }
    await s.commit({ deletes: ['step/7'] });
    const again = store(opts);
    await again.open();
    expect(again.revision()).toBe(s.revision());
    expect(again.list('step/')).toEqual(s.list('step/'));
    expect(again.get('step/7')).toBeUndefined();
  });

  it('seals secret-bearing records in etcd; a store without the passphrase refuses to read them', async () => {
    const dir = tempDir('ks-etcd-key-');
    try {
      const cipher = (await openRecordCipher(dir, 'correct horse', ['token/'], { N: 1024, r: 8, p: 1 })) as RecordCipher;
      const opts = { ...options(), cipher };
      const s = store(opts);
      await s.open();
      await s.commit({
        puts: [
          { key: 'token/abc', value: { secret: 'abcdef.0123456789abcdef' } },
          { key: 'host/x', value: 'plain' },
        ],
      });
      const client = new EtcdClient(opts);
      try {
        const raw = (await client.get(`${opts.prefix}kv/token/abc`))!.value;
        expect(raw).not.toContain('0123456789abcdef');
        expect(JSON.parse(raw).value.$sealed).toBe(1);
        expect((await client.get(`${opts.prefix}kv/host/x`))!.value).toContain('plain');
      } finally {
        client.close();
      }
      const withKey = store(opts);
      await withKey.open();
      expect(withKey.get('token/abc')?.value).toEqual({ secret: 'abcdef.0123456789abcdef' });
      const withoutKey = store({ ...opts, cipher: undefined });
      await expect(withoutKey.open()).rejects.toThrow(/token\/abc is encrypted: set KUBESEED_PASSPHRASE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('openStore(etcd://…): TLS from the flags, the key file kept in etcd so a second replica with the passphrase reads the sealed records', async () => {
    const prefix = `test/${process.pid}/${++prefixes}/`;
    const url = `etcd://${new URL(etcd!.clientUrl).host}?prefix=${prefix}`;
    const tls = etcd!.clientTls();
    const common = { etcd: tls, sealedPrefixes: ['token/'] };
    const first = await openStore(url, { ...common, passphrase: 'correct horse' });
    opened.push(first as EtcdStore);
    expect(first).toBeInstanceOf(EtcdStore);
    await first.commit({ puts: [{ key: 'token/t1', value: { secret: 'abcdef.0123456789abcdef' } }] });
    const client = new EtcdClient({ endpoints: [etcd!.clientUrl], tls });
    try {
      expect(JSON.parse((await client.get(`${prefix}key`))!.value).format).toBe('kubeseed-store-key');
      expect((await client.get(`${prefix}kv/token/t1`))!.value).not.toContain('0123456789abcdef');
    } finally {
      client.close();
    }
    const second = await openStore(url, { ...common, passphrase: 'correct horse' });
    opened.push(second as EtcdStore);
    expect(second.get('token/t1')?.value).toEqual({ secret: 'abcdef.0123456789abcdef' });
    await expect(openStore(url, { ...common, passphrase: 'wrong' })).rejects.toThrow(/cannot be decrypted with this KUBESEED_PASSPHRASE/);
    await expect(openStore(url, common)).rejects.toThrow(/holds records encrypted with KUBESEED_PASSPHRASE \(etcd key /);
  });

  it('without a client certificate etcd refuses the connection and open() says which endpoint', async () => {
    const opts = options();
    const s = store({ ...opts, tls: { ca: etcd!.pem('ca.crt') } });
    await expect(s.open()).rejects.toThrow(new RegExp(`etcd unreachable: etcd ${etcd!.clientUrl.replace(/\./g, '\\.')}`));
  });
});
