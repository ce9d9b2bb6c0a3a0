/**
 * 200 simulated agents against a coordinator listening on 127.0.0.1 over real HTTPS, with the
 * durable journal store: exactly one successful init, control-plane joins never overlap, no worker
 * join before init succeeded, every host done. Also: the listener refuses plain HTTP.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryAuditLog } from '../../../server/audit-log.ts';
import { type RunningCoordinator, startCoordinator } from '../../../server/serve.ts';
import { JournalStore } from '../../../server/store/index.ts';
import { RolloutTracker, SimAgent } from './agent-sim.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, createTestTls, FakeKubernetes, makeInputs, OPERATOR_TOKEN } from './support.ts';

const running: RunningCoordinator[] = [];
const dispatchers: Agent[] = [];
afterAll(async () => {
  for (const d of dispatchers) await d.close();
  for (const r of running) await r.close();
});

describe('fleet over HTTPS', () => {
  it('200 concurrent agents complete the rollout in order', async () => {
    const plan = makePlan({ controlPlanes: 3, loadBalancers: 2, workers: 195, workerParallelism: 50 });
    const store = new JournalStore(mkdtempSync(join(tmpdir(), 'ks-fleet-')));
    await store.open();
    const audit = new MemoryAuditLog();
    const coordinator = await startCoordinator(makeInputs(plan), {
      store,
      audit,
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

  it('refuses plain HTTP on the API port', async () => {
    const plan = makePlan();
    const store = new JournalStore(mkdtempSync(join(tmpdir(), 'ks-plain-')));
    await store.open();
    const coordinator = await startCoordinator(makeInputs(plan), {
      store,
      audit: new MemoryAuditLog(),
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
