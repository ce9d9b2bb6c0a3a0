/**
 * The coordinator's transport: TLS settings, request and idle timeouts, the per-source and total
 * connection caps, and the logger options that keep secrets and pasted tokens out of every log
 * line. `buildApp` (app.ts) applies them; nothing here knows a route.
 */
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { Redactor } from '../protocol/redact.ts';

/**
 * A request whose headers and body have not all arrived after this long is answered 408 and its
 * connection closed (a body trickled a byte at a time would otherwise hold a descriptor forever).
 * Long-polls are GETs without a body: they are complete on arrival and keep their own wait.
 */
export const REQUEST_TIMEOUT_MS = 30_000;
/** An idle connection (no bytes either way) is closed after this; above the longest long-poll (60 s). */
export const CONNECTION_IDLE_TIMEOUT_MS = 90_000;
/**
 * Connections one source address may hold at once: a quarter of all the connections the process
 * can hold, between these bounds. Agents behind one NAT share an address and need one or two each
 * (long-poll + heartbeat), so the cap cannot be small where descriptors are plenty; where they are
 * scarce, one address must not take them all.
 */
export const MIN_CONNECTIONS_PER_SOURCE = 64;
export const MAX_CONNECTIONS_PER_SOURCE = 1024;

export function connectionsPerSource(maxConnections: number | undefined): number {
  if (maxConnections === undefined) return MAX_CONNECTIONS_PER_SOURCE;
  return Math.min(MAX_CONNECTIONS_PER_SOURCE, Math.max(MIN_CONNECTIONS_PER_SOURCE, Math.floor(maxConnections / 4)));
}
/**
 * TLS 1.2 suites: ECDHE key exchange with an AEAD cipher only (no CBC, no SHA-1 MAC, no static
 * RSA); TLS 1.3 suites are all AEAD. OpenSSL names, in Node's `ciphers` syntax (TLS 1.3 names in
 * the same list).
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** What the log shows of a URL: the route pattern, or nothing of an unmatched path; a query only as `?…`. */
export function loggableUrl(route: string | undefined, url: string): string {
  const query = url.includes('?') ? '?[REDACTED]' : '';
  return `${route ?? '[no route]'}${query}`;
}

/**
 * Caps the connections one source address may hold, and all connections (descriptors are finite:
 * past the limit the process cannot open its own files). Counted on the TCP socket before TLS, so
 * a refused connection costs no handshake.
 */
export function limitConnections(app: FastifyInstance, perSource: number, total: number | undefined): void {
  if (total !== undefined) app.server.maxConnections = total;
  const open = new Map<string, number>();
  let refusedSince = 0;
  app.server.on('connection', (socket: Socket) => {
    const source = socket.remoteAddress ?? '?';
    const count = open.get(source) ?? 0;
    if (count >= perSource) {
      // One line per burst, not per connection: the log must not become the next resource to exhaust.
      if (refusedSince++ === 0) app.log.warn({ source, limit: perSource }, 'connections per source address exceeded; refusing more');
      socket.destroy();
      return;
    }
    open.set(source, count + 1);
    socket.once('close', () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left <= 0) open.delete(source);
      else open.set(source, left);
      if (left < perSource / 2) refusedSince = 0;
    });
  });
}

/** Fastify logger options: false (tests), or pino options with redaction by path, by value and of URLs. */
export function loggerOptions(logger: boolean | Record<string, unknown> | undefined, redactor: Redactor): false | Record<string, unknown> {
  return logger === false || logger === undefined
    ? false
    : {
        ...(typeof logger === 'object' ? logger : {}),
        redact: {
          paths: [
            'req.headers.authorization',
            'req.headers["x-kubeseed-signature"]',
            'token',
            'credential',
            'files',
            '*.token',
            '*.credential',
            '*.key',
            '*.files',
            '*.certificateKey',
          ],
          censor: '[REDACTED]',
        },
        serializers: {
          // The URL as sent is never logged: a token pasted into a path or query would land in the
          // log. The route pattern says what was asked; parameters are logged where they are safe.
          req(req: { method: string; url: string; ip?: string; routeOptions?: { url?: string } }) {
            return { method: req.method, url: loggableUrl(req.routeOptions?.url, req.url), remoteAddress: req.ip };
          },
        },
        hooks: {
          logMethod(this: unknown, args: unknown[], method: (...a: unknown[]) => void) {
            method.apply(
              this,
              args.map((a) => redactor.redactDeep(a)),
            );
          },
        },
      };
}

/**
 * The logger of the agents' polling routes (`GET /v1/next`, `POST /v1/heartbeat`): every host asks
 * about once a minute and a long-poll waits up to a minute, so (issue 19)
 * - their request lines stay out of an `info` log (they would drown it at fleet scale, and cost more
 *   than the answers at a gate opening): warnings and errors only, everything at `--log-level debug`;
 * - they share one child logger (bound to the route) instead of one per request: a per-request child
 *   at another level than its parent rebuilds every log method, ~2 KiB held by each waiting poll.
 * What happened is logged anyway: `step released`, step reports, enrollments, and the audit trail.
 */
type ChildLoggerFactory = NonNullable<RouteShorthandOptions['childLoggerFactory']>;

export function pollRouteLogger(logger: boolean | Record<string, unknown> | undefined, route: string): ChildLoggerFactory {
  const configured = typeof logger === 'object' ? logger.level : undefined;
  const level = configured === 'debug' || configured === 'trace' ? configured : 'warn';
  const shared = new WeakMap<FastifyBaseLogger, FastifyBaseLogger>();
  return function childLogger(parent: FastifyBaseLogger): FastifyBaseLogger {
    let child = shared.get(parent);
    if (!child) {
      child = parent.child({ route }, { level });
      shared.set(parent, child);
    }
    return child;
  };
}
