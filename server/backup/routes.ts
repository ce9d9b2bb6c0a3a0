/**
 * `POST /v1/backups` (protocol/backup.ts): an enrolled host uploads the etcd snapshot its released
 * `etcd-snapshot` step took. The signature is checked before a byte of the body is read (over the
 * declared SHA-256); the body streams through the vault (checked, sealed, kept only when intact),
 * then retention prunes the oldest and the audit trail records the upload. Scoped to its own
 * plugin: the raw-stream body parser exists for this route only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  BACKUP_CONTENT_TYPE,
  BACKUP_UPLOAD_PATH,
  BACKUP_UPLOAD_RESPONSE_SCHEMA,
  type BackupUploadResponse,
  ERROR_BODY_SCHEMA,
  ERROR_CODES,
  HEADER_CONTENT_SHA256,
  HEADER_SNAPSHOT_STATUS,
  HEADER_STEP,
  MAX_SNAPSHOT_BYTES,
  type SnapshotStatus,
} from '../../protocol/index.ts';
import type { SignedRequest } from '../auth.ts';
import { ApiError, badRequest, conflict } from '../errors.ts';
import type { StepRecord } from '../model.ts';
import { appendAudit } from '../rollout/audit.ts';
import type { Store } from '../store/index.ts';
import { BackupRefused, type BackupVault } from './vault.ts';

export interface BackupRouteDeps {
  /** Absent: the coordinator keeps no backups (the route answers 409 saying why). */
  vault?: BackupVault;
  /** spec.etcd.backup.retention; absent: spec.etcd.backup is not set. */
  retention?: number;
  authenticate(request: SignedRequest): string;
  stepRecord(id: string): StepRecord | undefined;
  now(): number;
  store: Store;
  /** Default MAX_SNAPSHOT_BYTES. */
  maxBytes?: number;
}

const STATUS_BY_REASON: Record<BackupRefused['reason'], number> = {
  'too-large': 413,
  'hash-mismatch': 400,
  'not-a-snapshot': 400,
  exists: 409,
  'unknown-id': 404,
  'no-passphrase': 409,
};
const CODE_BY_STATUS: Record<number, (typeof ERROR_CODES)[keyof typeof ERROR_CODES]> = {
  413: ERROR_CODES.payloadTooLarge,
  400: ERROR_CODES.badRequest,
  409: ERROR_CODES.conflict,
  404: ERROR_CODES.notFound,
};

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The host's `snapshot status` header: shown, never trusted for anything else; a malformed one is refused. */
function statusOf(text: string | undefined): SnapshotStatus | undefined {
  if (text === undefined) return undefined;
  let value: Partial<SnapshotStatus>;
  try {
    value = JSON.parse(text) as Partial<SnapshotStatus>;
  } catch {
    throw badRequest(`${HEADER_SNAPSHOT_STATUS} is not JSON`);
  }
  const count = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if ((value.tool !== 'etcdutl' && value.tool !== 'etcdctl') || !count(value.revision) || !count(value.totalKey) || !count(value.hash))
    throw badRequest(`${HEADER_SNAPSHOT_STATUS} must be {"tool":"etcdutl"|"etcdctl","revision":N,"totalKey":N,"hash":N}`);
  return { tool: value.tool, revision: value.revision!, totalKey: value.totalKey!, hash: value.hash! };
}

export function registerBackupRoutes(app: FastifyInstance, deps: BackupRouteDeps): void {
  const maxBytes = deps.maxBytes ?? MAX_SNAPSHOT_BYTES;
  app.register(async (scope) => {
    // The body stays a stream: the handler reads it once, into the vault.
    scope.addContentTypeParser(BACKUP_CONTENT_TYPE, (_request, payload, done) => done(null, payload));
    scope.post(
      BACKUP_UPLOAD_PATH,
      {
        schema: { response: { 200: BACKUP_UPLOAD_RESPONSE_SCHEMA, '4xx': ERROR_BODY_SCHEMA, '5xx': ERROR_BODY_SCHEMA } },
        preHandler: async (request) => {
          const sha256 = header(request, HEADER_CONTENT_SHA256);
          if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256))
            throw badRequest(`${HEADER_CONTENT_SHA256} must be the body's SHA-256 as 64 lower-case hex digits`);
          request.agentHost = deps.authenticate({
            method: request.method,
            url: request.url,
            headers: request.headers,
            rawBody: undefined,
            bodySha256: sha256,
          });
        },
      },
      async (request): Promise<BackupUploadResponse> => {
        const host = request.agentHost!;
        const stepId = header(request, HEADER_STEP);
        if (!stepId) throw badRequest(`${HEADER_STEP} must name the etcd-snapshot step this upload belongs to`);
        const step = deps.stepRecord(stepId);
        if (!step || step.host !== host || step.kind !== 'etcd-snapshot' || (step.state !== 'released' && step.state !== 'running'))
          throw conflict(`${stepId} is not an etcd-snapshot step released to ${host}; the coordinator takes snapshots it asked for only`);
        if (deps.retention === undefined) throw conflict('spec.etcd.backup is not set: this coordinator keeps no etcd snapshots');
        if (!deps.vault) throw conflict('this coordinator keeps no etcd snapshots (no backup directory was opened)');
        const length = Number(header(request, 'content-length'));
        if (Number.isFinite(length) && length > maxBytes)
          throw new ApiError(
            413,
            ERROR_CODES.payloadTooLarge,
            `the snapshot is ${length} bytes; the coordinator keeps at most ${maxBytes}`,
          );
        const status = statusOf(header(request, HEADER_SNAPSHOT_STATUS));
        const body = request.body as NodeJS.ReadableStream | undefined;
        if (!body || typeof body.pipe !== 'function') throw badRequest(`send the snapshot as ${BACKUP_CONTENT_TYPE}`);
        try {
          const record = await deps.vault.receive({
            host,
            step: stepId,
            at: deps.now(),
            body,
            sha256: header(request, HEADER_CONTENT_SHA256)!,
            maxBytes,
            ...(status ? { status } : {}),
          });
          const pruned = await deps.vault.prune(deps.retention);
          request.log.info({ host, backup: record.id, bytes: record.bytes, pruned }, 'etcd snapshot stored');
          await appendAudit(deps.store, {
            at: record.takenAt,
            host,
            step: stepId,
            attempt: step.attempt,
            secrets: [],
            backup: { id: record.id, bytes: record.bytes, sha256: record.sha256, pruned },
          });
          return { id: record.id, bytes: record.bytes, sha256: record.sha256 };
        } catch (error) {
          if (error instanceof BackupRefused) {
            const code = STATUS_BY_REASON[error.reason];
            throw new ApiError(code, CODE_BY_STATUS[code]!, error.message);
          }
          throw error;
        }
      },
    );
  });
}
