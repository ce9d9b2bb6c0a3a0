/**
 * API fuzzing: 10,000 malformed or hostile requests (seeded) against a coordinator in the middle
 * of a rollout — bad JSON, wrong types, huge and deeply nested bodies, path traversal on every
 * route, wrong/replayed/expired/foreign signatures, signatures over other bodies, another host's
 * key, a valid credential from another machine, enrollments under another host's name, the
 * operator routes without or with a wrong token — through app.inject; then slow and huge clients
 * over a real HTTPS listener on 127.0.0.1, and the plain-HTTP boot (iPXE/NoCloud/Ignition)
 * router. Every answer is 4xx (or a closed connection); nothing is 5xx; the server stays up; the
 * rollout and secret state in the store are byte-identical before and after, nothing more was
 * audited, the refused identities are recorded as security events and the rate limiter engaged;
 * no minted secret appears in any response or log line. KUBESEED_API_FUZZ sets the count.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_HOST, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP } from '../../protocol/index.ts';
import { createRng, HOSTILE_VALUES, type Rng } from '../support/fuzz.ts';
import {
  type FuzzCoordinator,
  findLeaks,
  injectSigned,
  nextStep,
  recordMintedTokens,
  reportSuccess,
  snapshotState,
  startFuzzCoordinator,
} from '../support/fuzz-harness.ts';
import { createAgent, credentialOf, enrollBody, OPERATOR_TOKEN, signedHeaders } from '../unit/server/support.ts';

const COUNT = Number(process.env.KUBESEED_API_FUZZ ?? 10_000);
const SEED = Number(process.env.KUBESEED_FUZZ_SEED ?? 20261122);

let fc: FuzzCoordinator;
/** A legitimate signed request made during setup: replaying it must be refused. */
const recorded: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; payload: string }[] = [];
let initStepId = '';
let before = '';
let auditBefore = '';
let securityBefore = { mismatch: 0, spent: 0 };
/** Security events of a kind recorded so far (the latest kept event's number within its kind). */
const securityCount = (kind: string) =>
  Math.max(
    0,
    ...fc.store
      .list<{ kind: string; count?: number }>('security/')
      .filter((e) => e.value.kind === kind)
      .map((e) => e.value.count ?? 0),
  );
let requestsTried = 0;
const responses: string[] = [];

beforeAll(async () => {
  fc = await startFuzzCoordinator({ workers: 3 });
  const { app, agents } = fc;
  await app.ready();
  for (const agent of agents.values()) {
    const res = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(agent) });
    expect(res.statusCode, res.body).toBe(200);
  }
  // Mid-rollout: the load balancers are checked, cp1 holds the init lock and its secrets.
  for (const lb of ['lb1', 'lb2']) {
    const step = await nextStep(app, agents.get(lb)!);
    expect(step?.kind).toBe('lb-check');
    await reportSuccess(app, agents.get(lb)!, step!);
  }
  const cp1 = agents.get('cp1')!;
  const next = await injectSigned(app, cp1, 'GET', '/v1/next?wait=0');
  expect(next.statusCode).toBe(200);
  recorded.push({ method: 'GET', url: '/v1/next?wait=0', ...next.request });
  initStepId = JSON.parse(next.body).step.id;
  expect(initStepId).toBe('cp1/kubeadm-init');
  const beat = await injectSigned(app, cp1, 'POST', '/v1/heartbeat', { phase: 'running', message: 'init', clock: Date.now() });
  expect(beat.statusCode).toBe(200);
  recorded.push({ method: 'POST', url: '/v1/heartbeat', ...beat.request });
  recordMintedTokens(fc);
  await fc.store.flushed();
  before = snapshotState(fc.store);
  auditBefore = JSON.stringify(fc.app.coordinator.auditTrail());
  securityBefore = { mismatch: securityCount('identity-mismatch'), spent: securityCount('credential-spent') };
  expect(auditBefore).toContain('cp1/kubeadm-init');
});

afterAll(async () => {
  await fc?.close();
  console.log(`[reliability] API requests tried: ${requestsTried}`);
});

interface Hostile {
  kind: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
  remoteAddress?: string;
  /** Statuses this request may get besides 4xx (e.g. 200 for the public agent download). */
  allow?: number[];
}

const randomAddress = (rng: Rng) => `10.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;

function deepJson(depth: number, rng: Rng): string {
  return rng.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function mutateObject(value: Record<string, unknown>, rng: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = JSON.parse(JSON.stringify(value));
  const keys = Object.keys(out);
  const key = rng.pick(keys);
  switch (rng.int(4)) {
    case 0:
      out[key] = rng.pick(HOSTILE_VALUES);
      break;
    case 1:
      delete out[key];
      break;
    case 2:
      out[rng.pick(['extra', '__proto__', 'constructor', 'HOST', ''])] = rng.pick(HOSTILE_VALUES);
      break;
    default:
      if (out.facts && typeof out.facts === 'object')
        (out.facts as Record<string, unknown>)[rng.pick(Object.keys(out.facts))] = rng.pick(HOSTILE_VALUES);
  }
  return out;
}

const TRAVERSALS = [
  '../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e/%2e%2e/coordinator/pki/ca.key',
  '....//....//etc/shadow',
  'linux-amd64%00.sha256',
  'linux-amd64/../../../../proc/self/environ',
  '%c0%ae%c0%ae/',
  'x'.repeat(5000),
  '\u202e',
  '%',
  '%%32%65',
  '..\\..\\windows',
];

/** One hostile request; deterministic for the rng state. */
function generate(rng: Rng, n: number): Hostile {
  const agents = [...fc.agents.values()];
  const agent = rng.pick(agents);
  const other = rng.pick(agents.filter((a) => a !== agent));
  const now = Date.now();
  switch (n % 14) {
    case 0: {
      // enroll: a mutated body (wrong types, missing fields, unknown keys)
      const body = mutateObject(enrollBody(agent) as unknown as Record<string, unknown>, rng);
      // (200 when the mutation only touched facts the binding does not cover: an idempotent repeat, no state change)
      return {
        kind: 'enroll-mutated',
        method: 'POST',
        url: '/v1/enroll',
        payload: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        remoteAddress: randomAddress(rng),
        allow: [200],
      };
    }
    case 1: {
      // enroll: not JSON, deep nesting, wrong content types, empty
      const payload = rng.pick([
        '{"protocol":1,',
        deepJson(1 + rng.int(20_000), rng),
        'null',
        '[]',
        '"x"',
        '\u0000\u0001',
        randomBytes(64).toString('latin1'),
        '',
        '{"protocol":1e999}',
        '{"a":1,"a":2}',
      ]);
      return {
        kind: 'enroll-garbage',
        method: 'POST',
        url: '/v1/enroll',
        payload,
        headers: {
          'content-type': rng.pick([
            'application/json',
            'text/plain',
            'application/json; charset=utf-16',
            'multipart/form-data; boundary=x',
            'application/x-www-form-urlencoded',
          ]),
        },
        remoteAddress: randomAddress(rng),
      };
    }
    case 2:
      // a valid credential from another machine identity (cloned VM, copied user-data)
      return {
        kind: 'enroll-identity-mismatch',
        method: 'POST',
        url: '/v1/enroll',
        payload: JSON.stringify(enrollBody(createAgent(agent.host, 100 + n))),
        headers: { 'content-type': 'application/json' },
        remoteAddress: `172.16.${(n >> 8) & 255}.${n & 255}`,
      };
    case 3:
      // same machine, another key: the spent credential replayed by someone who read the user-data
      return {
        kind: 'enroll-credential-spent',
        method: 'POST',
        url: '/v1/enroll',
        payload: JSON.stringify(enrollBody(agent, { publicKey: createAgent(agent.host).publicKeyPem })),
        headers: { 'content-type': 'application/json' },
        remoteAddress: `172.17.${(n >> 8) & 255}.${n & 255}`,
      };
    case 4:
      // enrollment with another host's name (own credential), or an unknown host
      return {
        kind: 'enroll-other-host',
        method: 'POST',
        url: '/v1/enroll',
        payload: JSON.stringify(
          enrollBody(agent, { host: rng.chance(0.7) ? other.host : `ghost-${n}`, credential: credentialOf(agent.host) }),
        ),
        headers: { 'content-type': 'application/json' },
        remoteAddress: rng.chance(0.5) ? '127.0.0.1' : randomAddress(rng),
      };
    case 5: {
      // signed routes with broken signature headers
      const url = rng.pick(['/v1/next?wait=0', '/v1/report', '/v1/heartbeat']);
      const method = url.startsWith('/v1/next') ? 'GET' : 'POST';
      const payload =
        url === '/v1/report'
          ? reportBody(initStepId, 1, 'succeeded')
          : url === '/v1/heartbeat'
            ? JSON.stringify({ phase: 'x', clock: now })
            : '';
      const headers = signedHeaders(agent, method, url, payload, now);
      const which = rng.int(9);
      if (which === 0) delete headers[HEADER_SIGNATURE];
      if (which === 1) headers[HEADER_SIGNATURE] = randomBytes(rng.int(200)).toString('base64');
      if (which === 2) headers[HEADER_TIMESTAMP] = String(now - 10 * 60_000 - rng.int(1e9));
      if (which === 3) headers[HEADER_TIMESTAMP] = rng.pick(['', 'abc', '-1', '1e12', String(now + 6 * 60_000), '9'.repeat(40)]);
      if (which === 4) headers[HEADER_NONCE] = rng.pick(['', 'xyz', 'a'.repeat(200), '../..', '0'.repeat(15)]);
      if (which === 5) headers[HEADER_HOST] = rng.pick([other.host, 'ghost', '', '../cp1', 'cp1\u0000', 'x'.repeat(300)]);
      if (which === 6) headers[HEADER_SIGNATURE] = `${headers[HEADER_SIGNATURE]!.slice(0, -4)}AAAA`;
      if (which === 7) for (const h of [HEADER_HOST, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP]) delete headers[h];
      if (which === 8) headers[HEADER_HOST] = other.host; // another host's name with this host's key
      return {
        kind: `signed-broken-${which}`,
        method,
        url,
        headers: { 'content-type': 'application/json', ...headers },
        ...(payload ? { payload } : {}),
      };
    }
    case 6: {
      // a signature over another body, URL or method
      const signedBody = reportBody(initStepId, 1, 'failed');
      const sentBody = reportBody(initStepId, 1, 'succeeded');
      const which = rng.int(3);
      const cp1 = fc.agents.get('cp1')!;
      if (which === 0)
        return {
          kind: 'signed-other-body',
          method: 'POST',
          url: '/v1/report',
          headers: signedHeaders(cp1, 'POST', '/v1/report', signedBody, now),
          payload: sentBody,
        };
      if (which === 1)
        return {
          kind: 'signed-other-url',
          method: 'GET',
          url: '/v1/next?wait=1',
          headers: signedHeaders(cp1, 'GET', '/v1/next?wait=0', '', now),
        };
      return {
        kind: 'signed-other-method',
        method: 'POST',
        url: '/v1/report',
        headers: { ...signedHeaders(cp1, 'GET', '/v1/report', sentBody, now), 'content-type': 'application/json' },
        payload: sentBody,
      };
    }
    case 7: {
      // a replayed request (cp1's own, captured during setup)
      const r = rng.pick(recorded);
      return { kind: 'replay', method: r.method, url: r.url, headers: r.headers, ...(r.payload ? { payload: r.payload } : {}) };
    }
    case 8: {
      // validly signed by a real agent but asking for what is not its own
      const wrong = rng.int(4);
      if (wrong === 0)
        return {
          kind: 'report-other-host',
          method: 'POST',
          url: '/v1/report',
          payload: reportBody(
            rng.pick([initStepId, `${other.host}/kubeadm-join-worker`, 'cp1/cni-apply', '../cp1/kubeadm-init', 'x'.repeat(300)]),
            1,
            'succeeded',
          ),
          headers: {},
          ...signWith(agent.host === 'cp1' ? other : agent),
        };
      if (wrong === 1)
        return {
          kind: 'report-stale-attempt',
          method: 'POST',
          url: '/v1/report',
          payload: reportBody(initStepId, rng.pick([2, 3, 99]), 'succeeded'),
          headers: {},
          ...signWith(fc.agents.get('cp1')!),
        };
      if (wrong === 2)
        return {
          kind: 'report-unreleased',
          method: 'POST',
          url: '/v1/report',
          payload: reportBody('w1/kubeadm-join-worker', 1, rng.pick(['succeeded', 'failed', 'running'])),
          headers: {},
          ...signWith(fc.agents.get('w1')!),
        };
      return {
        kind: 'next-bad-query',
        method: 'GET',
        url: `/v1/next?${rng.pick(['wait=-1', 'wait=abc', 'wait=9999999', 'wait=1&wait=2', 'host=cp1', 'wait=0&x=1', 'wait=%00'])}`,
        headers: {},
        ...signWith(agent),
      };
    }
    case 9: {
      // operator routes without the operator token, with a wrong one, or with an agent's signature
      const url = rng.pick([
        '/v1/status',
        '/v1/events',
        '/v1/admin/hosts',
        '/v1/admin/audit',
        '/v1/admin/audit?host=cp1',
        '/',
        '/v1/status?token=x',
      ]);
      const auth = rng.pick([
        undefined,
        'Bearer ',
        'Bearer wrong',
        `Bearer ${OPERATOR_TOKEN.slice(0, -1)}`,
        `Bearer ${OPERATOR_TOKEN}x`,
        `Basic ${Buffer.from(`admin:${OPERATOR_TOKEN}`).toString('base64')}`,
        `bearer${OPERATOR_TOKEN}`,
        `Bearer ${'A'.repeat(8000)}`,
      ]);
      const headers: Record<string, string> = rng.chance(0.3) ? signedHeaders(agent, 'GET', url, '', now) : {};
      if (auth !== undefined) headers.authorization = auth;
      return { kind: 'operator-unauthenticated', method: 'GET', url, headers, allow: url === '/' ? [200] : [] };
    }
    case 10: {
      // admin actions: traversal in :host, without or with a wrong token
      const action = rng.pick(['retry', 'approve', 'rebind', 'remove']);
      const host = rng.pick([other.host, ...TRAVERSALS, '', '%2e%2e', 'cp1%2f..']);
      const headers: Record<string, string> = rng.chance(0.5)
        ? { authorization: 'Bearer nope' }
        : signedHeaders(agent, 'POST', `/v1/admin/hosts/${host}/${action}`, '', now);
      return { kind: 'admin-unauthenticated', method: 'POST', url: `/v1/admin/hosts/${host}/${action}`, headers };
    }
    case 11: {
      // the public agent download: traversal, odd ranges (200/206/404/416 are all fine, 5xx is not)
      const file = rng.pick(['linux-amd64', 'linux-arm64', 'linux-amd64.sha256', ...TRAVERSALS]);
      const headers: Record<string, string> = {};
      // Whole downloads (tens of MiB through inject) are kept rare: most GETs ask for a range.
      if (rng.chance(0.9))
        headers.range = rng.pick([
          'bytes=0-0',
          'bytes=-0',
          'bytes=99999999999-',
          'bytes=5-1',
          'bytes=0-1,2-3',
          'bytes=abc',
          `bytes=${'9'.repeat(40)}-`,
          'items=0-1',
        ]);
      if (rng.chance(0.2)) headers['if-range'] = rng.pick(['"x"', 'W/"y"', 'Mon, 01 Jan 1990 00:00:00 GMT']);
      return { kind: 'agent-download', method: rng.pick(['GET', 'HEAD']), url: `/agent/${file}`, headers, allow: [200, 206, 416] };
    }
    case 12: {
      // odd methods and URLs anywhere
      const method = rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'GET', 'POST']);
      const url = rng.pick([
        '/v1/enroll',
        '/v1/next',
        `/v1/${rng.pick(TRAVERSALS)}`,
        `/${'a/'.repeat(2000)}`,
        `/v1/next?${'a=1&'.repeat(2000)}`,
        '/v1/admin/hosts/cp1/retry/../../../status',
        '//v1//status',
        '/V1/STATUS',
        '/v1/status/',
        '/nocloud/fleet/user-data',
        '/boot.ipxe',
        '/%ff%fe',
      ]);
      return {
        kind: 'odd-route',
        method,
        url,
        headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
        ...(method === 'POST' ? { payload: '{}' } : {}),
      };
    }
    default: {
      // oversized bodies and headers
      const which = rng.int(3);
      if (which === 0)
        return {
          kind: 'huge-body',
          method: 'POST',
          url: rng.pick(['/v1/enroll', '/v1/report', '/v1/heartbeat']),
          headers: { 'content-type': 'application/json' },
          payload: `{"x":"${'a'.repeat(64 * 1024 + rng.int(2e6))}"}`,
        };
      if (which === 1)
        return {
          kind: 'huge-log-tail',
          method: 'POST',
          url: '/v1/report',
          headers: {},
          payload: JSON.stringify({
            stepId: initStepId,
            attempt: 1,
            outcome: 'failed',
            logTail: 'x'.repeat(70_000),
            startedAt: Date.now(),
          }),
          ...signWith(fc.agents.get('cp1')!),
        };
      return {
        kind: 'many-headers',
        method: 'GET',
        url: '/v1/status',
        headers: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-h${i}`, 'v'.repeat(100)])),
      };
    }
  }
}

function reportBody(stepId: string, attempt: number, outcome: string): string {
  return JSON.stringify({ stepId, attempt, outcome, logTail: 'fuzz', startedAt: Date.now() });
}

/** Marks a request to be signed just before it is sent (over its final payload and URL). */
function signWith(agent: ReturnType<typeof createAgent>): { signAs: ReturnType<typeof createAgent> } {
  return { signAs: agent };
}

describe('API fuzzing', () => {
  it(`${COUNT} malformed or hostile requests: 4xx, never 5xx, state unchanged, attempts recorded`, async () => {
    const rng = createRng(SEED);
    const byKind = new Map<string, Map<number, number>>();
    const failures: string[] = [];
    let mismatches = 0;
    let spent = 0;
    let limited = 0;
    for (let n = 0; n < COUNT; n++) {
      const h = generate(rng, n) as Hostile & { signAs?: ReturnType<typeof createAgent> };
      const payload = h.payload === undefined ? undefined : h.payload;
      const headers = { ...(h.headers ?? {}) };
      if (h.signAs) {
        Object.assign(headers, signedHeaders(h.signAs, h.method, h.url, typeof payload === 'string' ? payload : '', Date.now()));
        headers['content-type'] ??= 'application/json';
      }
      const res = await fc.app.inject({
        method: h.method as 'GET',
        url: h.url,
        headers,
        ...(payload !== undefined ? { payload } : {}),
        ...(h.remoteAddress ? { remoteAddress: h.remoteAddress } : {}),
      });
      requestsTried++;
      const counts = byKind.get(h.kind) ?? new Map<number, number>();
      counts.set(res.statusCode, (counts.get(res.statusCode) ?? 0) + 1);
      byKind.set(h.kind, counts);
      const ok = (res.statusCode >= 400 && res.statusCode < 500) || (h.allow ?? []).includes(res.statusCode);
      if (!ok && failures.length < 20)
        failures.push(`#${n} ${h.kind} ${h.method} ${h.url.slice(0, 80)} → ${res.statusCode} ${res.body.slice(0, 200)}`);
      if (res.statusCode === 409 && res.body.includes('IDENTITY_MISMATCH')) mismatches++;
      if (res.statusCode === 409 && res.body.includes('CREDENTIAL_SPENT')) spent++;
      if (res.statusCode === 429) limited++;
      if (!h.url.startsWith('/agent/')) responses.push(res.body);
    }
    const table = [...byKind].map(([kind, c]) => `${kind}: ${[...c].map(([s, k]) => `${s}×${k}`).join(' ')}`);
    console.log(`[api-fuzz] statuses by kind\n  ${table.join('\n  ')}`);
    expect(failures).toEqual([]);
    // The server is up and the state did not move.
    const status = await fc.app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(status.statusCode).toBe(200);
    await fc.store.flushed();
    expect(snapshotState(fc.store)).toBe(before);
    expect(JSON.stringify(fc.app.coordinator.auditTrail())).toBe(auditBefore);
    // The attempts were recorded: every refused identity as a security event, repeated failures rate-limited.
    // Only the first and latest events of a kind are kept (a flood cannot push others out); each carries its number.
    expect(mismatches).toBeGreaterThan(0);
    expect(spent).toBeGreaterThan(0);
    expect(securityCount('identity-mismatch') - securityBefore.mismatch).toBe(mismatches);
    expect(securityCount('credential-spent') - securityBefore.spent).toBe(spent);
    expect(limited).toBeGreaterThan(0);
    expect((status.json() as { securityEvents: unknown[] }).securityEvents.length).toBeGreaterThan(0);
  });

  it('slow and huge clients over real HTTPS: bounded, the server keeps answering, the state is unchanged', async () => {
    const url = new URL(fc.running.url);
    const port = Number(url.port);
    const dispatcher = new Agent({ connect: { ca: fc.ca }, connections: 8 });
    const status = async () => {
      const started = Date.now();
      const res = await request(`${fc.running.url}/v1/status`, {
        dispatcher,
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await res.body.text();
      requestsTried++;
      return { code: res.statusCode, ms: Date.now() - started };
    };
    const open = (): Promise<import('node:tls').TLSSocket> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: fc.ca, servername: 'localhost' }, () => resolve(socket));
        socket.once('error', reject);
      });
    const sockets: import('node:tls').TLSSocket[] = [];
    const closedByServer = new Set<import('node:tls').TLSSocket>();
    try {
      // Slowloris: 40 connections trickling partial headers, 10 stalled bodies, for 3 seconds.
      for (let i = 0; i < 50; i++) {
        const s = await open();
        s.on('error', () => {});
        s.on('close', () => closedByServer.add(s));
        sockets.push(s);
        if (i < 40) s.write('POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
        else
          s.write(
            'POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"protocol":1,',
          );
        requestsTried++;
      }
      const trickle = setInterval(() => {
        for (const s of sockets.slice(0, 40)) if (!s.destroyed) s.write('a');
      }, 200);
      const timings: number[] = [];
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const r = await status();
        expect(r.code).toBe(200);
        timings.push(r.ms);
        await new Promise((res) => setTimeout(res, 100));
      }
      clearInterval(trickle);
      expect(Math.max(...timings), `status latencies ${timings.join(',')}`).toBeLessThan(2000);

      // A 5 MB body: refused with 413 or the connection is closed; never buffered whole, never 5xx.
      for (const path of ['/v1/enroll', '/v1/report']) {
        try {
          const res = await request(`${fc.running.url}${path}`, {
            dispatcher,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: Buffer.alloc(5 * 1024 * 1024, 0x61),
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          await res.body.text();
          expect(res.statusCode).toBe(413);
        } catch (error) {
          expect(String((error as Error).message)).toMatch(/closed|reset|EPIPE|socket|other side/i);
        }
        requestsTried++;
      }
      // A chunked body that never ends within the limit.
      const s = await open();
      s.on('error', () => {});
      s.write('POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = Buffer.alloc(16 * 1024, 0x62);
      const closed = new Promise<string>((resolve) => {
        let answer = '';
        s.on('data', (d) => {
          answer += String(d);
        });
        s.on('close', () => resolve(answer));
      });
      for (let i = 0; i < 20 && !s.destroyed; i++) s.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      const answer = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r('(still open)'), 5000))]);
      s.destroy();
      requestsTried++;
      expect(answer).toMatch(/^HTTP\/1\.1 413/);
      // 200 connections opened and dropped at once.
      await Promise.all(
        Array.from({ length: 200 }, async () => {
          const c = await open().catch(() => undefined);
          c?.destroy();
          requestsTried++;
        }),
      );
      expect((await status()).code).toBe(200);
    } finally {
      for (const s of sockets) s.destroy();
      await dispatcher.close();
    }
    await fc.store.flushed();
    expect(snapshotState(fc.store)).toBe(before);
  });

  it('the boot listener (iPXE, NoCloud, Ignition over plain HTTP) answers traversal and junk with 4xx and serves no secret', async () => {
    const { startBootListener } = await import('../../server/boot-listener.ts');
    const spec = {
      ...fc.plan.spec,
      fleet: { ...fc.plan.spec.fleet, enabled: true },
      coordinator: { ...fc.plan.spec.coordinator, httpListen: '127.0.0.1:8080' },
    };
    const boot = await startBootListener(spec, fc.stateDir, '127.0.0.1:0');
    const rng = createRng(SEED + 7);
    const failures: string[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        const path = rng.pick([
          `/nocloud/${rng.pick(TRAVERSALS)}`,
          `/nocloud/fleet/${rng.pick(['user-data', 'meta-data', 'vendor-data', '../store/journal.log', '..%2f..%2foperator-token'])}`,
          `/ignition/${rng.pick(['fleet.ign', '../audit.log', rng.pick(TRAVERSALS)])}`,
          `/ipxe?mac=${rng.pick(['52:54:00:00:00:01', '../../', '%00', 'x'.repeat(3000), ''])}`,
          '/boot.ipxe',
          `/${rng.pick(TRAVERSALS)}`,
          '/operator-token',
          '/store/journal.log',
        ]);
        const res = await request(`${boot.url}${path}`, {
          method: rng.pick(['GET', 'HEAD', 'POST', 'DELETE']),
          headersTimeout: 5000,
          bodyTimeout: 5000,
        });
        const text = await res.body.text();
        requestsTried++;
        if (res.statusCode >= 500) failures.push(`${path} → ${res.statusCode}`);
        const leaks = findLeaks(text, fc.ledger);
        if (leaks.length) failures.push(`${path} → leaks ${leaks.join(', ')}`);
        responses.push(text);
      }
    } finally {
      await boot.close();
    }
    expect(failures).toEqual([]);
  });

  it('no minted secret in any fuzz response or coordinator log line', () => {
    const leaks: string[] = [];
    for (const text of [...responses, ...fc.logs]) {
      const found = findLeaks(text, fc.ledger);
      if (found.length) leaks.push(`${found.join(', ')} in ${text.slice(0, 200)}`);
    }
    console.log(
      `[reliability] leaks found in fuzz responses and logs: ${leaks.length} (${responses.length} responses, ${fc.logs.length} log lines, ${fc.ledger.values.size} secrets)`,
    );
    expect(fc.logs.length).toBeGreaterThan(100);
    expect(leaks).toEqual([]);
  });
});
