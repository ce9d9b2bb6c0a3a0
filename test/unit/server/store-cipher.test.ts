/**
 * The store's secret records at rest (server/store/record-cipher.ts + JournalStore): sealed in the
 * journal and the snapshot, read back with the passphrase, refused with a wrong one or none,
 * plaintext records from a start without a passphrase rewritten sealed, a sealed value moved to
 * another key refused. Cheap scrypt parameters keep it fast; the format records them.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalStore } from '../../../server/store/index.ts';
import { openRecordCipher } from '../../../server/store/record-cipher.ts';
import { tempDir } from '../../support/temp-dir.ts';

const PREFIXES = ['token/', 'step/'];
const FAST = { N: 1024, r: 8, p: 1 };
const TOKEN = 'abcdef.0123456789abcdef';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function storeDir(): string {
  const dir = tempDir('ks-store-cipher-');
  dirs.push(dir);
  return join(dir, 'store');
}

async function open(dir: string, passphrase: string | undefined, snapshotEvery = 2000): Promise<JournalStore> {
  const cipher = await openRecordCipher(dir, passphrase, PREFIXES, FAST);
  const store = new JournalStore(dir, { snapshotEvery, ...(cipher ? { cipher } : {}) });
  await store.open();
  return store;
}

const onDisk = (dir: string) =>
  ['journal.log', 'snapshot.json'].map((f) => {
    try {
      return readFileSync(join(dir, f), 'latin1');
    } catch {
      return '';
    }
  });

describe('secret records at rest', () => {
  it('are sealed in the journal and the snapshot and read back with the passphrase; other records stay readable', async () => {
    const dir = storeDir();
    const store = await open(dir, 'pass', 2);
    await store.commit({ puts: [{ key: 'token/abcdef', value: { token: TOKEN } }] });
    await store.commit({ puts: [{ key: 'host/w1', value: { name: 'w1' } }] });
    await store.commit({ puts: [{ key: 'step/w1/join', value: { lastReport: { logTail: 'secret-in-log' } } }] });
    await store.close();
    const text = onDisk(dir).join('\n');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('secret-in-log');
    expect(text).toContain('"name":"w1"');
    const again = await open(dir, 'pass');
    expect(again.get('token/abcdef')?.value).toEqual({ token: TOKEN });
    expect(again.get('step/w1/join')?.value).toEqual({ lastReport: { logTail: 'secret-in-log' } });
    await again.close();
  });

  it('a wrong passphrase or none is refused by name before anything is read', async () => {
    const dir = storeDir();
    const store = await open(dir, 'pass');
    await store.commit({ puts: [{ key: 'token/abcdef', value: { token: TOKEN } }] });
    await store.close();
    await expect(open(dir, 'other')).rejects.toThrow(/KUBESEED_PASSPHRASE/);
    await expect(open(dir, undefined)).rejects.toThrow(/encrypted with KUBESEED_PASSPHRASE/);
  });

  it('plaintext secret records from a start without a passphrase are rewritten sealed at the first start with one', async () => {
    const dir = storeDir();
    const plain = await open(dir, undefined);
    await plain.commit({ puts: [{ key: 'token/abcdef', value: { token: TOKEN } }] });
    await plain.close();
    expect(onDisk(dir).join('')).toContain(TOKEN);
    const sealed = await open(dir, 'pass');
    expect(sealed.get('token/abcdef')?.value).toEqual({ token: TOKEN });
    await sealed.close();
    expect(onDisk(dir).join('')).not.toContain(TOKEN);
  });

  it('a sealed value copied under another key does not open', async () => {
    const dir = storeDir();
    const store = await open(dir, 'pass', 1);
    await store.commit({ puts: [{ key: 'token/aaaaaa', value: { token: TOKEN } }] });
    await store.commit({ puts: [{ key: 'token/bbbbbb', value: { token: 'other' } }] });
    await store.close();
    const snapshot = JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8')) as { records: [string, number, unknown][] };
    const a = snapshot.records.find((r) => r[0] === 'token/aaaaaa')!;
    const b = snapshot.records.find((r) => r[0] === 'token/bbbbbb')!;
    b[2] = a[2];
    writeFileSync(join(dir, 'snapshot.json'), JSON.stringify(snapshot));
    await expect(open(dir, 'pass')).rejects.toThrow(/token\/bbbbbb cannot be decrypted/);
  });
});
