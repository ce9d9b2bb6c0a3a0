/**
 * A waiting `GET /v1/next` over a real HTTPS connection: an agent that goes away frees its waiter at
 * once (not at the end of its wait: a fleet of reconnecting agents would otherwise pile up waiters,
 * timers and responses for a minute each), and a poll that is not woken ends at its wait with 204.
 */
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningCoordinator, startCoordinator } from '../../../server/serve.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, createTestTls, enrollBody, FakeKubernetes, makeInputs, signedHeaders } from './support.ts';

const running: RunningCoordinator[] = [];
const dispatchers: Agent[] = [];
afterAll(async () => {
  for (const d of dispatchers) await d.destroy();
  for (const r of running) await r.close();
});

/** A coordinator on 127.0.0.1 with one enrolled worker, whose long-poll waits (no control plane yet). */
async function waitingWorker() {
  const plan = makePlan();
  const coordinator = await startCoordinator(makeInputs(plan), {
    store: new MemoryStore(),
    kubernetes: new FakeKubernetes(),
    listen: { host: '127.0.0.1', port: 0 },
    logger: false,
  });
  running.push(coordinator);
  const dispatcher = new Agent({ connect: { ca: createTestTls().ca }, connections: 4 });
  dispatchers.push(dispatcher);
  const index = plan.hosts.findIndex((h) => h.role === 'worker');
  const worker = createAgent(plan.hosts[index]!.name, index);
  const enrolled = await request(`${coordinator.url}/v1/enroll`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(enrollBody(worker)),
  });
  expect(enrolled.statusCode).toBe(200);
  await enrolled.body.text();
  const poll = (path: string, signal?: AbortSignal) =>
    request(`${coordinator.url}${path}`, { dispatcher, headers: signedHeaders(worker, 'GET', path, '', Date.now()), signal });
  return { coordinator, poll, polls: () => coordinator.app.coordinator.waitingPolls() };
}

/** Polls `check` every 10 ms until it holds or `ms` passed; returns whether it held. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return check();
}

describe('a waiting long-poll over HTTPS', () => {
  it('is freed as soon as its client disconnects, not at the end of its wait', async () => {
    const { poll, polls } = await waitingWorker();
    const abort = new AbortController();
    const pending = poll('/v1/next?wait=60000', abort.signal).catch((error: unknown) => error);
    expect(await eventually(() => polls() === 1, 5000)).toBe(true);
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    // Within 2 s of a 60 s wait: the connection's close freed it.
    expect(await eventually(() => polls() === 0, 2000)).toBe(true);
  });

  it('ends at its wait with 204 and leaves no waiter behind', async () => {
    const { poll, polls } = await waitingWorker();
    const started = Date.now();
    const res = await poll('/v1/next?wait=300');
    expect(res.statusCode).toBe(204);
    expect(res.headers['x-kubeseed-waiting-for']).toBeTruthy();
    await res.body.text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(polls()).toBe(0);
  });
});
