/**
 * The agent's half of `POST /v1/backups` (protocol/backup.ts): signs the upload over the file's
 * SHA-256 and streams the file. Used by the `etcd-snapshot` step through its context.
 */
import {
  BACKUP_CONTENT_TYPE,
  BACKUP_UPLOAD_PATH,
  HEADER_CONTENT_SHA256,
  HEADER_SNAPSHOT_STATUS,
  HEADER_STEP,
  SNAPSHOT_UPLOAD_TIMEOUT_MS,
  type SnapshotStatus,
} from '../protocol/backup.ts';
import type { Clock, Http, HttpResponse, Random } from './io.ts';
import { type AgentKey, signRequest } from './signing.ts';

export interface SnapshotUploadInput {
  /** Where the snapshot is, as the agent's process opens it. */
  file: string;
  sha256: string;
  stepId: string;
  status?: SnapshotStatus;
}

export type SnapshotUpload = (input: SnapshotUploadInput) => Promise<HttpResponse>;

export function signedSnapshotUpload(
  http: Http,
  identity: { key: AgentKey; host: string },
  clock: Clock,
  random: Random,
  signal?: AbortSignal,
): SnapshotUpload {
  return async ({ file, sha256, stepId, status }) => {
    if (!http.upload) throw new Error('this HTTP client cannot stream uploads');
    const headers = {
      ...signRequest({
        key: identity.key,
        host: identity.host,
        method: 'POST',
        pathWithQuery: BACKUP_UPLOAD_PATH,
        body: '',
        bodySha256: sha256,
        now: clock.now(),
        nonce: random.hex(16),
      }),
      'content-type': BACKUP_CONTENT_TYPE,
      [HEADER_CONTENT_SHA256]: sha256,
      [HEADER_STEP]: stepId,
      ...(status ? { [HEADER_SNAPSHOT_STATUS]: JSON.stringify(status) } : {}),
    };
    return http.upload({ path: BACKUP_UPLOAD_PATH, file, headers, timeoutMs: SNAPSHOT_UPLOAD_TIMEOUT_MS, ...(signal ? { signal } : {}) });
  };
}
