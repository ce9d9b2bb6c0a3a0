/**
 * `GET /v1/next` and `POST /v1/heartbeat`, the routes every agent calls about once a minute: the
 * step answer is serialised by the route itself (issue 19: a gate opening answers hundreds at once)
 * and must still be exactly what NEXT_RESPONSE_SCHEMA describes, nothing more; their request lines
 * stay out of an info log (they would drown it at fleet scale) and appear at debug.
 */
import { Writable } from 'node:stream';
import fastJson from 'fast-json-stringify';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { NEXT_RESPONSE_SCHEMA } from '../../../protocol/index.ts';
import { buildApp } from '../../../server/app.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { type AgentIdentity, createAgent, enrollBody, FakeClock, FakeKubernetes, makeInputs, signedHeaders } from './support.ts';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

function setup(level: string) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const plan = makePlan({ workers: 1 });
  const clock = new FakeClock(Date.now());
  const app = buildApp(makeInputs(plan, { clock }), {
    store: new MemoryStore(),
    kubernetes: new FakeKubernetes(),
    defaultWaitMs: 50,
    logger: { level, stream },
  });
  apps.push(app);
  return { app, clock, lines };
}

async function signed(app: FastifyInstance, clock: FakeClock, agent: AgentIdentity, method: 'GET' | 'POST', url: string, body?: unknown) {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return app.inject({ method, url, headers: signedHeaders(agent, method, url, payload, clock.now()), ...(payload ? { payload } : {}) });
}

/** lb1 enrolls, asks for its step, sends a heartbeat; the log lines those requests left. */
async function poll(level: string) {
  const { app, clock, lines } = setup(level);
  const lb1 = createAgent('lb1');
  expect((await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(lb1) })).statusCode).toBe(200);
  const before = lines.length;
  const next = await signed(app, clock, lb1, 'GET', '/v1/next?wait=0');
  const beat = await signed(app, clock, lb1, 'POST', '/v1/heartbeat', { phase: 'idle', clock: clock.now() });
  const requestLines = lines
    .slice(before)
    .map((l) => JSON.parse(l) as { msg: string; req?: { url?: string } })
    .filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
  return { next, beat, requestLines };
}

describe('the agents polling routes', () => {
  it('answer a step as JSON that is exactly what NEXT_RESPONSE_SCHEMA describes', async () => {
    const { app, clock } = setup('silent');
    const [cp1, lb1, lb2] = ['cp1', 'lb1', 'lb2'].map((h) => createAgent(h));
    for (const a of [cp1!, lb1!, lb2!]) await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(a) });
    const serialize = fastJson(NEXT_RESPONSE_SCHEMA as never);
    const answers: Record<string, unknown>[] = [];
    const next = async (agent: AgentIdentity) => {
      const res = await signed(app, clock, agent, 'GET', '/v1/next?wait=0');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      answers.push(res.json());
      return res.json();
    };
    for (const lb of [lb1!, lb2!]) {
      const { step } = await next(lb);
      const report = { stepId: step.id, attempt: step.attempt, outcome: 'succeeded', logTail: 'ok', startedAt: clock.now(), results: {} };
      expect((await signed(app, clock, lb, 'POST', '/v1/report', report)).statusCode).toBe(200);
      expect((await next(lb)).done).toBe(true);
    }
    // kubeadm init: files, secrets to redact, params.
    const init = await next(cp1!);
    expect(init.step.kind).toBe('kubeadm-init');
    expect(init.step.files.length).toBeGreaterThan(0);
    // The schema serializer drops what the schema does not name: nothing is dropped.
    for (const answer of answers) expect(JSON.parse(serialize(answer))).toEqual(answer);
  });

  it('log no request lines at info, and do at debug', async () => {
    const info = await poll('info');
    expect(info.beat.statusCode, info.beat.body).toBe(200);
    expect(info.requestLines).toEqual([]);
    const debug = await poll('debug');
    expect(debug.requestLines.map((l) => `${l.msg} ${l.req?.url ?? ''}`.trim())).toEqual(
      expect.arrayContaining(['incoming request /v1/next?[REDACTED]', 'incoming request /v1/heartbeat']),
    );
  });

  it('share one logger per route: a waiting long-poll holds no child logger of its own', async () => {
    const { app, clock } = setup('info');
    const loggers: Record<string, unknown[]> = {};
    app.addHook('onRequest', async (request) => {
      const route = request.routeOptions.url ?? '';
      loggers[route] = [...(loggers[route] ?? []), request.log];
    });
    const lb1 = createAgent('lb1');
    await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(lb1) });
    for (let i = 0; i < 2; i++) {
      await signed(app, clock, lb1, 'GET', `/v1/next?wait=${i}`);
      await signed(app, clock, lb1, 'POST', '/v1/heartbeat', { phase: 'idle', clock: clock.now() });
    }
    const [next1, next2] = loggers['/v1/next']!;
    const [beat1, beat2] = loggers['/v1/heartbeat']!;
    expect(next1).toBe(next2);
    expect(beat1).toBe(beat2);
    expect(next1).not.toBe(beat1);
    // Other routes keep a child per request (its request id in every line).
    expect(loggers['/v1/enroll']).toHaveLength(1);
  });
});
