/**
 * An etcd snapshot as `etcdctl snapshot save` writes it, built by hand for tests that have no
 * etcd: a bbolt database (4 KiB pages, the meta page's magic 0xED0CDAED after its 16-byte page
 * header) followed by the SHA-256 of the database bytes (etcd v3rpc/maintenance.go appends it).
 * test/validators/etcd-backup.test.ts checks the same code against snapshots real etcd took.
 */
import { createHash, randomBytes, sign } from 'node:crypto';
import {
  BACKUP_CONTENT_TYPE,
  canonicalRequest,
  HEADER_CONTENT_SHA256,
  HEADER_HOST,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  HEADER_STEP,
  HEADER_TIMESTAMP,
} from '../../../protocol/index.ts';
import type { AgentIdentity } from './support.ts';

export function fakeSnapshot(pages = 4): Buffer {
  const db = randomBytes(pages * 4096);
  db.writeUInt32LE(0xed0cdaed, 16);
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

export const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Headers of a snapshot upload signed over `contentSha256` (protocol/backup.ts). */
export function uploadHeaders(agent: AgentIdentity, url: string, contentSha256: string, step: string, now: number): Record<string, string> {
  const timestamp = String(now);
  const nonce = randomBytes(12).toString('hex');
  const signature = sign('sha256', Buffer.from(canonicalRequest('POST', url, timestamp, nonce, contentSha256)), agent.privateKey).toString(
    'base64',
  );
  return {
    [HEADER_HOST]: agent.host,
    [HEADER_TIMESTAMP]: timestamp,
    [HEADER_NONCE]: nonce,
    [HEADER_SIGNATURE]: signature,
    [HEADER_CONTENT_SHA256]: contentSha256,
    [HEADER_STEP]: step,
    'content-type': BACKUP_CONTENT_TYPE,
  };
}
