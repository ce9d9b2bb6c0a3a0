/**
 * A coordinator with the status page and a simulated fleet, for the status CLI, browser and
 * terminal tests and scripts/screenshots.ts. The app is the real one (buildApp + statusPagePlugin
 * over a MemoryStore, the server tests' fixture plan); agents are simulated by signed requests
 * through `app.inject()`, so every change goes through the real enrollment, scheduler, report and
 * event paths. `listen: true` also opens a real HTTPS listener on 127.0.0.1 (port 0) for browsers
 * and the CLI. Time is the real clock: elapsed times on the page are real.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ClusterPlan } from '../../../generator/plan/types.ts';
import type { NextResponse, ReleasedStep, StepResults } from '../../../protocol/index.ts';
import { buildApp } from '../../../server/app.ts';
import type { TrackedCertificate } from '../../../server/certificates.ts';
import type { Clock, RolloutStatus } from '../../../server/coordinator.ts';
import type { Replica } from '../../../server/replica.ts';
import type { SchedulerConfig } from '../../../server/scheduler.ts';
import { statusPagePlugin } from '../../../server/status-page/index.ts';
import { MemoryStore, type Store } from '../../../server/store/index.ts';
import { type FixtureOptions, makePlan } from '../server/fixtures.ts';
import {
  type AgentIdentity,
  createAgent,
  createTestTls,
  credentialOf,
  enrollBody,
  FakeKubernetes,
  makeInputs,
  OPERATOR_TOKEN,
  signedHeaders,
} from '../server/support.ts';

export { credentialOf, OPERATOR_TOKEN };

export interface SimulationOptions extends FixtureOptions {
  listen?: boolean;
  plan?: ClusterPlan;
  /** The coordinator's clock (e.g. a FakeClock that scripts advance by minutes); agents sign with it too. */
  clock?: Clock;
  scheduler?: Partial<SchedulerConfig>;
  /** Certificates and their expiry, as `kubeseed serve` reads them from the state directory. */
  certificates?: TrackedCertificate[];
  /** This coordinator among replicas (default: the sole one, leading). */
  replica?: Replica;
  /** The coordinator's store (default a fresh MemoryStore). */
  store?: Store;
}

export interface ReportOptions {
  logTail?: string;
  reason?: string;
  permanent?: boolean;
  results?: StepResults;
}

/** What a stacked control-plane join must report for its gate to open (see scheduler joinGateMet). */
const JOIN_RESULTS: StepResults = { etcdVoter: true, nodeRegistered: true, apiServerReady: true };

export class SimulatedRollout {
  readonly agents = new Map<string, AgentIdentity>();
  /** `https://127.0.0.1:PORT` when listening. */
  url = '';

  constructor(
    readonly app: FastifyInstance,
    readonly plan: ClusterPlan,
    readonly clock: Clock,
  ) {}

  get hosts(): string[] {
    return this.plan.hosts.map((h) => h.name);
  }

  private agent(host: string): AgentIdentity {
    let agent = this.agents.get(host);
    if (!agent) {
      agent = createAgent(host, this.agents.size);
      this.agents.set(host, agent);
    }
    return agent;
  }

  private async signed(host: string, method: 'GET' | 'POST', url: string, body?: unknown) {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const response = await this.app.inject({
      method,
      url,
      headers: signedHeaders(this.agent(host), method, url, payload, this.clock.now()),
      ...(payload ? { payload } : {}),
    });
    if (response.statusCode >= 400) throw new Error(`${method} ${url} for ${host}: ${response.statusCode} ${response.body}`);
    return response;
  }

  async enroll(...hosts: string[]): Promise<void> {
    for (const host of hosts) {
      const response = await this.app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(this.agent(host)) });
      if (response.statusCode !== 200) throw new Error(`enroll ${host}: ${response.statusCode} ${response.body}`);
    }
  }

  /** A clone of `host`'s machine presents its credential: refused, and a security event. */
  async enrollClone(host: string): Promise<number> {
    const clone = createAgent(host, 900 + this.agents.size);
    const response = await this.app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(clone) });
    return response.statusCode;
  }

  /** The host's released step, or null (no long-poll: wait=0). */
  async next(host: string): Promise<ReleasedStep | null> {
    const response = await this.signed(host, 'GET', '/v1/next?wait=0');
    if (response.statusCode === 204) return null;
    return (response.json() as NextResponse).step;
  }

  async report(host: string, step: ReleasedStep, outcome: 'succeeded' | 'failed' | 'running', options: ReportOptions = {}): Promise<void> {
    const results = options.results ?? (outcome === 'succeeded' ? JOIN_RESULTS : undefined);
    await this.signed(host, 'POST', '/v1/report', {
      stepId: step.id,
      attempt: step.attempt,
      outcome,
      logTail: options.logTail ?? `${step.kind} ${outcome}`,
      startedAt: this.clock.now(),
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
      ...(options.permanent !== undefined ? { permanent: options.permanent } : {}),
      ...(results ? { results } : {}),
    });
  }

  async heartbeat(host: string, phase: string, message?: string): Promise<void> {
    await this.signed(host, 'POST', '/v1/heartbeat', { phase, clock: this.clock.now(), ...(message ? { message } : {}) });
  }

  /** Runs the step the host has now (if any) to `outcome`; returns it. */
  async runNext(host: string, outcome: 'succeeded' | 'failed' = 'succeeded', options: ReportOptions = {}): Promise<ReleasedStep | null> {
    const step = await this.next(host);
    if (step) await this.report(host, step, outcome, options);
    return step;
  }

  /** One round: every given host's released step succeeds. Returns the ids of the finished steps. */
  async succeedReleased(hosts: string[] = this.hosts): Promise<string[]> {
    const finished: string[] = [];
    for (const host of hosts) {
      if (!this.agents.has(host)) continue;
      const step = await this.runNext(host);
      if (step) finished.push(step.id);
    }
    return finished;
  }

  /** Rounds of `succeedReleased` until nothing moves (bounded). */
  async runToEnd(hosts: string[] = this.hosts, maxRounds = 50): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      if ((await this.succeedReleased(hosts)).length === 0) return;
    }
    throw new Error(`rollout did not settle in ${maxRounds} rounds`);
  }

  status(): RolloutStatus {
    return this.app.coordinator.status();
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

export async function startSimulation(options: SimulationOptions = {}): Promise<SimulatedRollout> {
  const plan = options.plan ?? makePlan({ workers: 3, ...options });
  const clock = options.clock ?? { now: () => Date.now() };
  const app = buildApp(makeInputs(plan, { clock, ...(options.certificates ? { certificates: options.certificates } : {}) }), {
    store: options.store ?? new MemoryStore(),
    kubernetes: new FakeKubernetes(),
    defaultWaitMs: 0,
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    ...(options.replica ? { replica: options.replica } : {}),
  });
  await app.register(statusPagePlugin);
  const sim = new SimulatedRollout(app, plan, clock);
  if (options.listen) {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('no listening address');
    sim.url = `https://127.0.0.1:${address.port}`;
  } else {
    await app.ready();
  }
  return sim;
}

/**
 * A state directory as `kubeseed generate` + `kubeseed serve` leave it, reduced to what
 * `kubeseed status` reads: state.json (coordinatorUrl), tls/ca.crt, operator-token.
 */
export function writeStateDir(url: string, options: { token?: string | null; ca?: string } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ks-status-state-'));
  mkdirSync(join(dir, 'tls'), { mode: 0o700 });
  writeFileSync(join(dir, 'tls', 'ca.crt'), options.ca ?? createTestTls().ca, { mode: 0o600 });
  writeFileSync(
    join(dir, 'state.json'),
    `${JSON.stringify({ format: 'kubeseed-coordinator-state', version: 1, cluster: { name: 'test', coordinatorUrl: url } }, null, 2)}\n`,
    { mode: 0o600 },
  );
  const token = options.token === undefined ? OPERATOR_TOKEN : options.token;
  if (token !== null) writeFileSync(join(dir, 'operator-token'), `${token}\n`, { mode: 0o600 });
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
