/**
 * Uploading an etcd snapshot (spec.etcd.backup, ADR 0041): `POST /v1/backups`, signed like every
 * agent request, with the raw snapshot as the body (`application/octet-stream`, streamed on both
 * sides). The signature covers the body through its SHA-256, which the agent sends in
 * `x-kubeseed-content-sha256` and signs in place of the hash of the bytes (the coordinator checks
 * the signature before it reads the body, and the bytes against that hash while it streams them
 * to disk): a body larger than memory is never buffered to be signed or verified.
 *
 * Runtime contract: pure data, no imports beyond the protocol (bundled into the agent).
 */
import { API_PREFIX } from './wire.ts';

export const BACKUP_UPLOAD_PATH = `${API_PREFIX}/backups`;
export const BACKUP_CONTENT_TYPE = 'application/octet-stream';
/** SHA-256 (64 lower-case hex digits) of the whole body, signed in place of the body's own hash. */
export const HEADER_CONTENT_SHA256 = 'x-kubeseed-content-sha256';
/** The `etcd-snapshot` step this upload belongs to (released to the signing host, not finished). */
export const HEADER_STEP = 'x-kubeseed-step';
/** What `snapshot status` said on the host, as JSON ({revision, totalKey, hash, tool}); optional, shown by `kubeseed backups`. */
export const HEADER_SNAPSHOT_STATUS = 'x-kubeseed-snapshot-status';
/**
 * Largest snapshot the coordinator accepts (8 GiB: etcd's suggested maximum `--quota-backend-bytes`;
 * the default quota is 2 GiB). A larger body is cut off with 413 and nothing is kept.
 */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 ** 3;

/** The agent's bound on `etcdctl snapshot save`, and again on `snapshot status` of the file. */
export const SNAPSHOT_SAVE_TIMEOUT_MS = 15 * 60_000;
/** A snapshot upload of a few GiB over a slow link still ends; the coordinator's own limit is in docs/day2.md. */
export const SNAPSHOT_UPLOAD_TIMEOUT_MS = 10 * 60_000;
/** The longest an agent works on one `etcd-snapshot` step: save, status and upload, each at its bound. */
export const SNAPSHOT_STEP_BOUND_MS = 2 * SNAPSHOT_SAVE_TIMEOUT_MS + SNAPSHOT_UPLOAD_TIMEOUT_MS;

/** `snapshot status -w json` of the file on the host, as the agent reports it. */
export interface SnapshotStatus {
  /** Which program answered: `etcdutl` (3.5+) or `etcdctl` (3.4). */
  tool: 'etcdutl' | 'etcdctl';
  revision: number;
  totalKey: number;
  /** The hash etcd prints (of the key space, not of the file). */
  hash: number;
}

/** The coordinator's answer to an accepted upload. */
export interface BackupUploadResponse {
  id: string;
  bytes: number;
  sha256: string;
}

export const BACKUP_UPLOAD_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['id', 'bytes', 'sha256'],
  additionalProperties: false,
  properties: { id: { type: 'string' }, bytes: { type: 'integer' }, sha256: { type: 'string' } },
} as const;
