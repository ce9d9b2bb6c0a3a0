/**
 * The coordinator's etcd snapshots (spec.etcd.backup, ADR 0041): `<state>/backups/`, each
 * snapshot one file sealed with the KUBESEED_PASSPHRASE key (AES-256-GCM, streamed: a header
 * line, the ciphertext, the 16-byte tag; the snapshot's place `backups/<id>` is the additional
 * data, so a file renamed to another id does not open) beside a plain metadata file (host, time,
 * size, hashes, what `snapshot status` said: nothing secret). The key's salt and check value live
 * in `backups/key.json`, the format the store's key file has (server/store/record-cipher.ts).
 *
 * Runtime contract: a snapshot is checked (protocol/snapshot-integrity.ts) while it streams to a
 * `.partial` file and renamed into place only when whole and intact; its metadata is written
 * last, so a listed snapshot is always complete. Nothing is ever held in memory whole.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SnapshotStatus } from '../../protocol/backup.ts';
import { SnapshotIntegrity } from '../../protocol/snapshot-integrity.ts';
import { keyFileInDirectory, openPassphraseKey } from '../store/record-cipher.ts';
import { utcStamp } from './schedule.ts';

export const BACKUPS_DIR = 'backups';
const FORMAT = 'kubeseed-etcd-snapshot';
const TAG_BYTES = 16;
const HEADER_MAX = 1024;

/** One stored snapshot, as `kubeseed backups` lists it. */
export interface BackupRecord {
  /** `<UTC time>-<host>`, e.g. `20261206T053500Z-etcd1`: sorts by time. */
  id: string;
  host: string;
  /** The `etcd-snapshot` step that took it. */
  step: string;
  /** ISO 8601, the coordinator's clock when the upload completed. */
  takenAt: string;
  /** Size of the snapshot (plaintext, etcd's hash trailer included). */
  bytes: number;
  /** SHA-256 hex of the snapshot file. */
  sha256: string;
  /** etcd's appended hash matched and the file starts with a bbolt header (checked by the coordinator). */
  verified: true;
  /** `snapshot status` on the host, when the agent ran it. */
  status?: SnapshotStatus;
}

/** A snapshot refused: `reason` is stable, `message` says what to do. */
export class BackupRefused extends Error {
  constructor(
    readonly reason: 'too-large' | 'hash-mismatch' | 'not-a-snapshot' | 'exists' | 'unknown-id' | 'no-passphrase',
    message: string,
  ) {
    super(message);
  }
}

export interface ReceiveInput {
  host: string;
  step: string;
  /** The coordinator's clock (ms since the epoch). */
  at: number;
  body: NodeJS.ReadableStream;
  /** The SHA-256 hex the upload was signed with. */
  sha256: string;
  maxBytes: number;
  status?: SnapshotStatus;
}

interface Header {
  format: typeof FORMAT;
  version: 1;
  cipher: 'aes-256-gcm';
  nonce: string;
}

const aadOf = (id: string) => Buffer.from(`${BACKUPS_DIR}/${id}`, 'utf8');
const ID = /^\d{8}T\d{6}Z-[a-z0-9][a-z0-9.-]*$/;

export class BackupVault {
  private constructor(
    readonly dir: string,
    private readonly key: Buffer | undefined,
  ) {}

  /**
   * The vault in `<stateDir>/backups`. Without a passphrase it can list but neither store nor
   * export (a snapshot holds every Secret of the cluster: it is never kept in the clear).
   */
  static async open(stateDir: string, passphrase: string | undefined, kdf?: { N: number; r: number; p: number }): Promise<BackupVault> {
    const dir = join(stateDir, BACKUPS_DIR);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const key = await openPassphraseKey(keyFileInDirectory(dir), dir, passphrase, kdf);
    // A crash mid-upload leaves a .partial file: never listed, removed here.
    for (const name of await readdir(dir)) if (name.endsWith('.partial')) await rm(join(dir, name), { force: true });
    return new BackupVault(dir, key);
  }

  get canSeal(): boolean {
    return this.key !== undefined;
  }

  private dataPath = (id: string) => join(this.dir, `${id}.snapshot`);
  private metaPath = (id: string) => join(this.dir, `${id}.json`);

  private requireKey(what: string): Buffer {
    if (!this.key)
      throw new BackupRefused(
        'no-passphrase',
        `${what} needs KUBESEED_PASSPHRASE: etcd snapshots hold every Secret of the cluster and are kept only encrypted; set it to the state's passphrase`,
      );
    return this.key;
  }

  /** Streams an upload to disk, sealed, checking it on the way; keeps it only when whole and intact. */
  async receive(input: ReceiveInput): Promise<BackupRecord> {
    const key = this.requireKey('storing an etcd snapshot');
    const id = `${utcStamp(input.at)}-${input.host}`;
    if (await exists(this.metaPath(id))) throw new BackupRefused('exists', `snapshot ${id} already exists; upload again in a second`);
    const partial = `${this.dataPath(id)}.partial`;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(aadOf(id));
    const header: Header = { format: FORMAT, version: 1, cipher: 'aes-256-gcm', nonce: nonce.toString('base64url') };
    const integrity = new SnapshotIntegrity();
    let seen = 0;
    const check = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > input.maxBytes)
          return done(new BackupRefused('too-large', `the snapshot exceeds ${input.maxBytes} bytes, the most the coordinator keeps`));
        integrity.update(chunk);
        done(null, chunk);
      },
    });
    const out = createWriteStream(partial, { mode: 0o600 });
    try {
      out.write(`${JSON.stringify(header)}\n`);
      await pipeline(input.body, check, cipher, out);
      const handle = await open(partial, 'a');
      try {
        await handle.write(cipher.getAuthTag());
        await handle.sync();
      } finally {
        await handle.close();
      }
      const result = integrity.result();
      if (result.sha256 !== input.sha256)
        throw new BackupRefused('hash-mismatch', `the body hashes to ${result.sha256}, not the signed ${input.sha256}: upload again`);
      if (result.problem) throw new BackupRefused('not-a-snapshot', result.problem);
      await rename(partial, this.dataPath(id));
      const record: BackupRecord = {
        id,
        host: input.host,
        step: input.step,
        takenAt: new Date(input.at).toISOString(),
        bytes: result.bytes,
        sha256: result.sha256,
        verified: true,
        ...(input.status ? { status: input.status } : {}),
      };
      await writeFile(`${this.metaPath(id)}.partial`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      await rename(`${this.metaPath(id)}.partial`, this.metaPath(id));
      return record;
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  /** Every stored snapshot, oldest first. */
  list(): Promise<BackupRecord[]> {
    return listBackups(this.dir);
  }

  /** Deletes the oldest snapshots beyond `retention`; returns their ids. */
  async prune(retention: number): Promise<string[]> {
    const all = await this.list();
    const doomed = all.slice(0, Math.max(0, all.length - retention)).map((r) => r.id);
    for (const id of doomed) {
      await rm(this.metaPath(id), { force: true }); // metadata first: a half-deleted snapshot is no longer listed
      await rm(this.dataPath(id), { force: true });
    }
    return doomed;
  }

  /**
   * Decrypts snapshot `id` to `outFile` (0600), streaming, and checks it again on the way: the
   * GCM tag (altered or wrong key) and etcd's own hash. Nothing is left at `outFile` on failure.
   */
  async export(id: string, outFile: string): Promise<BackupRecord> {
    const key = this.requireKey('exporting an etcd snapshot');
    const record = (await this.list()).find((r) => r.id === id);
    if (!record) throw new BackupRefused('unknown-id', `no snapshot ${id} in ${this.dir}; \`kubeseed backups\` lists them`);
    const path = this.dataPath(id);
    const size = (await stat(path)).size;
    const handle = await open(path, 'r');
    let headerText: string;
    const tag = Buffer.alloc(TAG_BYTES);
    try {
      const start = Buffer.alloc(Math.min(HEADER_MAX, size));
      await handle.read(start, 0, start.length, 0);
      const newline = start.indexOf(0x0a);
      if (newline < 0) throw new BackupRefused('not-a-snapshot', `${path} has no header: not a kubeseed snapshot file`);
      headerText = start.subarray(0, newline).toString('utf8');
      await handle.read(tag, 0, TAG_BYTES, size - TAG_BYTES);
    } finally {
      await handle.close();
    }
    const header = JSON.parse(headerText) as Header;
    if (header.format !== FORMAT || header.version !== 1)
      throw new BackupRefused('not-a-snapshot', `${path} has an unknown format; upgrade kubeseed`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(header.nonce, 'base64url'));
    decipher.setAAD(aadOf(id));
    decipher.setAuthTag(tag);
    const integrity = new SnapshotIntegrity();
    const check = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        integrity.update(chunk);
        done(null, chunk);
      },
    });
    const partial = `${outFile}.partial`;
    try {
      const dataStart = Buffer.byteLength(headerText) + 1;
      await pipeline(
        createReadStream(path, { start: dataStart, end: size - TAG_BYTES - 1 }),
        decipher,
        check,
        createWriteStream(partial, { mode: 0o600 }),
      );
      const result = integrity.result();
      if (result.problem || result.sha256 !== record.sha256)
        throw new BackupRefused(
          'not-a-snapshot',
          `snapshot ${id} decrypted but is not what was stored: ${result.problem ?? 'its hash differs'}`,
        );
      await rename(partial, outFile);
      return record;
    } catch (error) {
      await rm(partial, { force: true });
      if (error instanceof BackupRefused) throw error;
      throw new BackupRefused(
        'hash-mismatch',
        `snapshot ${id} does not decrypt (altered on disk, or another passphrase): ${(error as Error).message}`,
      );
    }
  }
}

/** The snapshots in a backups directory, oldest first, from their metadata alone (no passphrase needed). */
export async function listBackups(dir: string): Promise<BackupRecord[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json') && ID.test(n.slice(0, -5)));
  const records = await Promise.all(names.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as BackupRecord));
  return records.sort((a, b) => a.takenAt.localeCompare(b.takenAt) || a.id.localeCompare(b.id));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
