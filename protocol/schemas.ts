/**
 * JSON Schemas (draft-07 subset, plain objects) for every body of the agent↔coordinator protocol in
 * `wire.ts`. The coordinator compiles them for request validation and response serialization;
 * the agent may use them to check what it received. Each schema describes exactly its wire type:
 * test/unit/server/schemas.test.ts fails to compile when the type protocol/schema-types.ts derives
 * from a schema differs from the type in wire.ts (ReleasedStep and its schema excepted for now).
 */
import { ROLES } from './steps.ts';
import {
  CLOUD_INIT_MAX_MESSAGE,
  CLOUD_INIT_MAX_MESSAGES,
  CLOUD_INIT_MAX_STATUS,
  INSTALL_FAILED_TAIL_MAX,
  INSTALL_FAILURE_REASONS,
} from './wire.ts';

const nonEmpty = { type: 'string', minLength: 1, maxLength: 256 } as const;
const millis = { type: 'number', minimum: 0 } as const;

export const MACHINE_FACTS_SCHEMA = {
  type: 'object',
  required: ['machineId', 'smbiosUuid', 'macs', 'hostname', 'arch', 'os', 'clock', 'agentVersion'],
  additionalProperties: false,
  properties: {
    machineId: { type: 'string', maxLength: 128 },
    smbiosUuid: { type: 'string', maxLength: 64 },
    macs: { type: 'array', maxItems: 64, items: { type: 'string', pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' } },
    hostname: { type: 'string', maxLength: 253 },
    arch: { type: 'string', maxLength: 32 },
    os: { type: 'string', maxLength: 128 },
    clock: millis,
    agentVersion: { type: 'string', maxLength: 64 },
  },
} as const;

export const CLOUD_INIT_REPORT_SCHEMA = {
  type: 'object',
  required: ['status', 'exitCode', 'errors', 'recoverableErrors'],
  additionalProperties: false,
  properties: {
    status: { type: 'string', maxLength: CLOUD_INIT_MAX_STATUS },
    extendedStatus: { type: 'string', maxLength: CLOUD_INIT_MAX_STATUS },
    exitCode: { anyOf: [{ type: 'integer', minimum: -1, maximum: 255 }, { type: 'null' }] },
    errors: { type: 'array', maxItems: CLOUD_INIT_MAX_MESSAGES, items: { type: 'string', maxLength: CLOUD_INIT_MAX_MESSAGE } },
    recoverableErrors: {
      type: 'array',
      maxItems: CLOUD_INIT_MAX_MESSAGES,
      items: { type: 'string', maxLength: CLOUD_INIT_MAX_MESSAGE },
    },
  },
} as const;

export const ENROLL_REQUEST_SCHEMA = {
  type: 'object',
  required: ['protocol', 'credential', 'publicKey', 'facts'],
  additionalProperties: false,
  properties: {
    protocol: { type: 'integer', minimum: 0, maximum: 1000 },
    credential: { type: 'string', minLength: 1, maxLength: 512 },
    host: { type: 'string', minLength: 1, maxLength: 253 },
    publicKey: { type: 'string', minLength: 1, maxLength: 4096 },
    facts: MACHINE_FACTS_SCHEMA,
    cloudInit: CLOUD_INIT_REPORT_SCHEMA,
  },
} as const;

export const INSTALL_FAILED_REQUEST_SCHEMA = {
  type: 'object',
  required: ['protocol', 'credential', 'reason', 'logTail', 'hostname', 'machineId', 'arch'],
  additionalProperties: false,
  properties: {
    protocol: { type: 'integer', minimum: 0, maximum: 1000 },
    credential: { type: 'string', minLength: 1, maxLength: 512 },
    host: { type: 'string', minLength: 1, maxLength: 253 },
    reason: { type: 'string', enum: [...INSTALL_FAILURE_REASONS] },
    logTail: { type: 'string', maxLength: INSTALL_FAILED_TAIL_MAX },
    hostname: { type: 'string', maxLength: 253 },
    machineId: { type: 'string', maxLength: 128 },
    arch: { type: 'string', maxLength: 32 },
  },
} as const;

export const INSTALL_FAILED_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['recorded'],
  properties: { recorded: { type: 'boolean' } },
} as const;

const ENDPOINT_SCHEMA = {
  type: 'object',
  required: ['host', 'port'],
  properties: { host: { type: 'string' }, port: { type: 'integer' }, vip: { type: 'string' }, address: { type: 'string' } },
} as const;

export const ENROLL_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['host', 'role', 'serverTime', 'awaitingApproval', 'kubernetesVersion', 'endpoint'],
  properties: {
    host: { type: 'string' },
    role: { type: 'string', enum: ROLES },
    serverTime: { type: 'number' },
    awaitingApproval: { type: 'boolean' },
    kubernetesVersion: { type: 'string' },
    endpoint: ENDPOINT_SCHEMA,
    prepareHost: { type: 'boolean' },
  },
} as const;

const STEP_FILE_SCHEMA = {
  type: 'object',
  required: ['path', 'content', 'mode', 'secret'],
  properties: {
    path: { type: 'string' },
    content: { type: 'string' },
    mode: { type: 'integer' },
    secret: { type: 'boolean' },
    removeAfter: { type: 'boolean' },
  },
} as const;

export const RELEASED_STEP_SCHEMA = {
  type: 'object',
  required: ['id', 'kind', 'host', 'attempt', 'files', 'params', 'redact'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    host: { type: 'string' },
    attempt: { type: 'integer' },
    files: { type: 'array', items: STEP_FILE_SCHEMA },
    // StepParams is a wide optional bag; serialized as-is.
    params: { type: 'object', additionalProperties: true },
    redact: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const NEXT_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  // Query values arrive as strings (the coordinator does not coerce types).
  properties: { wait: { type: 'string', pattern: '^[0-9]{1,6}$' } },
} as const;

export const NEXT_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['step', 'done', 'serverTime'],
  properties: {
    step: { anyOf: [RELEASED_STEP_SCHEMA, { type: 'null' }] },
    done: { type: 'boolean' },
    waitingFor: { type: 'string' },
    serverTime: { type: 'number' },
  },
} as const;

export const STEP_RESULTS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    etcdHealthy: { type: 'boolean' },
    etcdVoter: { type: 'boolean' },
    nodeRegistered: { type: 'boolean' },
    apiServerReady: { type: 'boolean' },
    vipHeld: { type: 'boolean' },
    portOpen: { type: 'boolean' },
    nodesReady: { type: 'array', maxItems: 10_000, items: { type: 'string', maxLength: 253 } },
    kubeadmCertificates: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        required: ['path', 'subject', 'issuer', 'serial', 'notAfter'],
        additionalProperties: false,
        properties: {
          path: { type: 'string', pattern: '^/etc/kubernetes/', maxLength: 256 },
          subject: { type: 'string', maxLength: 1024 },
          issuer: { type: 'string', maxLength: 1024 },
          serial: { type: 'string', pattern: '^[0-9A-Fa-f]{1,128}$' },
          notAfter: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
} as const;

/** The agent bounds its log tail; the schema allows some slack, the coordinator re-bounds it. */
export const REPORT_LOG_TAIL_MAX = 32 * 1024;

export const REPORT_REQUEST_SCHEMA = {
  type: 'object',
  required: ['stepId', 'attempt', 'outcome', 'logTail', 'startedAt'],
  additionalProperties: false,
  properties: {
    stepId: nonEmpty,
    attempt: { type: 'integer', minimum: 1 },
    outcome: { type: 'string', enum: ['succeeded', 'failed', 'running'] },
    logTail: { type: 'string', maxLength: REPORT_LOG_TAIL_MAX },
    reason: { type: 'string', maxLength: 256 },
    permanent: { type: 'boolean' },
    results: STEP_RESULTS_SCHEMA,
    startedAt: millis,
    finishedAt: millis,
  },
} as const;

export const REPORT_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['accepted'],
  properties: { accepted: { type: 'boolean' } },
} as const;

export const HEARTBEAT_REQUEST_SCHEMA = {
  type: 'object',
  required: ['phase', 'clock'],
  additionalProperties: false,
  properties: {
    phase: { type: 'string', minLength: 1, maxLength: 64 },
    message: { type: 'string', maxLength: 1024 },
    clock: millis,
  },
} as const;

export const HEARTBEAT_RESPONSE_SCHEMA = {
  type: 'object',
  required: ['serverTime'],
  properties: { serverTime: { type: 'number' } },
} as const;

export const ERROR_BODY_SCHEMA = {
  type: 'object',
  required: ['error', 'code', 'message'],
  properties: { error: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
} as const;
