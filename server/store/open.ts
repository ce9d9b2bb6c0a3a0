/**
 * `openStore(url)`: the one place that chooses a Store implementation, opened and ready.
 *
 * - `journal:DIR` (or a plain path): the durable JournalStore in DIR; with a passphrase, the
 *   records under `sealedPrefixes` are sealed at rest (record-cipher.ts, key.json in DIR).
 * - `memory:`: the MemoryStore (tests, `kubeseed demo`); nothing survives the process.
 * - `etcd://h1:2379,h2:2379[?prefix=P]`: the EtcdStore (ADR 0032) on those client URLs — https
 *   when `etcd.ca` is given (with `etcd.cert`/`etcd.key` for client-certificate auth), http
 *   otherwise; records under P (default `defaultPrefix`). With a passphrase the key file lives in
 *   etcd beside the records (`<P>key`), so every replica opens the same records.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdClient, type EtcdCompare, type EtcdTls } from './etcd-client.ts';
import { type LeaderIdentity, leaderKey } from './etcd-leader.ts';
import { EtcdStore } from './etcd-store.ts';
import { JournalStore } from './journal-store.ts';
import { MemoryStore } from './memory-store.ts';
import { type KeyFileHome, keyFileInDirectory, openRecordCipherAt } from './record-cipher.ts';
import { type Store, StoreError, StoreRefusal } from './types.ts';

export interface OpenStoreOptions {
  passphrase?: string;
  /** Key prefixes of records that hold secrets (sealed under the passphrase). */
  sealedPrefixes?: readonly string[];
  /** etcd: the CA of its server certificates, and a client certificate and key (PEM). */
  etcd?: EtcdTls;
  /** etcd: the key prefix when the URL gives none, e.g. `kubeseed/<cluster>/`. */
  defaultPrefix?: string;
  /** etcd: compares every write must also pass — a replica's term (etcd-leader.ts `fence()`). */
  fence?: () => EtcdCompare[];
  /** Only read (`kubeseed certs`): no key file is created, the journal is not repaired or written. */
  readOnly?: boolean;
}

/** The passphrase to open a store's cipher with; read-only, a store without a key file has no sealed record to open. */
async function passphraseFor(home: KeyFileHome, options: OpenStoreOptions): Promise<string | undefined> {
  if (options.readOnly && options.passphrase !== undefined && (await home.read()) === undefined) return undefined;
  return options.passphrase;
}

/** The endpoints and prefix of an `etcd://` store URL; errors name the URL and the fix. */
export function parseEtcdUrl(url: string, options: { https: boolean; defaultPrefix: string }): { endpoints: string[]; prefix: string } {
  const rest = url.replace(/^etcd:\/\//i, '');
  const [hostPart = '', query = ''] = rest.split('?', 2);
  const hosts = hostPart.replace(/\/$/, '').split(',').filter(Boolean);
  if (hosts.length === 0) throw new StoreError(`store URL "${url}" names no etcd endpoint: use etcd://HOST:PORT[,HOST:PORT…]`);
  const endpoints = hosts.map((h) => {
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i.test(h) || Number(h.slice(h.lastIndexOf(':') + 1)) > 65535)
      throw new StoreError(`store URL "${url}": "${h}" is not HOST:PORT (etcd's client port is usually 2379)`);
    return `${options.https ? 'https' : 'http'}://${h}`;
  });
  const params = new URLSearchParams(query);
  for (const name of params.keys())
    if (name !== 'prefix') throw new StoreError(`store URL "${url}": unknown parameter "${name}" (only prefix=…)`);
  let prefix = params.get('prefix') ?? options.defaultPrefix;
  if (prefix === '') throw new StoreError(`store URL "${url}": prefix is empty; give one like prefix=kubeseed/my-cluster/`);
  if (!prefix.endsWith('/')) prefix += '/';
  return { endpoints, prefix };
}

/** The key file as a record of its own beside the store's (`<prefix>key`), created once by whichever replica is first. */
function keyFileInEtcd(client: EtcdClient, key: string): KeyFileHome {
  return {
    where: `etcd key ${key}`,
    read: async () => (await client.get(key))?.value,
    async create(text) {
      const answer = await client.txn([{ key, target: 'create', modRevision: 0 }], [{ put: { key, value: text } }]);
      if (answer.succeeded) return text;
      const there = await client.get(key);
      if (!there) throw new StoreError(`etcd key ${key} vanished while it was being created; start again`);
      return there.value;
    },
  };
}

/** The endpoints, prefix and TLS of an `etcd://` store URL with its options; errors name the flag to fix. */
export function etcdTarget(url: string, options: OpenStoreOptions = {}): { endpoints: string[]; prefix: string; tls: EtcdTls } {
  const tls = options.etcd ?? {};
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw new StoreError('etcd client certificate and key go together: give both --etcd-cert and --etcd-key');
  if (tls.cert !== undefined && tls.ca === undefined)
    throw new StoreError('an etcd client certificate needs TLS: give --etcd-ca, the CA of the etcd server certificates');
  return { ...parseEtcdUrl(url, { https: tls.ca !== undefined, defaultPrefix: options.defaultPrefix ?? 'kubeseed/' }), tls };
}

/**
 * The keys etcd holds under an `etcd://` store URL's prefix — records, the revision mark and the
 * key file alike — before anything is opened (`store migrate` moves only into an unused prefix).
 */
export async function etcdKeysUnder(url: string, options: OpenStoreOptions = {}): Promise<{ prefix: string; keys: string[] }> {
  const { endpoints, prefix, tls } = etcdTarget(url, options);
  const client = new EtcdClient({ endpoints, tls });
  try {
    const { kvs } = await client.rangePrefix(prefix);
    return { prefix, keys: kvs.map((kv) => kv.key) };
  } finally {
    client.close();
  }
}

/**
 * The replica holding the leader lease under an `etcd://` store URL's prefix (`<prefix>leader`,
 * which a leading `kubeseed serve` keeps attached to its lease), and the key; no leader: undefined.
 */
export async function etcdLeaderOf(
  url: string,
  options: OpenStoreOptions = {},
): Promise<{ key: string; leader: LeaderIdentity } | undefined> {
  const { endpoints, prefix, tls } = etcdTarget(url, options);
  const key = leaderKey(prefix);
  const client = new EtcdClient({ endpoints, tls });
  try {
    const held = await client.get(key);
    if (!held) return undefined;
    let leader: LeaderIdentity;
    try {
      leader = JSON.parse(held.value) as LeaderIdentity;
    } catch {
      leader = { id: held.value };
    }
    return { key, leader };
  } finally {
    client.close();
  }
}

/** The URL's scheme in lower case (`journal`, `memory`, `etcd`, …), or undefined for a plain path. */
export function schemeOf(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
}

/** What is wrong with a store URL's form (before anything is opened), or null: the CLI reports it as bad input. */
export function storeUrlProblem(url: string): string | null {
  const scheme = schemeOf(url);
  try {
    if (scheme === 'etcd') parseEtcdUrl(url, { https: false, defaultPrefix: 'kubeseed/' });
    else if (scheme === 'journal' && url === 'journal:') return `store URL "${url}" names no directory: use journal:/path/to/state/store`;
    else if (scheme !== undefined && scheme !== 'journal' && scheme !== 'memory')
      return `store URL "${url}": unknown kind "${scheme}:"; use journal:DIR, memory: or etcd://HOST:PORT`;
  } catch (error) {
    return (error as Error).message;
  }
  return null;
}

/** Where serve keeps the records: its `--store` URL and `--etcd-*` TLS (absent: the journal in DIR/store). */
export interface RecordStore {
  url: string;
  etcd?: EtcdTls;
}

/**
 * The store a command run beside the coordinator reads (upgrade, renew, certs): the journal in
 * `stateDir/store` or `records` (serve's `--store`), with the default etcd prefix serve uses for
 * this cluster, secret records sealed under `passphrase`.
 */
export function recordStoreTarget(
  stateDir: string,
  clusterName: string,
  sealedPrefixes: readonly string[],
  passphrase?: string,
  records?: RecordStore,
): { url: string; options: OpenStoreOptions } {
  return {
    url: records?.url ?? `journal:${join(stateDir, 'store')}`,
    options: {
      ...(passphrase !== undefined ? { passphrase } : {}),
      sealedPrefixes,
      ...(records?.etcd ? { etcd: records.etcd } : {}),
      defaultPrefix: `kubeseed/${clusterName}/`,
    },
  };
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const scheme = schemeOf(url);
  let store: Store;
  if (scheme === 'memory') {
    store = new MemoryStore();
  } else if (scheme === 'journal' || scheme === undefined) {
    const dir = scheme ? url.slice('journal:'.length) : url;
    if (dir === '') throw new StoreError(`store URL "${url}" names no directory: use journal:/path/to/state/store`);
    // Read only, a directory that is not there is a mistyped --store, not an empty store to create.
    if (options.readOnly && !existsSync(dir))
      throw new StoreRefusal(
        'NO_JOURNAL',
        `store ${url}: ${dir} does not exist; give --store as \`kubeseed serve\` ran with (its default is journal:<state>/store)`,
      );
    const home = keyFileInDirectory(dir);
    const cipher = await openRecordCipherAt(home, dir, await passphraseFor(home, options), options.sealedPrefixes ?? []);
    store = new JournalStore(dir, { ...(cipher ? { cipher } : {}), ...(options.readOnly ? { readOnly: true } : {}) });
  } else if (scheme === 'etcd') {
    const { endpoints, prefix, tls } = etcdTarget(url, options);
    const client = new EtcdClient({ endpoints, tls });
    try {
      const home = keyFileInEtcd(client, `${prefix}key`);
      const cipher = await openRecordCipherAt(home, url, await passphraseFor(home, options), options.sealedPrefixes ?? []);
      store = new EtcdStore({ endpoints, tls, prefix, ...(cipher ? { cipher } : {}), ...(options.fence ? { fence: options.fence } : {}) });
    } finally {
      client.close();
    }
  } else {
    throw new StoreError(`store URL "${url}": unknown kind "${scheme}:"; use journal:DIR, memory: or etcd://HOST:PORT`);
  }
  await store.open();
  return store;
}
