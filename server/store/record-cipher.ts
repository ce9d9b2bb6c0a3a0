/**
 * Encryption at rest of the store's secret-bearing records (bootstrap tokens, step records with
 * their reported log tails) under KUBESEED_PASSPHRASE. The journal and snapshot keep their frame
 * format; only the value of a sealed record is replaced by `{"$sealed":1,nonce,tag,ciphertext}`
 * (AES-256-GCM, the record key as additional data, so a sealed value copied under another key
 * does not open). The scrypt key is derived once at start from the salt in `<store>/key.json`,
 * which also holds a sealed check value: a wrong passphrase is refused before anything is read.
 * The in-memory view always holds plaintext.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_KDF, gcmOpen, gcmSeal, type KdfParams, scryptKey } from '../../generator/state/envelope.ts';
import { StoreError, StoreRefusal } from './types.ts';

export const STORE_KEY_FILE = 'key.json';
const CHECK_TEXT = 'kubeseed store key check';

export interface SealedValue {
  $sealed: 1;
  nonce: string;
  tag: string;
  ciphertext: string;
}

export function isSealed(value: unknown): value is SealedValue {
  return typeof value === 'object' && value !== null && (value as { $sealed?: unknown }).$sealed === 1;
}

/** Seals and opens record values; `seals(key)` says which records it covers. */
export interface RecordCipher {
  seals(key: string): boolean;
  seal(key: string, value: unknown): SealedValue;
  open(key: string, value: SealedValue): unknown;
}

interface KeyFile {
  format: 'kubeseed-store-key';
  version: 1;
  kdf: { name: 'scrypt' } & KdfParams;
  check: SealedValue;
}

function cipherWith(key: Buffer, prefixes: readonly string[]): RecordCipher {
  return {
    seals: (recordKey) => prefixes.some((prefix) => recordKey.startsWith(prefix)),
    seal: (recordKey, value) => ({ $sealed: 1, ...gcmSeal(key, recordKey, JSON.stringify(value)) }),
    open(recordKey, value) {
      try {
        return JSON.parse(gcmOpen(key, recordKey, value));
      } catch (error) {
        throw new StoreError(`store record ${recordKey} cannot be decrypted (altered, or moved from another key)`, error);
      }
    },
  };
}

/** Where a store keeps its key file: a directory (journal) or the store itself (etcd). */
export interface KeyFileHome {
  /** Names the place in errors, e.g. `/state/store/key.json` or `etcd kubeseed/c1/key`. */
  where: string;
  read(): Promise<string | undefined>;
  /** Writes the key file unless one exists; returns the one that is there afterwards. */
  create(text: string): Promise<string>;
}

/** The key file `key.json` in `dir` (created 0600, written to a temporary file and renamed). */
export function keyFileInDirectory(dir: string): KeyFileHome {
  const path = join(dir, STORE_KEY_FILE);
  return {
    where: path,
    async read() {
      try {
        return await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreError(`cannot read ${path}`, error);
        return undefined;
      }
    },
    async create(text) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // Temporary file (0600) renamed into place: a crash never leaves half a key file.
      const tmp = `${path}.${process.pid}.tmp`;
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
      return text;
    },
  };
}

/**
 * The cipher for the store in `dir`, or undefined without a passphrase. First start with a
 * passphrase writes key.json (0600); later starts need the same passphrase. A store that was
 * encrypted refuses to start without one.
 */
export function openRecordCipher(
  dir: string,
  passphrase: string | undefined,
  prefixes: readonly string[],
  kdf: { N: number; r: number; p: number } = DEFAULT_KDF,
): Promise<RecordCipher | undefined> {
  return openRecordCipherAt(keyFileInDirectory(dir), dir, passphrase, prefixes, kdf);
}

/** openRecordCipher with the key file kept in `home`; `store` names the store in errors. */
export async function openRecordCipherAt(
  home: KeyFileHome,
  store: string,
  passphrase: string | undefined,
  prefixes: readonly string[],
  kdf: { N: number; r: number; p: number } = DEFAULT_KDF,
): Promise<RecordCipher | undefined> {
  const key = await openPassphraseKey(home, store, passphrase, kdf);
  return key === undefined ? undefined : cipherWith(key, prefixes);
}

/**
 * The AES-256 key KUBESEED_PASSPHRASE derives with the salt in `home`'s key file (created with a
 * fresh salt and a sealed check value on first use), or undefined without a passphrase. A wrong
 * passphrase is refused here; a key file without a passphrase refuses to go on. The record cipher
 * and the etcd backups (server/backup/vault.ts) both seal with it.
 */
export async function openPassphraseKey(
  home: KeyFileHome,
  store: string,
  passphrase: string | undefined,
  kdf: { N: number; r: number; p: number } = DEFAULT_KDF,
): Promise<Buffer | undefined> {
  const text = await home.read();
  let existing = text === undefined ? undefined : (JSON.parse(text) as KeyFile);
  if (!passphrase) {
    if (existing)
      throw new StoreRefusal(
        'PASSPHRASE_REQUIRED',
        `${store} holds records encrypted with KUBESEED_PASSPHRASE (${home.where}): set KUBESEED_PASSPHRASE to the passphrase the state was generated with`,
      );
    return undefined;
  }
  if (!existing) {
    const params = { ...kdf, salt: randomBytes(16).toString('base64url') };
    const key = await scryptKey(passphrase, params);
    const file: KeyFile = {
      format: 'kubeseed-store-key',
      version: 1,
      kdf: { name: 'scrypt', ...params },
      check: { $sealed: 1, ...gcmSeal(key, STORE_KEY_FILE, JSON.stringify(CHECK_TEXT)) },
    };
    const mine = `${JSON.stringify(file)}\n`;
    const there = await home.create(mine);
    if (there === mine) return key;
    existing = JSON.parse(there) as KeyFile; // another replica created it first: use theirs
  }
  if (existing.format !== 'kubeseed-store-key' || existing.version !== 1 || existing.kdf?.name !== 'scrypt')
    throw new StoreError(`${home.where} has an unknown format; upgrade kubeseed`);
  const key = await scryptKey(passphrase, existing.kdf);
  try {
    if (gcmOpen(key, STORE_KEY_FILE, existing.check) !== JSON.stringify(CHECK_TEXT)) throw new Error('check differs');
  } catch {
    throw new StoreRefusal(
      'WRONG_PASSPHRASE',
      `the store in ${store} cannot be decrypted with this KUBESEED_PASSPHRASE: set it to the passphrase the state was generated with`,
    );
  }
  return key;
}
