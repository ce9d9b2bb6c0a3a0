/**
 * Every route of the coordinator through `app.inject()`, including every error status it can
 * answer: 400, 401, 404, 409, 413, 415, 416, 429, 503 (store write failure) and 500 (generic body).
 */

import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { NextResponse, ReleasedStep } from '../../../protocol/index.ts';
import { buildApp } from '../../../server/app.ts';
import { SSE_HARD_BUFFERED, SSE_MAX_BUFFERED } from '../../../server/event-stream.ts';
import { JournalStore, MemoryStore, type Store } from '../../../server/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { FailingStore } from './failing-store.ts';
import { FAKE_PKI_KEY, makePlan } from './fixtures.ts';
import {
  type AgentIdentity,
  createAgent,
  enrollBody,
  FakeClock,
  FakeKubernetes,
  makeInputs,
  OPERATOR_TOKEN,
  signedHeaders,
} from './support.ts';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

function setup(
  options: { store?: Store; distDir?: string; plan?: ReturnType<typeof makePlan>; clock?: FakeClock; enrollFailureLimit?: number } = {},
) {
  const plan = options.plan ?? makePlan({ workers: 2 });
  const clock = options.clock ?? new FakeClock(Date.now());
  const kubernetes = new FakeKubernetes();
  const store = options.store ?? new MemoryStore();
  const app = buildApp(makeInputs(plan, { clock }), {
    store,
    kubernetes,
    ...(options.distDir ? { distDir: options.distDir } : {}),
    defaultWaitMs: 50,
    ...(options.enrollFailureLimit ? { enrollFailureLimit: options.enrollFailureLimit } : {}),
  });
  apps.push(app);
  return { app, plan, clock, kubernetes, store };
}

async function enroll(app: FastifyInstance, agent: AgentIdentity) {
  return app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(agent) });
}

async function signed(app: FastifyInstance, clock: FakeClock, agent: AgentIdentity, method: 'GET' | 'POST', url: string, body?: unknown) {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return app.inject({ method, url, headers: signedHeaders(agent, method, url, payload, clock.now()), ...(payload ? { payload } : {}) });
}

async function next(app: FastifyInstance, clock: FakeClock, agent: AgentIdentity, wait = 0): Promise<NextResponse | null> {
  const res = await signed(app, clock, agent, 'GET', `/v1/next?wait=${wait}`);
  if (res.statusCode === 204) return null;
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function succeed(app: FastifyInstance, clock: FakeClock, agent: AgentIdentity, step: ReleasedStep, results = {}) {
  const res = await signed(app, clock, agent, 'POST', '/v1/report', {
    stepId: step.id,
    attempt: step.attempt,
    outcome: 'succeeded',
    logTail: 'ok',
    startedAt: clock.now(),
    results,
  });
  expect(res.statusCode, res.body).toBe(200);
}

describe('POST /v1/enroll', () => {
  it('binds the host, is idempotent for the same machine and key, and refuses another identity with 409 + a security event', async () => {
    const { app } = setup();
    const cp1 = createAgent('cp1');
    const first = await enroll(app, cp1);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ host: 'cp1', role: 'control-plane', awaitingApproval: false, kubernetesVersion: 'v1.37.0' });
    expect((await enroll(app, cp1)).statusCode).toBe(200);

    const clone = createAgent('cp1', 99); // another machine with a copy of the user-data
    const cloned = await enroll(app, clone);
    expect(cloned.statusCode).toBe(409);
    expect(cloned.json().code).toBe('IDENTITY_MISMATCH');

    const sameMachineNewKey = { ...createAgent('cp1'), facts: cp1.facts };
    const rekeyed = await enroll(app, sameMachineNewKey);
    expect(rekeyed.statusCode).toBe(409);
    expect(rekeyed.json().code).toBe('CREDENTIAL_SPENT');

    const status = await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    const kinds = status.json().securityEvents.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(['identity-mismatch', 'credential-spent']);
  });

  it('answers 401 for a wrong credential and for an unknown host alike, 400 for bad bodies and keys, and 429 after repeated failures', async () => {
    const { app } = setup({ enrollFailureLimit: 3 });
    const cp1 = createAgent('cp1');
    const wrong = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(cp1, { credential: 'nope' }) });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: 'Unauthorized', code: 'UNAUTHORIZED', message: expect.any(String) });
    const unknown = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(createAgent('ghost')) });
    // The same answer as a wrong credential for a known host: the plan's host names cannot be enumerated.
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toEqual(wrong.json());
    const rsaKey = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(cp1, { publicKey: 'not a key' }) });
    expect(rsaKey.statusCode).toBe(400);
    const badShape = await app.inject({ method: 'POST', url: '/v1/enroll', payload: { protocol: 1 } });
    expect(badShape.statusCode).toBe(400);
    expect(badShape.json().code).toBe('BAD_REQUEST');
    const badJson = await app.inject({
      method: 'POST',
      url: '/v1/enroll',
      payload: '{"protocol":',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.statusCode).toBe(400);
    const version = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(cp1, { protocol: 7 }) });
    expect(version.statusCode).toBe(400);
    expect(version.json().code).toBe('PROTOCOL_VERSION');
    const third = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(cp1, { credential: 'nope' }) });
    expect(third.statusCode).toBe(401);
    // Three failures from this address: even the right credential now waits.
    const limited = await enroll(app, cp1);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('RATE_LIMITED');
    const status = await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(status.json().securityEvents.map((e: { kind: string }) => e.kind)).toEqual(['enrollment-rate-limited']);
  });

  it('refuses bodies over the limit with 413 and non-JSON with 415', async () => {
    const { app } = setup();
    const huge = await app.inject({
      method: 'POST',
      url: '/v1/enroll',
      payload: JSON.stringify({ x: 'a'.repeat(70 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().code).toBe('PAYLOAD_TOO_LARGE');
    const text = await app.inject({ method: 'POST', url: '/v1/enroll', payload: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
  });
});

describe('signed agent routes', () => {
  it('refuses unsigned, badly signed, skewed and replayed requests with 401', async () => {
    const { app, clock } = setup();
    const cp1 = createAgent('cp1');
    await enroll(app, cp1);
    expect((await app.inject({ url: '/v1/next?wait=0' })).statusCode).toBe(401);
    const other = createAgent('cp1', 5);
    const forged = await app.inject({ url: '/v1/next?wait=0', headers: signedHeaders(other, 'GET', '/v1/next?wait=0', '', clock.now()) });
    expect(forged.statusCode).toBe(401);
    const skewed = await app.inject({
      url: '/v1/next?wait=0',
      headers: signedHeaders(cp1, 'GET', '/v1/next?wait=0', '', clock.now() - 6 * 60_000),
    });
    expect(skewed.statusCode).toBe(401);
    expect(skewed.json().message).toMatch(/clock/);
    const headers = signedHeaders(cp1, 'GET', '/v1/next?wait=0', '', clock.now());
    expect((await app.inject({ url: '/v1/next?wait=0', headers })).statusCode).toBe(204);
    const replay = await app.inject({ url: '/v1/next?wait=0', headers });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().message).toMatch(/replay/);
    // Signature covers the path: the same headers on another URL fail.
    const moved = await app.inject({ url: '/v1/next?wait=1', headers: signedHeaders(cp1, 'GET', '/v1/next?wait=0', '', clock.now()) });
    expect(moved.statusCode).toBe(401);
  });

  it('GET /v1/next delivers the released step with secrets, audits it, and 204s when nothing is released', async () => {
    const { app, clock } = setup();
    const cp1 = createAgent('cp1');
    const lb1 = createAgent('lb1');
    const lb2 = createAgent('lb2');
    for (const a of [cp1, lb1, lb2]) await enroll(app, a);
    const waiting = await signed(app, clock, cp1, 'GET', '/v1/next?wait=0');
    expect(waiting.statusCode).toBe(204);
    expect(waiting.headers['x-kubeseed-waiting-for']).toMatch(/lb1\/lb-check/);
    for (const lb of [lb1, lb2]) {
      const got = await next(app, clock, lb);
      expect(got?.step?.kind).toBe('lb-check');
      await succeed(app, clock, lb, got!.step!);
      expect((await next(app, clock, lb))?.done).toBe(true);
    }
    const init = await next(app, clock, cp1);
    expect(init?.step).toMatchObject({ id: 'cp1/kubeadm-init', attempt: 1 });
    expect(init!.step!.files.some((f) => f.content.startsWith(FAKE_PKI_KEY))).toBe(true);
    expect(init!.step!.redact.length).toBeGreaterThan(0);
    // Asked again (agent restarted): the same attempt, not a new one.
    expect((await next(app, clock, cp1))?.step?.attempt).toBe(1);
    const audit = app.coordinator.auditTrail();
    expect(audit.filter((e) => e.step === 'cp1/kubeadm-init')).toHaveLength(2);
    expect(JSON.stringify(audit)).not.toContain(FAKE_PKI_KEY);
    expect(audit[0]).toMatchObject({ host: 'cp1', secrets: ['bootstrap-token', 'shared-pki'] });
    // The operator reads the same trail: operator token only, `?host=` one host, an unknown host 404, nothing else in the query.
    const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    expect((await app.inject({ url: '/v1/admin/audit' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/admin/audit', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/admin/audit', headers: auth })).json()).toEqual({ entries: audit });
    expect((await app.inject({ url: '/v1/admin/audit?host=cp1', headers: auth })).json().entries).toHaveLength(2);
    expect((await app.inject({ url: '/v1/admin/audit?host=w1', headers: auth })).json()).toEqual({ entries: [] });
    const unknown = await app.inject({ url: '/v1/admin/audit?host=nope', headers: auth });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toBe('host nope is not in the plan');
    expect((await app.inject({ url: `/v1/admin/audit?token=${OPERATOR_TOKEN}`, headers: auth })).statusCode).toBe(400);
  });

  it('a long-poll returns as soon as the gate opens', async () => {
    const { app, clock } = setup();
    const [cp1, lb1, lb2] = ['cp1', 'lb1', 'lb2'].map((h) => createAgent(h));
    for (const a of [cp1!, lb1!, lb2!]) await enroll(app, a);
    for (const lb of [lb1!, lb2!]) {
      const got = await next(app, clock, lb);
      if (lb === lb2) {
        const started = Date.now();
        const pending = signed(app, clock, cp1!, 'GET', '/v1/next?wait=10000');
        await new Promise((r) => setTimeout(r, 20));
        await succeed(app, clock, lb, got!.step!);
        const res = await pending;
        expect(res.statusCode).toBe(200);
        expect(res.json().step.kind).toBe('kubeadm-init');
        expect(Date.now() - started).toBeLessThan(1000);
      } else {
        await succeed(app, clock, lb, got!.step!);
      }
    }
  });

  it('POST /v1/report: 404 for another host’s step, 409 for a stale attempt, idempotent repeat, 400 for a bad outcome', async () => {
    const { app, clock } = setup();
    const lb1 = createAgent('lb1');
    const lb2 = createAgent('lb2');
    await enroll(app, lb1);
    await enroll(app, lb2);
    const step = (await next(app, clock, lb1))!.step!;
    const base = { stepId: step.id, attempt: 1, outcome: 'succeeded', logTail: '', startedAt: clock.now() };
    expect((await signed(app, clock, lb2, 'POST', '/v1/report', base)).statusCode).toBe(404);
    const stale = await signed(app, clock, lb1, 'POST', '/v1/report', { ...base, attempt: 2 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().code).toBe('STALE_ATTEMPT');
    expect((await signed(app, clock, lb1, 'POST', '/v1/report', { ...base, outcome: 'maybe' })).statusCode).toBe(400);
    expect((await signed(app, clock, lb1, 'POST', '/v1/report', base)).json()).toEqual({ accepted: true });
    expect((await signed(app, clock, lb1, 'POST', '/v1/report', base)).json()).toEqual({ accepted: true });
    const contradict = await signed(app, clock, lb1, 'POST', '/v1/report', { ...base, outcome: 'failed' });
    expect(contradict.statusCode).toBe(409);
  });

  it('re-redacts and bounds report log tails', async () => {
    const { app, clock } = setup();
    const lb1 = createAgent('lb1');
    await enroll(app, lb1);
    const step = (await next(app, clock, lb1))!.step!;
    // A certificate key the coordinator never released (an agent that printed `kubeadm init phase upload-certs` output itself).
    const certificateKey = 'e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204';
    const leak = `token abcdef.0123456789abcdef and\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n${'x'.repeat(20_000)}\n[upload-certs] Using certificate key:\n${certificateKey}\ntail-end`;
    await signed(app, clock, lb1, 'POST', '/v1/report', {
      stepId: step.id,
      attempt: 1,
      outcome: 'failed',
      logTail: leak,
      reason: 'test',
      startedAt: clock.now(),
    });
    const status = (await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json();
    const tail: string = status.hosts.find((h: { name: string }) => h.name === 'lb1').steps[0].lastReport.logTail;
    expect(tail).not.toContain('abcdef.0123456789abcdef');
    expect(tail).not.toContain(certificateKey);
    expect(tail).not.toContain('PRIVATE KEY');
    expect(tail.length).toBeLessThan(17 * 1024);
    expect(tail.endsWith('tail-end')).toBe(true);
  });

  it('POST /v1/heartbeat records the phase shown in status; 400 without a phase', async () => {
    const { app, clock } = setup();
    const w1 = createAgent('w1');
    await enroll(app, w1);
    const res = await signed(app, clock, w1, 'POST', '/v1/heartbeat', {
      phase: 'preflight',
      message: 'waiting for DNS',
      clock: clock.now(),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().serverTime).toBe(clock.now());
    expect((await signed(app, clock, w1, 'POST', '/v1/heartbeat', { clock: 1 })).statusCode).toBe(400);
    const hosts = (await app.inject({ url: '/v1/admin/hosts', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json().hosts;
    expect(hosts.find((h: { name: string }) => h.name === 'w1')).toMatchObject({
      phase: 'preflight',
      message: 'waiting for DNS',
      enrolled: true,
    });
  });
});

describe('operator routes', () => {
  it('status and admin routes need the operator token', async () => {
    const { app } = setup();
    expect((await app.inject({ url: '/v1/status' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/status', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    // A token in the URL is refused outright, even the right one: URLs end up in logs.
    expect((await app.inject({ url: `/v1/status?token=${OPERATOR_TOKEN}` })).statusCode).toBe(400);
    expect((await app.inject({ url: '/v1/events' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/admin/hosts/w1/retry' })).statusCode).toBe(401);
    const ok = await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ done: false, counts: { hosts: 7, enrolled: 0 } });
  });

  it('admin actions: 404 for unknown hosts, 400 for bad names, 409 with the reason for no-ops and for rebinding the init host after init, dry runs change nothing', async () => {
    const { app, clock } = setup();
    const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    expect((await app.inject({ method: 'POST', url: '/v1/admin/hosts/ghost/retry', headers: auth })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/v1/admin/hosts/..%2Fx/retry', headers: auth })).statusCode).toBe(400);
    // A no-op is refused with the reason (409), never answered "approved" or "requeued: []".
    const approve = await app.inject({ method: 'POST', url: '/v1/admin/hosts/w1/approve', headers: auth });
    expect(approve.statusCode).toBe(409);
    expect(approve.json().message).toMatch(/no machine waits for approval of w1: this cluster is not in fleet mode/);
    const idle = await app.inject({ method: 'POST', url: '/v1/admin/hosts/w1/retry', headers: auth });
    expect(idle.statusCode).toBe(409);
    expect(idle.json().message).toMatch(/w1 has no failed step, so there is nothing to retry/);
    // Drive to init success.
    const agents = Object.fromEntries(['lb1', 'lb2', 'cp1'].map((h) => [h, createAgent(h)]));
    for (const a of Object.values(agents)) await enroll(app, a);
    for (const h of ['lb1', 'lb2', 'cp1']) await succeed(app, clock, agents[h]!, (await next(app, clock, agents[h]!))!.step!);
    const rebind = await app.inject({ method: 'POST', url: '/v1/admin/hosts/cp1/rebind', headers: auth });
    expect(rebind.statusCode).toBe(409);
    expect(rebind.json().code).toBe('CONFLICT');
    // --dry-run: says what would happen, changes nothing.
    const before = (await app.inject({ url: '/v1/admin/hosts', headers: auth })).json();
    const dryRemove = await app.inject({ method: 'POST', url: '/v1/admin/hosts/w2/remove', headers: auth, payload: { dryRun: true } });
    expect(dryRemove.json()).toMatchObject({ removed: false, dryRun: true, cleanup: [] });
    const dryRebind = await app.inject({ method: 'POST', url: '/v1/admin/hosts/lb1/rebind', headers: auth, payload: { dryRun: true } });
    expect(dryRebind.json()).toMatchObject({ rebound: false, dryRun: true });
    expect(dryRebind.json().restarts).toContain('lb1/lb-check');
    expect((await app.inject({ url: '/v1/admin/hosts', headers: auth })).json()).toEqual(before);
    const removed = await app.inject({ method: 'POST', url: '/v1/admin/hosts/w2/remove', headers: auth });
    expect(removed.json()).toMatchObject({ removed: true });
    const again = await app.inject({ method: 'POST', url: '/v1/admin/hosts/w2/remove', headers: auth });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/w2 was already removed/);
  });

  it('rebind lets a rebuilt machine enroll once with the same credential', async () => {
    const { app } = setup();
    const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    const old = createAgent('w1', 1);
    expect((await enroll(app, old)).statusCode).toBe(200);
    const rebuilt = createAgent('w1', 2);
    expect((await enroll(app, rebuilt)).statusCode).toBe(409);
    expect((await app.inject({ method: 'POST', url: '/v1/admin/hosts/w1/rebind', headers: auth })).statusCode).toBe(200);
    expect((await enroll(app, rebuilt)).statusCode).toBe(200);
    // Spent again: the old machine cannot come back.
    expect((await enroll(app, old)).statusCode).toBe(409);
  });

  it('GET /v1/events streams step events (SSE)', async () => {
    const { app, clock } = setup();
    const lb1 = createAgent('lb1');
    await enroll(app, lb1);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const { Agent, request } = await import('undici');
    const dispatcher = new Agent({ connect: { ca: makeInputs(makePlan()).tls.ca } });
    const res = await request(`https://127.0.0.1:${port}/v1/events`, {
      dispatcher,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const chunk of res.body) {
        chunks.push(String(chunk));
        if (chunks.join('').includes('event: step')) break;
      }
    })();
    await next(app, clock, lb1);
    await signed(app, clock, lb1, 'POST', '/v1/heartbeat', { phase: 'x', clock: 1 });
    const step = (await next(app, clock, lb1))!.step!;
    await succeed(app, clock, lb1, step);
    await Promise.race([reading, new Promise((r) => setTimeout(r, 2000))]);
    expect(chunks.join('')).toContain('event: hello');
    expect(chunks.join('')).toContain('event: step');
    res.body.destroy();
    await dispatcher.close();
  });
});

describe('event stream backpressure', () => {
  it('drops a subscriber that stops reading; a reading one gets every event of bursts larger than SSE_MAX_BUFFERED', async () => {
    const { app } = setup();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const ca = makeInputs(makePlan()).tls.ca;
    const emitter = app.coordinator.events;
    const before = emitter.listenerCount('event');
    // The slow subscriber: a TLS socket that sends the request and never reads again.
    const { connect } = await import('node:tls');
    const slow = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', checkServerIdentity: () => undefined });
    await new Promise<void>((resolve, reject) => slow.once('secureConnect', resolve).once('error', reject));
    slow.write(`GET /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${OPERATOR_TOKEN}\r\n\r\n`);
    slow.on('error', () => {});
    // The reading subscriber.
    const { Agent, request } = await import('undici');
    const dispatcher = new Agent({ connect: { ca } });
    const res = await request(`https://127.0.0.1:${port}/v1/events`, {
      dispatcher,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    for (let i = 0; i < 100 && emitter.listenerCount('event') < before + 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(emitter.listenerCount('event')).toBe(before + 2);
    slow.pause();
    let received = 0;
    let tail = '';
    const reading = (async () => {
      for await (const chunk of res.body) {
        received += (chunk as Buffer).length;
        tail = (tail + String(chunk)).slice(-10_000);
        if (tail.includes('"phase":"last"')) break;
      }
    })();
    const readerHas = async (phase: string) => {
      for (let i = 0; i < 500 && !tail.includes(`"phase":"${phase}"`); i++) await new Promise((r) => setTimeout(r, 10));
    };
    // 24 MiB of events in bursts of 1.5 MiB per turn (each above SSE_MAX_BUFFERED), the next burst once
    // the reader has read the last: more than the socket buffers and SSE_HARD_BUFFERED together.
    const message = 'x'.repeat(4096);
    for (let i = 0; i < 6144; i++) {
      emitter.emit('event', { type: 'heartbeat', host: 'w1', phase: `p${i}`, message });
      if (i % 384 === 383) await readerHas(`p${i}`);
    }
    emitter.emit('event', { type: 'heartbeat', host: 'w1', phase: 'last' });
    await Promise.race([reading, new Promise((r) => setTimeout(r, 20_000))]);
    expect(received).toBeGreaterThan(24 * 2 ** 20);
    // The slow one was dropped (its listener removed), the reading one is still subscribed.
    expect(emitter.listenerCount('event')).toBe(before + 1);
    expect(384 * 4096).toBeGreaterThan(SSE_MAX_BUFFERED);
    expect(24 * 2 ** 20).toBeGreaterThan(SSE_HARD_BUFFERED + 8 * 2 ** 20);
    slow.destroy();
    res.body.destroy();
    await dispatcher.close();
  }, 30_000);
});

describe('agent executables', () => {
  it('serves the gzip-compressed executable with Range support and the uncompressed SHA-256', async () => {
    const dist = tempDir('ks-dist-');
    const exe = Buffer.from(`#!/bin/sh\necho agent\n${'padding '.repeat(5000)}`);
    writeFileSync(join(dist, 'kubeseed-agent-linux-x64'), exe, { mode: 0o755 });
    const { app } = setup({ distDir: dist });
    const full = await app.inject({ url: '/agent/linux-amd64' });
    expect(full.statusCode).toBe(200);
    expect(full.headers['content-type']).toBe('application/gzip');
    expect(full.headers['accept-ranges']).toBe('bytes');
    expect(gunzipSync(full.rawPayload).equals(exe)).toBe(true);
    const sum = await app.inject({ url: '/agent/linux-amd64.sha256' });
    expect(sum.body).toBe(`${createHash('sha256').update(exe).digest('hex')}  kubeseed-agent\n`);
    const part = await app.inject({ url: '/agent/linux-amd64', headers: { range: 'bytes=10-19' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${full.rawPayload.length}`);
    expect(part.rawPayload.equals(full.rawPayload.subarray(10, 20))).toBe(true);
    const bad = await app.inject({ url: '/agent/linux-amd64', headers: { range: `bytes=${full.rawPayload.length + 5}-` } });
    expect(bad.statusCode).toBe(416);
    const head = await app.inject({ method: 'HEAD', url: '/agent/linux-amd64' });
    expect(head.statusCode).toBe(200);
    const missing = await app.inject({ url: '/agent/linux-arm64' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toMatch(/not built/);
    expect((await app.inject({ url: '/agent/../../etc/passwd' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/agent/windows' })).statusCode).toBe(400);
  });
});

describe('store failures', () => {
  it('a failing store surfaces as 503 with a generic body and leaves state unchanged', async () => {
    const store = new FailingStore(new MemoryStore());
    const { app } = setup({ store });
    await app.ready();
    const before = JSON.stringify(store.list(''));
    store.failing = true;
    const res = await enroll(app, createAgent('w1'));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      error: 'Service Unavailable',
      code: 'UNAVAILABLE',
      message: 'the coordinator could not save its state; retry shortly',
    });
    expect(JSON.stringify(store.list(''))).toBe(before);
    store.failing = false;
    expect((await enroll(app, createAgent('w1'))).statusCode).toBe(200);
  });

  it('the durable store failing to fsync answers 503; the enrollment is not kept and succeeds later', async () => {
    const dir = tempDir('ks-app-store-');
    let full = false;
    const store = new JournalStore(dir, {
      faults: {
        beforeWrite: () => {
          if (full) throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
        },
      },
    });
    await store.open();
    const { app } = setup({ store });
    await app.ready();
    full = true;
    const agent = createAgent('w1');
    const refused = await enroll(app, agent);
    expect(refused.statusCode).toBe(503);
    expect(refused.json().code).toBe('UNAVAILABLE');
    expect(app.coordinator.status().hosts.find((h) => h.name === 'w1')!.enrolled).toBe(false);
    full = false;
    expect((await enroll(app, agent)).statusCode).toBe(200);
    await app.close();
    await store.close();
    const reopened = new JournalStore(dir);
    await reopened.open();
    expect(reopened.get<{ enrollment?: unknown }>('host/w1')!.value.enrollment).toBeDefined();
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a step the builder cannot build fails visibly instead of answering 500', async () => {
    const plan = makePlan({ workers: 1 });
    const clock = new FakeClock(Date.now());
    const app = buildApp(
      makeInputs(plan, {
        clock,
        buildStep: (p, step, secrets, extras) => {
          if (step.kind === 'lb-check') throw new Error('no template for lb-check');
          return makeInputs(plan).buildStep(p, step, secrets, extras);
        },
      }),
      { store: new MemoryStore(), defaultWaitMs: 50 },
    );
    apps.push(app);
    const lb1 = createAgent('lb1');
    await enroll(app, lb1);
    expect(await next(app, clock, lb1)).toBeNull();
    const status = (await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json();
    const step = status.hosts.find((h: { name: string }) => h.name === 'lb1').steps[0];
    expect(step).toMatchObject({ state: 'failed', lastReport: { reason: 'build-failed' } });
    expect(step.lastReport.logTail).toMatch(/no template for lb-check/);
  });

  it('an unexpected error is a generic 500', async () => {
    const plan = makePlan();
    const app = buildApp(
      makeInputs(plan, {
        enrollment: {
          verify: () => {
            throw new Error('secret detail /var/lib/x');
          },
        },
      }),
      { store: new MemoryStore() },
    );
    apps.push(app);
    const res = await enroll(app, createAgent('w1'));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'Internal Server Error', code: 'INTERNAL', message: 'internal error; see the coordinator log' });
  });

  it('unknown routes answer 404 with the error body', async () => {
    const { app } = setup();
    const res = await app.inject({ url: '/v2/nothing' });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('NOT_FOUND');
  });
});
