/**
 * 200 simulated agents against a coordinator listening on 127.0.0.1 over real HTTPS, with the
 * durable journal store: exactly one successful init, control-plane joins never overlap, no worker
 * join before init succeeded, every host done. Also: the listener refuses plain HTTP.
 */
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningCoordinator, startCoordinator } from '../../../server/serve.ts';
import { JournalStore } from '../../../server/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { RolloutTracker, SimAgent } from './agent-sim.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, createTestTls, enrollBody, FakeKubernetes, makeInputs, OPERATOR_TOKEN, signedHeaders } from './support.ts';

const running: RunningCoordinator[] = [];
const dispatchers: Agent[] = [];
afterAll(async () => {
  for (const d of dispatchers) await d.close();
  for (const r of running) await r.close();
});

describe('fleet over HTTPS', () => {
  it('200 concurrent agents complete the rollout in order', async () => {
    const plan = makePlan({ controlPlanes: 3, loadBalancers: 2, workers: 195, workerParallelism: 50 });
    const store = new JournalStore(tempDir('ks-fleet-'));
    await store.open();
    const coordinator = await startCoordinator(makeInputs(plan), {
      store,
      kubernetes: new FakeKubernetes(),
      listen: { host: '127.0.0.1', port: 0 },
      logger: false,
    });
    running.push(coordinator);
    const dispatcher = new Agent({ connect: { ca: createTestTls().ca }, connections: 400, keepAliveTimeout: 30_000 });
    dispatchers.push(dispatcher);
    const tracker = new RolloutTracker();
    const deadline = Date.now() + 25_000;
    const agents = plan.hosts.map(
      (h, i) =>
        new SimAgent(createAgent(h.name, i), {
          baseUrl: () => coordinator.url,
          dispatcher,
          tracker,
          deadline,
          workMs: () => Math.random() * 5,
        }),
    );
    expect(agents).toHaveLength(200);
    const started = Date.now();
    await Promise.all(agents.map((a) => a.run()));
    const elapsed = Date.now() - started;
    expect(tracker.violations).toEqual([]);
    expect(tracker.initStarted).toBe(1);
    expect(tracker.initSucceeded).toBe(1);
    expect(tracker.maxControlPlaneJoins).toBe(1);
    expect(agents.every((a) => a.done)).toBe(true);
    const status = await request(`${coordinator.url}/v1/status`, { dispatcher, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    const body = (await status.body.json()) as { done: boolean; counts: { done: number } };
    expect(body.done).toBe(true);
    expect(body.counts.done).toBe(200);
    // Group commit: far fewer fsyncs than commits.
    const stats = store.getStats();
    expect(stats.syncs).toBeLessThan(stats.commits);
    console.log(`200 agents: ${elapsed} ms, ${tracker.received} steps, ${stats.commits} commits in ${stats.syncs} fsyncs`);
  });

  it('a step reaches its waiting long-poll within milliseconds of the report that opened its gate', async () => {
    const plan = makePlan({ workers: 0 });
    const store = new JournalStore(tempDir('ks-latency-'));
    await store.open();
    const coordinator = await startCoordinator(makeInputs(plan), {
      store,
      listen: { host: '127.0.0.1', port: 0 },
      logger: false,
    });
    running.push(coordinator);
    const dispatcher = new Agent({ connect: { ca: createTestTls().ca }, connections: 16 });
    dispatchers.push(dispatcher);
    const call = async (agent: ReturnType<typeof createAgent>, method: 'GET' | 'POST', path: string, body?: unknown) => {
      const payload = body === undefined ? '' : JSON.stringify(body);
      const headers =
        path === '/v1/enroll' ? { 'content-type': 'application/json' } : signedHeaders(agent, method, path, payload, Date.now());
      const res = await request(`${coordinator.url}${path}`, { method, dispatcher, headers, ...(payload ? { body: payload } : {}) });
      const text = await res.body.text();
      return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
    };
    const [lb1, lb2, cp1] = ['lb1', 'lb2', 'cp1'].map((h, i) => createAgent(h, i));
    for (const a of [lb1!, lb2!, cp1!]) expect((await call(a, 'POST', '/v1/enroll', enrollBody(a))).status).toBe(200);
    const checks = [];
    for (const lb of [lb1!, lb2!]) checks.push((await call(lb, 'GET', '/v1/next?wait=0')).json.step);
    const report = (lb: ReturnType<typeof createAgent>, step: { id: string; attempt: number }) =>
      call(lb, 'POST', '/v1/report', {
        stepId: step.id,
        attempt: step.attempt,
        outcome: 'succeeded',
        logTail: '',
        startedAt: 0,
        results: {},
      });
    await report(lb1!, checks[0]);
    const samples: number[] = [];
    const polling = call(cp1!, 'GET', '/v1/next?wait=10000').then((r) => {
      samples.push(performance.now());
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    const sent = performance.now();
    await report(lb2!, checks[1]);
    const answer = await polling;
    expect(answer.json.step.kind).toBe('kubeadm-init');
    const latency = samples[0]! - sent;
    console.log(
      `gate open → step at the agent: ${latency.toFixed(1)} ms (report + journal fsync of the report and of the audit record + TLS)`,
    );
    expect(latency).toBeLessThan(250);
  });

  it('refuses plain HTTP on the API port', async () => {
    const plan = makePlan();
    const store = new JournalStore(tempDir('ks-plain-'));
    await store.open();
    const coordinator = await startCoordinator(makeInputs(plan), {
      store,
      listen: { host: '127.0.0.1', port: 0 },
      logger: false,
    });
    running.push(coordinator);
    const plainUrl = coordinator.url.replace('https://', 'http://');
    let answered: number | undefined;
    try {
      const res = await request(`${plainUrl}/v1/status`, { headersTimeout: 3000, bodyTimeout: 3000 });
      answered = res.statusCode;
      await res.body.text();
    } catch {
      answered = undefined;
    }
    // Either the TLS listener drops the connection or answers 400; it never serves the API.
    expect(answered === undefined || answered === 400).toBe(true);
  });
});
