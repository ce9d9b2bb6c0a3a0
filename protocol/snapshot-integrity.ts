/**
 * Checks that bytes are an etcd snapshot as `etcdctl snapshot save` writes it, while they stream
 * (nothing is buffered but the last 32 bytes). etcd's Maintenance.Snapshot sends the bbolt
 * database and then the SHA-256 of those bytes; `snapshot save` keeps both, and `snapshot
 * restore` refuses a file whose size modulo 512 is not 32 (no hash) or whose hash differs
 * (etcd server/etcdserver/api/v3rpc/maintenance.go; etcdutl/snapshot/v3_snapshot.go, 3.4:
 * clientv3/snapshot/v3_snapshot.go). The database starts with a bbolt meta page: a 16-byte page
 * header, then the magic 0xED0CDAED (little-endian).
 *
 * Also hashes the whole body: the uploader signed that hash (protocol/backup.ts). Node built-ins
 * only: the agent checks its snapshot before the upload, the coordinator again as it arrives.
 */
import { createHash, type Hash } from 'node:crypto';

const SHA256_BYTES = 32;
const BOLT_MAGIC = 0xed0cdaed;
const BOLT_MAGIC_OFFSET = 16;

export interface SnapshotIntegrityResult {
  /** Bytes seen, trailer included. */
  bytes: number;
  /** SHA-256 hex of every byte seen (the content hash the upload was signed with). */
  sha256: string;
  /** Why these bytes are not an intact snapshot; absent when they are. */
  problem?: string;
}

export class SnapshotIntegrity {
  private readonly whole: Hash = createHash('sha256');
  private readonly db: Hash = createHash('sha256');
  /** The last bytes seen, not yet hashed as database bytes (they may be the trailer). */
  private tail: Buffer = Buffer.alloc(0);
  private head: Buffer = Buffer.alloc(0);
  private size = 0;

  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.whole.update(chunk);
    if (this.head.length < BOLT_MAGIC_OFFSET + 4) this.head = Buffer.concat([this.head, chunk.subarray(0, BOLT_MAGIC_OFFSET + 4)]);
    const joined = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const release = joined.length - SHA256_BYTES;
    if (release > 0) {
      this.db.update(joined.subarray(0, release));
      this.tail = Buffer.from(joined.subarray(release));
    } else this.tail = Buffer.from(joined);
  }

  /** Call once, after the last chunk. */
  result(): SnapshotIntegrityResult {
    const base = { bytes: this.size, sha256: this.whole.digest('hex') };
    const problem = this.problem();
    return problem ? { ...base, problem } : base;
  }

  private problem(): string | undefined {
    if (this.size < BOLT_MAGIC_OFFSET + 4 + SHA256_BYTES) return `${this.size} bytes is too short for an etcd snapshot`;
    if (this.head.readUInt32LE(BOLT_MAGIC_OFFSET) !== BOLT_MAGIC) return 'not an etcd snapshot: no bbolt database header';
    if (this.size % 512 !== SHA256_BYTES)
      return `no integrity hash: ${this.size} bytes is not a database plus the 32-byte SHA-256 etcd appends (a file copied from member/snap/db, or cut short)`;
    const expected = this.tail.toString('hex');
    const actual = this.db.digest('hex');
    if (expected !== actual)
      return `integrity hash differs: the file says ${expected.slice(0, 16)}…, its bytes hash to ${actual.slice(0, 16)}… (damaged in transit or on disk)`;
    return undefined;
  }
}
