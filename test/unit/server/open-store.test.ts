/** openStore(url): the one choice of store implementation (server/store/open.ts). */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JournalStore, MemoryStore, openStore, StoreError } from '../../../server/store/index.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ks-open-store-'));
  dirs.push(d);
  return d;
}

describe('openStore', () => {
  it('memory: is an empty in-memory store', async () => {
    const store = await openStore('memory:');
    expect(store).toBeInstanceOf(MemoryStore);
    expect(store.revision()).toBe(0);
  });

  it('journal:DIR and a plain path open the durable journal, which keeps what was committed', async () => {
    const dir = join(tempDir(), 'store');
    const first = await openStore(`journal:${dir}`);
    expect(first).toBeInstanceOf(JournalStore);
    await first.commit({ puts: [{ key: 'host/a', value: { name: 'a' } }] });
    await first.close();
    const again = await openStore(dir);
    expect(again.get('host/a')?.value).toEqual({ name: 'a' });
    await again.close();
  });

  it('with a passphrase the journal writes its key file; reopening without it is refused', async () => {
    const dir = join(tempDir(), 'store');
    const sealed = await openStore(`journal:${dir}`, { passphrase: 'correct horse battery staple', sealedPrefixes: ['token/'] });
    await sealed.close();
    expect(existsSync(join(dir, 'key.json'))).toBe(true);
    await expect(openStore(`journal:${dir}`)).rejects.toThrow(/KUBESEED_PASSPHRASE/);
  });

  it('refuses etcd (not yet), unknown kinds and a journal without a directory, naming the URL', async () => {
    await expect(openStore('etcd://10.0.0.1:2379')).rejects.toThrow(StoreError);
    await expect(openStore('etcd://10.0.0.1:2379')).rejects.toThrow(/etcd-backed store is not available yet/);
    await expect(openStore('redis://x')).rejects.toThrow(/unknown kind "redis:"/);
    await expect(openStore('journal:')).rejects.toThrow(/names no directory/);
  });
});
