/** openStore(url): the one choice of store implementation (server/store/open.ts). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalStore, MemoryStore, openStore, StoreError } from '../../../server/store/index.ts';
import { parseEtcdUrl } from '../../../server/store/open.ts';
import { tempDir } from '../../support/temp-dir.ts';

describe('openStore', () => {
  it('memory: is an empty in-memory store', async () => {
    const store = await openStore('memory:');
    expect(store).toBeInstanceOf(MemoryStore);
    expect(store.revision()).toBe(0);
  });

  it('journal:DIR and a plain path open the durable journal, which keeps what was committed', async () => {
    const dir = join(tempDir('ks-open-store-'), 'store');
    const first = await openStore(`journal:${dir}`);
    expect(first).toBeInstanceOf(JournalStore);
    await first.commit({ puts: [{ key: 'host/a', value: { name: 'a' } }] });
    await first.close();
    const again = await openStore(dir);
    expect(again.get('host/a')?.value).toEqual({ name: 'a' });
    await again.close();
  });

  it('with a passphrase the journal writes its key file; reopening without it is refused', async () => {
    const dir = join(tempDir('ks-open-store-'), 'store');
    const sealed = await openStore(`journal:${dir}`, { passphrase: 'correct horse battery staple', sealedPrefixes: ['token/'] });
    await sealed.close();
    expect(existsSync(join(dir, 'key.json'))).toBe(true);
    await expect(openStore(`journal:${dir}`)).rejects.toThrow(/KUBESEED_PASSPHRASE/);
  });

  it('refuses bad etcd URLs and TLS halves, unknown kinds and a journal without a directory, naming the URL and the fix', async () => {
    await expect(openStore('etcd://')).rejects.toThrow(/names no etcd endpoint: use etcd:\/\/HOST:PORT/);
    await expect(openStore('etcd://10.0.0.1')).rejects.toThrow(/"10\.0\.0\.1" is not HOST:PORT/);
    await expect(openStore('etcd://10.0.0.1:99999')).rejects.toThrow(/is not HOST:PORT/);
    await expect(openStore('etcd://10.0.0.1:2379?perfix=a/')).rejects.toThrow(/unknown parameter "perfix"/);
    await expect(openStore('etcd://10.0.0.1:2379?prefix=')).rejects.toThrow(/prefix is empty/);
    await expect(openStore('etcd://10.0.0.1:2379', { etcd: { cert: 'C' } })).rejects.toThrow(/give both --etcd-cert and --etcd-key/);
    await expect(openStore('etcd://10.0.0.1:2379', { etcd: { cert: 'C', key: 'K' } })).rejects.toThrow(/needs TLS: give --etcd-ca/);
    await expect(openStore('redis://x')).rejects.toThrow(StoreError);
    await expect(openStore('redis://x')).rejects.toThrow(/unknown kind "redis:"/);
    await expect(openStore('journal:')).rejects.toThrow(/names no directory/);
  });

  it('parses etcd URLs: several endpoints, https with a CA, the prefix (a trailing slash added) or the default', () => {
    expect(parseEtcdUrl('etcd://h1:2379,10.0.0.2:2379,[fd00::1]:2379', { https: false, defaultPrefix: 'kubeseed/c1/' })).toEqual({
      endpoints: ['http://h1:2379', 'http://10.0.0.2:2379', 'http://[fd00::1]:2379'],
      prefix: 'kubeseed/c1/',
    });
    expect(parseEtcdUrl('etcd://h1:2379/?prefix=ks/prod', { https: true, defaultPrefix: 'kubeseed/' })).toEqual({
      endpoints: ['https://h1:2379'],
      prefix: 'ks/prod/',
    });
  });
});
