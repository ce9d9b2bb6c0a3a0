/**
 * The durable embedded store (docs/adr/0002-store.md): a write-ahead journal of committed
 * transactions plus a periodic atomic snapshot, both in `<dir>`.
 *
 *   journal.log   frames: u32 payload length (BE) · u32 CRC-32 of payload · payload (JSON)
 *   snapshot.json {format, revision, records} written to a temp file, fsynced, renamed, dir fsynced
 *
 * Group commit: commits arriving while the previous write is in flight (or in the same event-loop
 * turn) are appended with one write and made durable with one fsync. A torn or corrupt final
 * frame (kill -9 during a write) is ignored on load and cut off before the next append. A failed
 * write or fsync rolls the in-memory view back to the last durable revision and rejects every
 * pending commit with StoreError; the journal is truncated back to its last durable length.
 *
 * With a RecordCipher (KUBESEED_PASSPHRASE), the values of secret-bearing records are sealed in
 * both files (record-cipher.ts); plaintext ones left by an older start are rewritten at open.
 */
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { movedRefusal, readMovedMarker } from './journal-moved.ts';
import { isSealed, type RecordCipher } from './record-cipher.ts';
import { type CommitResult, type Store, StoreError, type StoreRecord, StoreRefusal, type StoreTxn } from './types.ts';
import { checkAndApply, KeyValueView, type UndoEntry } from './view.ts';

const JOURNAL = 'journal.log';
const SNAPSHOT = 'snapshot.json';
const FRAME_HEADER = 8;
/** Frames larger than this are treated as corruption on load. */
const MAX_FRAME = 64 * 1024 * 1024;

export interface JournalStoreOptions {
  /** Write a snapshot and start a new journal after this many journaled commits (default 2000). */
  snapshotEvery?: number;
  /** Fault injection for tests: throw from these to simulate a full or failing disk. */
  faults?: { beforeWrite?: () => void; beforeSync?: () => void };
  /** Seals secret-bearing record values at rest (record-cipher.ts). */
  cipher?: RecordCipher;
  /**
   * Reads the records and changes nothing (`kubeseed certs` beside a running serve): a torn tail is
   * left to the writer, nothing is created or rewritten, and every commit is refused.
   */
  readOnly?: boolean;
}

interface Batch {
  frames: Buffer[];
  undo: UndoEntry[];
  /** Revision before the batch's first commit (rollback target). */
  baseRevision: number;
  commits: number;
  failed: boolean;
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface JournalStats {
  commits: number;
  syncs: number;
  snapshots: number;
  /** Bytes dropped from a torn journal tail at the last open. */
  tornBytes: number;
}

function createBatch(baseRevision: number): Batch {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits (flushed() not called) must not crash the process on failure.
  promise.catch(() => {});
  return { frames: [], undo: [], baseRevision, commits: 0, failed: false, promise, resolve, reject };
}

function encodeFrame(payload: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.writeUInt32BE(crc32(body), 4);
  body.copy(frame, FRAME_HEADER);
  return frame;
}

interface JournalEntry {
  r: number;
  p: [string, unknown][];
  d: string[];
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class JournalStore implements Store {
  private readonly view = new KeyValueView();
  private handle: FileHandle | undefined;
  /** Journal length known to be durable. */
  private durableLength = 0;
  private needsTruncate = false;
  private collecting: Batch | undefined;
  private inFlight: Batch | undefined;
  private chain: Promise<void> = Promise.resolve();
  private journaledSinceSnapshot = 0;
  private closed = false;
  private readonly stats: JournalStats = { commits: 0, syncs: 0, snapshots: 0, tornBytes: 0 };
  /** A record that should be sealed was read in plaintext: rewrite the files at open. */
  private plaintextSecrets = false;

  constructor(
    readonly dir: string,
    private readonly options: JournalStoreOptions = {},
  ) {}

  async open(): Promise<void> {
    // Moved to etcd by `kubeseed store migrate`: serving this copy beside that one would fork the rollout.
    const moved = await readMovedMarker(this.dir);
    if (moved) throw movedRefusal(this.dir, moved);
    if (!this.options.readOnly) await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const snapshotRevision = await this.loadSnapshot();
    const journalPath = join(this.dir, JOURNAL);
    let data: Buffer;
    try {
      data = await readFile(journalPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreError(`cannot read ${journalPath}`, error);
      data = Buffer.alloc(0);
    }
    const goodLength = this.replay(data, snapshotRevision);
    this.stats.tornBytes = data.length - goodLength;
    if (this.options.readOnly) return;
    this.handle = await open(journalPath, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o600);
    if (goodLength < data.length) {
      await this.handle.truncate(goodLength);
      await this.handle.sync();
    }
    this.durableLength = goodLength;
    // A passphrase set after a start without one: the old plaintext copies must not stay on disk.
    if (this.plaintextSecrets) await this.writeSnapshot();
  }

  /** A value as stored → as held in memory. */
  private load(key: string, stored: unknown): unknown {
    const cipher = this.options.cipher;
    if (isSealed(stored)) {
      if (!cipher)
        throw new StoreRefusal(
          'PASSPHRASE_REQUIRED',
          `${this.dir} holds records encrypted with KUBESEED_PASSPHRASE: set KUBESEED_PASSPHRASE to the passphrase the state was generated with`,
        );
      return cipher.open(key, stored);
    }
    if (cipher?.seals(key)) this.plaintextSecrets = true;
    return stored;
  }

  /** A value as held in memory → as stored. */
  private stored(key: string, value: unknown): unknown {
    const cipher = this.options.cipher;
    return cipher?.seals(key) ? cipher.seal(key, value) : value;
  }

  private async loadSnapshot(): Promise<number> {
    const path = join(this.dir, SNAPSHOT);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw new StoreError(`cannot read ${path}`, error);
    }
    let parsed: { format: number; revision: number; records: [string, number, unknown][] };
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      // Snapshots are only ever renamed into place complete; a parse error is real corruption.
      throw new StoreError(`${path} is corrupt; restore it from a backup or remove the state directory`, error);
    }
    if (parsed.format !== 1) throw new StoreError(`${path} has unknown format ${String(parsed.format)}`);
    for (const [key, version, value] of parsed.records) this.view.load({ key, version, value: this.load(key, value) });
    this.view.setRevision(parsed.revision);
    return parsed.revision;
  }

  /** Replays frames after `afterRevision`; returns the length of the valid prefix. */
  private replay(data: Buffer, afterRevision: number): number {
    let offset = 0;
    while (offset + FRAME_HEADER <= data.length) {
      const length = data.readUInt32BE(offset);
      const crc = data.readUInt32BE(offset + 4);
      if (length > MAX_FRAME || offset + FRAME_HEADER + length > data.length) break;
      const body = data.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length);
      if (crc32(body) !== crc) break;
      let entry: JournalEntry;
      try {
        entry = JSON.parse(body.toString('utf8'));
      } catch {
        break;
      }
      if (entry.r > afterRevision) {
        for (const [key, value] of entry.p) this.view.load({ key, value: this.load(key, value), version: entry.r });
        for (const key of entry.d) this.view.remove(key);
        this.view.setRevision(entry.r);
      }
      offset += FRAME_HEADER + length;
    }
    return offset;
  }

  get<T = unknown>(key: string): StoreRecord<T> | undefined {
    return this.view.get<T>(key);
  }

  list<T = unknown>(prefix: string): StoreRecord<T>[] {
    return this.view.list<T>(prefix);
  }

  watch(listener: (key: string, record: StoreRecord | undefined) => void): () => void {
    return this.view.watch(listener);
  }

  revision(): number {
    return this.view.revision();
  }

  getStats(): JournalStats {
    return { ...this.stats };
  }

  commit(txn: StoreTxn): Promise<CommitResult> {
    if (this.options.readOnly) return Promise.reject(new StoreError(`${this.dir} was opened read-only`));
    if (this.closed || !this.handle) return Promise.reject(new StoreError('store is closed'));
    const baseRevision = this.view.revision();
    const { result, undo } = checkAndApply(this.view, txn);
    if (!result.ok) return Promise.resolve(result);
    if (!this.collecting) {
      this.collecting = createBatch(baseRevision);
      const scheduled = this.collecting;
      // setImmediate: everything committed in this turn of the event loop joins the batch.
      setImmediate(() => {
        this.chain = this.chain.then(() => this.flush(scheduled));
      });
    }
    const batch = this.collecting;
    const entry: JournalEntry = {
      r: result.revision,
      p: (txn.puts ?? []).map((put) => [put.key, this.stored(put.key, put.value)]),
      d: txn.deletes ?? [],
    };
    batch.frames.push(encodeFrame(entry));
    batch.undo.push(...undo);
    batch.commits++;
    return batch.promise.then(() => result);
  }

  flushed(): Promise<void> {
    const last = this.collecting ?? this.inFlight;
    return last ? last.promise : Promise.resolve();
  }

  private async flush(batch: Batch): Promise<void> {
    if (this.collecting === batch) this.collecting = undefined;
    if (batch.failed) return;
    this.inFlight = batch;
    const handle = this.handle!;
    try {
      if (this.needsTruncate) {
        await handle.truncate(this.durableLength);
        this.needsTruncate = false;
      }
      const buffer = Buffer.concat(batch.frames);
      this.options.faults?.beforeWrite?.();
      let written = 0;
      while (written < buffer.length) {
        const { bytesWritten } = await handle.write(buffer, written, buffer.length - written, this.durableLength + written);
        written += bytesWritten;
      }
      this.options.faults?.beforeSync?.();
      await handle.datasync();
      this.stats.syncs++;
      this.stats.commits += batch.commits;
      this.durableLength += buffer.length;
      this.journaledSinceSnapshot += batch.commits;
      this.inFlight = undefined;
      batch.resolve();
    } catch (error) {
      this.failPending(batch, error);
      return;
    }
    // A snapshot rewrites every record: by default taken once the commits since the last one reach
    // the record count (at least 2,000), so its cost per commit stays constant as the fleet grows.
    if (this.journaledSinceSnapshot >= (this.options.snapshotEvery ?? Math.max(2000, this.view.size()))) {
      try {
        await this.writeSnapshot();
      } catch {
        // The journal still holds everything; try again after the next batch.
      }
    }
  }

  /** Rolls back the failed batch and everything committed after it; rejects them all. */
  private failPending(batch: Batch, cause: unknown): void {
    const later = this.collecting;
    this.collecting = undefined;
    this.inFlight = undefined;
    if (later) this.view.rollback(later.undo, later.baseRevision);
    this.view.rollback(batch.undo, batch.baseRevision);
    this.needsTruncate = true;
    batch.failed = true;
    if (later) later.failed = true;
    const error = new StoreError('could not write the coordinator state to disk', cause);
    batch.reject(error);
    // A later batch's flush is already scheduled; it finds nothing to do once rejected.
    if (later) later.reject(error);
  }

  /** Durable state = the view minus the commits still collecting for the next batch. */
  private durableRecords(): StoreRecord[] {
    const map = new Map(this.view.entries().map((record) => [record.key, record]));
    const pending = this.collecting;
    if (pending) {
      for (let i = pending.undo.length - 1; i >= 0; i--) {
        const entry = pending.undo[i]!;
        if (entry.previous) map.set(entry.key, entry.previous);
        else map.delete(entry.key);
      }
    }
    return [...map.values()];
  }

  private async writeSnapshot(): Promise<void> {
    const revision = this.collecting ? this.collecting.baseRevision : this.view.revision();
    const records = this.durableRecords().map((record) => [record.key, record.version, this.stored(record.key, record.value)]);
    const text = JSON.stringify({ format: 1, revision, records });
    const tmp = join(this.dir, `${SNAPSHOT}.tmp`);
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, join(this.dir, SNAPSHOT));
    await fsyncDir(this.dir);
    // Start a fresh journal: replay skips any frame at or below the snapshot's revision anyway.
    const journalTmp = join(this.dir, `${JOURNAL}.tmp`);
    const fresh = await open(journalTmp, 'w', 0o600);
    await fresh.sync();
    await fresh.close();
    await rename(journalTmp, join(this.dir, JOURNAL));
    await fsyncDir(this.dir);
    const old = this.handle;
    this.handle = await open(join(this.dir, JOURNAL), fsConstants.O_RDWR, 0o600);
    this.durableLength = 0;
    this.journaledSinceSnapshot = 0;
    this.stats.snapshots++;
    await old?.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushed().catch(() => {});
    await this.chain;
    this.closed = true;
    await this.handle?.close();
    this.handle = undefined;
  }
}
