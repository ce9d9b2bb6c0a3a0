/**
 * The JSON Schema of GET /v1/status (the coordinator's `RolloutStatus`, read by `kubeseed status`
 * and the status page): strict, every object closed (`additionalProperties: false`), so a field
 * added to the status without its schema, or a value of the wrong type, fails validation instead
 * of passing unnoticed. test/unit/server/schemas.test.ts checks at compile time that the type
 * this schema describes (protocol/schema-types.ts) is exactly the coordinator's RolloutStatus.
 * Not exported from protocol/index.ts: the agent never reads the status.
 */
import { CLOUD_INIT_REPORT_SCHEMA } from './schemas.ts';
import { INSTALL_FAILURE_REASONS } from './wire.ts';

const string = { type: 'string' } as const;
const number = { type: 'number' } as const;
const integer = { type: 'integer' } as const;
const boolean = { type: 'boolean' } as const;
const nullable = <S extends object>(schema: S) => ({ anyOf: [schema, { type: 'null' }] }) as const;

const CERTIFICATE_EXPIRY = {
  type: 'object',
  required: ['file', 'notAfter'],
  additionalProperties: false,
  properties: { file: string, notAfter: number },
} as const;

const STEP_STATUS = {
  type: 'object',
  required: ['id', 'kind', 'host', 'origin', 'state', 'attempt', 'failures'],
  additionalProperties: false,
  properties: {
    id: string,
    kind: string,
    host: string,
    origin: { type: 'string', enum: ['plan', 'cleanup', 'upload-certs', 'removal', 'snapshot'] },
    state: { type: 'string', enum: ['pending', 'released', 'running', 'succeeded', 'retry-wait', 'failed', 'cancelled'] },
    attempt: integer,
    failures: integer,
    target: string,
    releasedAt: number,
    finishedAt: number,
    retryAt: number,
    lastReport: {
      type: 'object',
      required: ['outcome', 'logTail', 'at'],
      additionalProperties: false,
      properties: { outcome: string, reason: string, logTail: string, at: number },
    },
  },
} as const;

const CANDIDATE_STATUS = {
  type: 'object',
  required: [
    'keyFingerprint',
    'machineId',
    'smbiosUuid',
    'macs',
    'hostname',
    'sourceAddress',
    'matchedBy',
    'fleetCredential',
    'firstSeen',
    'lastSeen',
  ],
  additionalProperties: false,
  properties: {
    keyFingerprint: string,
    machineId: string,
    smbiosUuid: string,
    macs: { type: 'array', items: string },
    hostname: string,
    sourceAddress: string,
    matchedBy: { type: 'string', enum: ['mac', 'uuid', 'hostname', 'binding'] },
    fleetCredential: boolean,
    firstSeen: number,
    lastSeen: number,
  },
} as const;

const INSTALL_FAILED_STATUS = {
  type: 'object',
  required: ['reason', 'logTail', 'hostname', 'machineId', 'arch', 'sourceAddress', 'at', 'firstAt', 'count'],
  additionalProperties: false,
  properties: {
    reason: { type: 'string', enum: INSTALL_FAILURE_REASONS },
    logTail: string,
    hostname: string,
    machineId: string,
    arch: string,
    sourceAddress: string,
    at: number,
    firstAt: number,
    count: integer,
  },
} as const;

const CLOUD_INIT_STATUS = {
  type: 'object',
  required: [...CLOUD_INIT_REPORT_SCHEMA.required, 'at'],
  additionalProperties: false,
  properties: { ...CLOUD_INIT_REPORT_SCHEMA.properties, at: number },
} as const;

const HOST_STATUS = {
  type: 'object',
  required: [
    'name',
    'role',
    'enrolled',
    'removed',
    'awaitingApproval',
    'done',
    'failed',
    'currentStep',
    'waitingFor',
    'phase',
    'message',
    'lastSeen',
    'steps',
  ],
  additionalProperties: false,
  properties: {
    name: string,
    role: string,
    enrolled: boolean,
    removed: boolean,
    awaitingApproval: boolean,
    done: boolean,
    failed: boolean,
    failure: string,
    currentStep: nullable(string),
    waitingFor: nullable(string),
    phase: nullable(string),
    message: nullable(string),
    lastSeen: nullable(number),
    clockSkewMs: number,
    certificateExpiry: CERTIFICATE_EXPIRY,
    candidates: { type: 'array', items: CANDIDATE_STATUS },
    installFailed: INSTALL_FAILED_STATUS,
    cloudInit: CLOUD_INIT_STATUS,
    steps: { type: 'array', items: STEP_STATUS },
  },
} as const;

const SECURITY_EVENT = {
  type: 'object',
  required: ['seq', 'at', 'kind', 'sourceAddress', 'message'],
  additionalProperties: false,
  properties: {
    seq: integer,
    at: number,
    kind: {
      type: 'string',
      enum: [
        'identity-mismatch',
        'credential-spent',
        'rebind-used',
        'removed-host-request',
        'enrollment-rate-limited',
        'unauthenticated-claim',
        'claim-rate-limited',
        'candidate-approved',
        'candidate-rejected',
        'install-failed',
      ],
    },
    host: string,
    sourceAddress: string,
    message: string,
    count: integer,
  },
} as const;

/** The replica that answered (issue 20): journal/memory stores have one, always the leader. */
const REPLICA_STATUS = {
  type: 'object',
  required: ['id', 'role', 'store'],
  additionalProperties: false,
  properties: {
    id: string,
    role: { type: 'string', enum: ['leader', 'standby'] },
    store: { type: 'string', enum: ['journal', 'memory', 'etcd'] },
    leader: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: string, url: string } },
  },
} as const;

export const STATUS_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['cluster', 'serverTime', 'done', 'initLock', 'token', 'counts', 'hosts', 'coordinatorSteps', 'securityEvents'],
  additionalProperties: false,
  properties: {
    cluster: {
      type: 'object',
      required: ['name', 'topology', 'kubernetesVersion', 'certificateDistribution'],
      additionalProperties: false,
      properties: { name: string, topology: string, kubernetesVersion: string, certificateDistribution: string },
    },
    serverTime: number,
    done: boolean,
    initLock: nullable({
      type: 'object',
      required: ['holder', 'acquiredAt', 'succeeded'],
      additionalProperties: false,
      properties: { holder: string, acquiredAt: number, succeeded: boolean, succeededAt: number },
    } as const),
    token: nullable({
      type: 'object',
      required: ['id', 'expiresAt'],
      additionalProperties: false,
      properties: { id: string, expiresAt: number },
    } as const),
    counts: {
      type: 'object',
      required: ['hosts', 'enrolled', 'done', 'failed'],
      additionalProperties: false,
      properties: { hosts: integer, enrolled: integer, done: integer, failed: integer },
    },
    hosts: { type: 'array', items: HOST_STATUS },
    coordinatorSteps: { type: 'array', items: STEP_STATUS },
    securityEvents: { type: 'array', items: SECURITY_EVENT },
    certificateExpiry: nullable(CERTIFICATE_EXPIRY),
    coordinator: REPLICA_STATUS,
  },
} as const;

/** GET /v1/admin/audit: the secret hand-outs, oldest first — kinds, never values (server/rollout/audit.ts). */
export const AUDIT_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['entries'],
  additionalProperties: false,
  properties: {
    entries: {
      type: 'array',
      items: {
        type: 'object',
        required: ['at', 'host', 'step', 'attempt', 'secrets'],
        additionalProperties: false,
        properties: {
          at: string,
          host: string,
          step: string,
          attempt: integer,
          secrets: { type: 'array', items: string },
          backup: {
            type: 'object',
            required: ['id', 'bytes', 'sha256', 'pruned'],
            additionalProperties: false,
            properties: { id: string, bytes: integer, sha256: string, pruned: { type: 'array', items: string } },
          },
        },
      },
    },
  },
} as const;
