/**
 * `buildApp(inputs, options)`: the coordinator's Fastify app over HTTPS (the coordinator
 * certificate from the state directory). It never listens — `startCoordinator` does — so tests
 * drive it with `app.inject()`. Every route declares JSON schemas for its params, query, body and
 * each response status; one error handler maps everything to ErrorBody with a stable code, and
 * 5xx bodies say nothing about internals. Agent routes are signed (protocol/wire.ts); status,
 * events and admin routes need the operator token. The caller opens the store first.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  API_PREFIX,
  ENROLL_REQUEST_SCHEMA,
  ENROLL_RESPONSE_SCHEMA,
  type EnrollRequest,
  ERROR_BODY_SCHEMA,
  ERROR_CODES,
  HEARTBEAT_REQUEST_SCHEMA,
  HEARTBEAT_RESPONSE_SCHEMA,
  type HeartbeatRequest,
  INSTALL_FAILED_REQUEST_SCHEMA,
  INSTALL_FAILED_RESPONSE_SCHEMA,
  type InstallFailedRequest,
  NEXT_QUERY_SCHEMA,
  NEXT_RESPONSE_SCHEMA,
  type NextResponse,
  REPORT_REQUEST_SCHEMA,
  REPORT_RESPONSE_SCHEMA,
  type ReportRequest,
} from '../protocol/index.ts';
import { Redactor } from '../protocol/redact.ts';
import { AUDIT_RESPONSE_SCHEMA, STATUS_RESPONSE_SCHEMA } from '../protocol/status-schema.ts';
import { AGENT_ARCHES, type AgentArch, AgentBinaries } from './agent-binaries.ts';
import { checkOperatorToken } from './auth.ts';
import { registerBackupRoutes } from './backup/routes.ts';
import type { BackupVault } from './backup/vault.ts';
import { parseRange } from './byte-range.ts';
import { systemClock } from './clock.ts';
import { Coordinator, type CoordinatorInputs, type CoordinatorOptions } from './coordinator.ts';
import { RateLimitedError } from './enrollment-guard.ts';
import { ApiError, badRequest, notFound, unauthorized } from './errors.ts';
import { streamEvents } from './event-stream.ts';
import { type Replica, soleReplica, standbyAnswer, storeKind } from './replica.ts';
import { StoreError } from './store/index.ts';
import {
  CONNECTION_IDLE_TIMEOUT_MS,
  connectionsPerSource,
  limitConnections,
  loggerOptions,
  pollRouteLogger,
  REQUEST_TIMEOUT_MS,
  TLS_CIPHERS,
} from './transport.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
    agentHost?: string;
  }
  interface FastifyInstance {
    coordinator: Coordinator;
  }
  interface FastifyContextConfig {
    /** A standby replica answers this route too (reads only); every other route is the leader's (server/replica.ts). */
    servedByStandby?: boolean;
  }
}

/** Route option of the reads a standby replica serves from its watch-fed copy of the store. */
const STANDBY_SERVES = { servedByStandby: true } as const;

export interface AppOptions extends Omit<CoordinatorOptions, 'log' | 'redactor'> {
  /** Where `kubeseed-agent-linux-x64|arm64` are built (dist/); absent → the agent routes answer 404. */
  distDir?: string;
  /** Fastify logger: false (tests), true, or pino options; redaction is always added. */
  logger?: boolean | Record<string, unknown>;
  /** This coordinator among replicas (server/replica.ts); default: the sole one, always leading. */
  replica?: Replica;
  /** Default and upper bound of `GET /v1/next?wait=` in ms. */
  defaultWaitMs?: number;
  /** Max request body (bytes); reports are the largest bodies. */
  bodyLimit?: number;
  /** Compress the agent executables at start instead of on the first download (default true). */
  warmAgentCache?: boolean;
  /** Registers more routes (the status page plugin) on the app before it is returned. */
  extend?: (app: FastifyInstance) => void;
  /** Connections one source address may hold (default: connectionsPerSource(maxConnections)). */
  maxConnectionsPerSource?: number;
  /** Connections in all (serve derives it from the descriptor limit); more are closed on accept. */
  maxConnections?: number;
  /** Where uploaded etcd snapshots go (spec.etcd.backup; serve opens it in `<state>/backups`). */
  backupVault?: BackupVault;
}

export const BODY_LIMIT = 64 * 1024;
/** POST /v1/install-failed: a 4 KiB tail, JSON escapes and a few short fields fit well within this. */
export const INSTALL_FAILED_BODY_LIMIT = 16 * 1024;
/** Heartbeats per host: a burst of this many, then one per HEARTBEAT_REFILL_MS (429 beyond). */
export const HEARTBEAT_BURST = 10;
export const HEARTBEAT_REFILL_MS = 1000;
const errorResponses = { '4xx': ERROR_BODY_SCHEMA, '5xx': ERROR_BODY_SCHEMA } as const;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export { STATUS_RESPONSE_SCHEMA };

const HOST_PARAMS = {
  type: 'object',
  required: ['host'],
  additionalProperties: false,
  properties: { host: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9][A-Za-z0-9.-]*$' } },
} as const;

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: STATUS_TEXT[status] ?? 'Error', code, message });
}

/** Runs a handler; a 429 it throws carries `Retry-After` (seconds). */
async function withRetryAfter<T>(reply: FastifyReply, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof RateLimitedError) reply.header('retry-after', String(error.retryAfterSeconds));
    throw error;
  }
}

/** The operator token travels only in the Authorization header, never in a URL (URLs end up in logs and history). */
function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/** A header-safe version of a sentence (printable ASCII only). */
function headerText(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 500);
}

/** Optional body {dryRun: true} of remove and rebind: the answer says what would change, nothing changes. */
function dryRunOf(body: unknown): boolean {
  const dryRun = (body as { dryRun?: unknown } | undefined)?.dryRun;
  if (dryRun !== undefined && typeof dryRun !== 'boolean') throw badRequest('"dryRun" must be true or false');
  return dryRun === true;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Sends the answer of `GET /v1/next`: 204 with the waiting words when nothing came, else the JSON answer. */
function sendNext(reply: FastifyReply, coordinator: Coordinator, host: string, answer: NextResponse | null): void {
  if (!answer) {
    const waiting = coordinator.waitingFor(host);
    if (waiting) reply.header('x-kubeseed-waiting-for', headerText(waiting));
    reply.code(204).send();
    return;
  }
  const waiting = answer.step ? undefined : coordinator.waitingFor(host);
  // Serialised here with V8's JSON (Fastify sends a string as it is): a gate opening answers
  // hundreds of these at once, and the schema serializer's string escaping of the step's
  // files cost several times more. The schema still documents the answer; tests check it.
  reply.type(JSON_TYPE).send(JSON.stringify(waiting ? { ...answer, waitingFor: waiting } : answer));
}

export function buildApp(inputs: CoordinatorInputs, options: AppOptions): FastifyInstance {
  const redactor = new Redactor();
  redactor.add([inputs.operatorToken]);
  const loggerOption = loggerOptions(options.logger, redactor);
  const app = Fastify({
    https: {
      cert: inputs.tls.cert,
      key: inputs.tls.key,
      minVersion: 'TLSv1.2',
      ciphers: TLS_CIPHERS,
      honorCipherOrder: true,
      // Node arms its request timer only when these reach the server's constructor (Fastify's
      // requestTimeout is set afterwards and alone does nothing). Checked every second, not every 30 s.
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: CONNECTION_IDLE_TIMEOUT_MS,
    bodyLimit: options.bodyLimit ?? BODY_LIMIT,
    logger: loggerOption,
    forceCloseConnections: true,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }) as unknown as FastifyInstance;

  limitConnections(app, options.maxConnectionsPerSource ?? connectionsPerSource(options.maxConnections), options.maxConnections);
  const coordinator = new Coordinator(inputs, { ...options, log: app.log, redactor });
  app.decorate('coordinator', coordinator);
  const binaries = new AgentBinaries(options.distDir);
  const defaultWait = options.defaultWaitMs ?? 30_000;

  // On etcd only the elected replica runs the rollout; a standby starts it when it wins (server/replica.ts).
  const replica = options.replica ?? soleReplica(storeKind(options.store));
  app.addHook('onRequest', async (request, reply) => {
    // Unknown URLs stay 404; a route serves a standby only where it is declared so (reads).
    if (request.routeOptions.url === undefined || request.routeOptions.config.servedByStandby) return;
    const refusal = standbyAnswer(replica);
    if (refusal) return sendError(reply.headers(refusal.headers), 503, ERROR_CODES.unavailable, refusal.message);
  });
  app.addHook('onReady', async () => {
    if (replica.current().role === 'leader') await coordinator.start();
    else
      replica.onLeader(() => {
        app.log.info({ replica: replica.current().id }, 'this replica leads now: starting the rollout');
        coordinator.start().catch((err: unknown) => app.log.error({ err }, 'the rollout could not start on this leader'));
      });
    // Compress the agent executables in the background (libuv pool) so the first boots do not wait.
    if (options.distDir && options.warmAgentCache !== false)
      for (const arch of Object.keys(AGENT_ARCHES) as AgentArch[]) void binaries.get(arch).catch(() => {});
  });
  // preClose: answer waiting long-polls (204) before the listener waits for in-flight requests.
  app.addHook('preClose', async () => {
    coordinator.stop();
  });

  // JSON bodies are kept raw as well: signatures cover the exact bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch {
      done(new ApiError(400, ERROR_CODES.badRequest, 'request body is not valid JSON'), undefined);
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
    if (error instanceof ApiError) return sendError(reply, error.statusCode, error.code, error.message);
    if (error instanceof StoreError) {
      request.log.error({ err: error.causeError ?? error }, 'store failure');
      return sendError(reply, 503, ERROR_CODES.unavailable, 'the coordinator could not save its state; retry shortly');
    }
    if (error.validation) return sendError(reply, 400, ERROR_CODES.badRequest, error.message);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return sendError(
        reply,
        413,
        ERROR_CODES.payloadTooLarge,
        `request body exceeds ${request.routeOptions?.bodyLimit ?? options.bodyLimit ?? BODY_LIMIT} bytes`,
      );
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, 415, ERROR_CODES.badRequest, 'send application/json');
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return sendError(reply, error.statusCode, ERROR_CODES.badRequest, error.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, 500, ERROR_CODES.internal, 'internal error; see the coordinator log');
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, ERROR_CODES.notFound, `no route ${request.method} ${request.url.split('?')[0]}`),
  );

  const agentAuth = async (request: FastifyRequest) => {
    request.agentHost = coordinator.authenticate({
      method: request.method,
      url: request.url,
      headers: request.headers,
      rawBody: request.rawBody,
    });
  };
  const operatorAuth = async (request: FastifyRequest) => {
    if (!checkOperatorToken(inputs.operatorToken, bearer(request)))
      throw unauthorized('operator token required (Authorization: Bearer <token>; `kubeseed serve` keeps it in <state>/operator-token)');
  };

  // ── agent API ──
  app.post<{ Body: EnrollRequest }>(
    `${API_PREFIX}/enroll`,
    { schema: { body: ENROLL_REQUEST_SCHEMA, response: { 200: ENROLL_RESPONSE_SCHEMA, ...errorResponses } } },
    async (request, reply) => withRetryAfter(reply, () => coordinator.enroll(request.body, request.ip)),
  );

  // The install script's beacon when the agent cannot be installed (ADR 0019): the enrollment
  // credential, HTTPS only; small bodies (the tail is bounded by the schema).
  app.post<{ Body: InstallFailedRequest }>(
    `${API_PREFIX}/install-failed`,
    {
      bodyLimit: INSTALL_FAILED_BODY_LIMIT,
      schema: { body: INSTALL_FAILED_REQUEST_SCHEMA, response: { 200: INSTALL_FAILED_RESPONSE_SCHEMA, ...errorResponses } },
    },
    async (request, reply) => withRetryAfter(reply, () => coordinator.installFailed(request.body, request.ip)),
  );

  app.get<{ Querystring: { wait?: string } }>(
    `${API_PREFIX}/next`,
    {
      preHandler: agentAuth,
      childLoggerFactory: pollRouteLogger(options.logger, `${API_PREFIX}/next`),
      schema: { querystring: NEXT_QUERY_SCHEMA, response: { 200: NEXT_RESPONSE_SCHEMA, 204: { type: 'null' }, ...errorResponses } },
    },
    (request, reply) => {
      const host = request.agentHost!;
      const waitMs = request.query.wait === undefined ? defaultWait : Number(request.query.wait);
      // Not an async handler: a waiting poll then holds no suspended frame of its own (issue 19,
      // docs/adr/0048); the reply is sent when the coordinator answers, an error through Fastify's
      // error handler. The response is the client: a poll waits on its 'close' (the agent went away).
      coordinator.next(host, waitMs, reply.raw).then(
        (answer) => {
          try {
            sendNext(reply, coordinator, host, answer);
          } catch (error) {
            reply.send(error);
          }
        },
        (error: unknown) => reply.send(error),
      );
    },
  );

  app.post<{ Body: ReportRequest }>(
    `${API_PREFIX}/report`,
    { preHandler: agentAuth, schema: { body: REPORT_REQUEST_SCHEMA, response: { 200: REPORT_RESPONSE_SCHEMA, ...errorResponses } } },
    async (request) => coordinator.report(request.agentHost!, request.body),
  );

  // A host's heartbeats feed every subscriber's event stream: a flood from one host is refused
  // (429; the agent ignores a failed heartbeat and sends the next one later).
  const heartbeatBuckets = new Map<string, { tokens: number; at: number }>();
  app.post<{ Body: HeartbeatRequest }>(
    `${API_PREFIX}/heartbeat`,
    {
      preHandler: agentAuth,
      childLoggerFactory: pollRouteLogger(options.logger, `${API_PREFIX}/heartbeat`),
      schema: { body: HEARTBEAT_REQUEST_SCHEMA, response: { 200: HEARTBEAT_RESPONSE_SCHEMA, ...errorResponses } },
    },
    async (request, reply) => {
      const host = request.agentHost!;
      const now = systemClock.now();
      const bucket = heartbeatBuckets.get(host) ?? { tokens: HEARTBEAT_BURST, at: now };
      bucket.tokens = Math.min(HEARTBEAT_BURST, bucket.tokens + (now - bucket.at) / HEARTBEAT_REFILL_MS);
      bucket.at = now;
      heartbeatBuckets.set(host, bucket);
      if (bucket.tokens < 1) {
        reply.header('retry-after', String(Math.ceil(HEARTBEAT_REFILL_MS / 1000)));
        return sendError(reply, 429, ERROR_CODES.rateLimited, `too many heartbeats from ${host}; at most one per second`);
      }
      bucket.tokens -= 1;
      return coordinator.heartbeat(host, request.body);
    },
  );

  // ── operator API ──
  // No query parameters at all: a `?token=` is refused (400) rather than silently accepted.
  const tokenQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

  app.get(
    `${API_PREFIX}/status`,
    {
      config: STANDBY_SERVES,
      preHandler: operatorAuth,
      schema: { querystring: tokenQuery, response: { 200: STATUS_RESPONSE_SCHEMA, ...errorResponses } },
    },
    async () => ({ ...coordinator.status(), coordinator: replica.current() }),
  );

  app.get(
    `${API_PREFIX}/events`,
    {
      config: STANDBY_SERVES,
      preHandler: operatorAuth,
      schema: { querystring: tokenQuery, response: { 200: { type: 'string' }, ...errorResponses } },
    },
    async (request, reply) => {
      reply.hijack();
      streamEvents(request.raw, reply.raw, coordinator.events, coordinator.now(), request.log);
    },
  );

  const hostSummary = { type: 'object', additionalProperties: true, required: ['name', 'role'] } as const;
  app.get(
    `${API_PREFIX}/admin/hosts`,
    {
      config: STANDBY_SERVES,
      preHandler: operatorAuth,
      schema: {
        response: {
          200: { type: 'object', required: ['hosts'], properties: { hosts: { type: 'array', items: hostSummary } } },
          ...errorResponses,
        },
      },
    },
    async () => ({
      hosts: coordinator.status().hosts.map(({ steps: _steps, ...rest }) => rest),
    }),
  );

  // Every secret hand-out, oldest first, never a value (server/rollout/audit.ts); `?host=` keeps one host's.
  app.get<{ Querystring: { host?: string } }>(
    `${API_PREFIX}/admin/audit`,
    {
      config: STANDBY_SERVES,
      preHandler: operatorAuth,
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { host: { type: 'string', maxLength: 253 } } },
        response: {
          200: AUDIT_RESPONSE_SCHEMA,
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const host = request.query.host;
      if (host !== undefined && !coordinator.hostRecords()[host]) throw notFound(`host ${host} is not in the plan`);
      return { entries: coordinator.auditTrail(host) };
    },
  );

  const actionResponse = { type: 'object', additionalProperties: true } as const;
  for (const action of ['retry', 'approve', 'rebind', 'remove'] as const) {
    app.post<{ Params: { host: string } }>(
      `${API_PREFIX}/admin/hosts/:host/${action}`,
      { preHandler: operatorAuth, schema: { params: HOST_PARAMS, response: { 200: actionResponse, ...errorResponses } } },
      async (request) => {
        const host = request.params.host;
        request.log.info({ host, action }, 'operator action');
        switch (action) {
          case 'retry':
            return coordinator.retry(host);
          case 'approve': {
            // Optional body {key: "SHA256:…"}: which candidate to bind when several machines claim the host.
            const key = (request.body as { key?: unknown } | undefined)?.key;
            if (key !== undefined && (typeof key !== 'string' || key.length > 200)) {
              throw badRequest('approve: "key" must be a key fingerprint string (SHA256:…, shown by `kubeseed hosts`)');
            }
            return coordinator.approve(host, key);
          }
          case 'rebind':
            return coordinator.rebind(host, { dryRun: dryRunOf(request.body) });
          case 'remove':
            return coordinator.remove(host, { dryRun: dryRunOf(request.body) });
        }
      },
    );
  }

  // ── agent executables (no secrets; no auth) ──
  const archParams = {
    type: 'object',
    required: ['file'],
    additionalProperties: false,
    properties: { file: { type: 'string', enum: Object.keys(AGENT_ARCHES).flatMap((a) => [a, `${a}.sha256`]) } },
  } as const;
  app.get<{ Params: { file: string } }>(
    '/agent/:file',
    {
      config: STANDBY_SERVES,
      schema: {
        params: archParams,
        response: { 200: { type: 'string' }, 206: { type: 'string' }, 416: { type: 'string' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const wantsSum = request.params.file.endsWith('.sha256');
      const arch = request.params.file.replace(/\.sha256$/, '') as AgentArch;
      const binary = await binaries.get(arch);
      if (!binary) {
        return sendError(
          reply,
          404,
          ERROR_CODES.notFound,
          `the ${arch} agent is not built (${AGENT_ARCHES[arch]} missing in ${options.distDir ?? 'the dist directory'}); run \`npm run build\` or set mirrors.agent`,
        );
      }
      if (wantsSum) return reply.type('text/plain; charset=utf-8').send(`${binary.sha256}  kubeseed-agent\n`);
      reply.header('accept-ranges', 'bytes').header('etag', binary.etag).header('last-modified', binary.mtime.toUTCString());
      reply.header('content-disposition', `attachment; filename="kubeseed-agent-${arch}.gz"`).type('application/gzip');
      const ifRange = request.headers['if-range'];
      const range = ifRange && ifRange !== binary.etag ? null : parseRange(request.headers.range, binary.gz.length);
      if (range === 'unsatisfiable') {
        return reply.code(416).header('content-range', `bytes */${binary.gz.length}`).type('text/plain').send('range not satisfiable\n');
      }
      if (range) {
        reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${binary.gz.length}`);
        return reply.send(binary.gz.subarray(range.start, range.end + 1));
      }
      return reply.send(binary.gz);
    },
  );

  registerBackupRoutes(app, {
    ...(options.backupVault ? { vault: options.backupVault } : {}),
    ...(inputs.plan.spec.etcd.backup ? { retention: inputs.plan.spec.etcd.backup.retention } : {}),
    authenticate: coordinator.authenticate,
    stepRecord: coordinator.stepRecord,
    now: () => coordinator.now(),
    store: options.store,
  });
  options.extend?.(app);
  return app;
}
