/**
 * `openStore(url)`: the one place that chooses a Store implementation, opened and ready.
 *
 * - `journal:DIR` (or a plain path): the durable JournalStore in DIR; with a passphrase, the
 *   records under `sealedPrefixes` are sealed at rest (record-cipher.ts, key.json in DIR).
 * - `memory:`: the MemoryStore (tests, `kubeseed demo`); nothing survives the process.
 * - `etcd://…`: not yet — refused with a StoreError that says so (the HA-on-etcd work adds it here).
 */
import { JournalStore } from './journal-store.ts';
import { MemoryStore } from './memory-store.ts';
import { openRecordCipher } from './record-cipher.ts';
import { type Store, StoreError } from './types.ts';

export interface OpenStoreOptions {
  passphrase?: string;
  /** Key prefixes of records that hold secrets (sealed under the passphrase). */
  sealedPrefixes?: readonly string[];
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  let store: Store;
  if (scheme === 'memory') {
    store = new MemoryStore();
  } else if (scheme === 'journal' || scheme === undefined) {
    const dir = scheme ? url.slice('journal:'.length) : url;
    if (dir === '') throw new StoreError(`store URL "${url}" names no directory: use journal:/path/to/state/store`);
    const cipher = await openRecordCipher(dir, options.passphrase, options.sealedPrefixes ?? []);
    store = new JournalStore(dir, cipher ? { cipher } : {});
  } else if (scheme === 'etcd' || scheme === 'etcds') {
    throw new StoreError(`store URL "${url}": an etcd-backed store is not available yet; use journal:DIR`);
  } else {
    throw new StoreError(`store URL "${url}": unknown kind "${scheme}:"; use journal:DIR or memory:`);
  }
  await store.open();
  return store;
}
