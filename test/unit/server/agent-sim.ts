/**
 * Simulated agents over real HTTPS (undici, coordinator CA pinned, signed requests) and a tracker
 * that checks rollout invariants as the agents see them: one successful init, control-plane joins
 * never overlapping, no worker join before init succeeded, nothing handed out again after its
 * success was acknowledged. Network errors (a killed coordinator) are retried, bounded in time.
 * Given several coordinator replicas, an agent moves on a 503 or a connection error to the leader
 * the 503 names or else to the next replica, as an agent behind a VIP would end up at the leader.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Agent, request } from 'undici';
import { expect } from 'vitest';
import type { EnrollResponse, NextResponse, ReleasedStep, StepResults } from '../../../protocol/index.ts';
import { type AgentIdentity, createAgent, enrollBody, signedHeaders } from './support.ts';

export class RolloutTracker {
  initSucceeded = 0;
  initStarted = 0;
  activeControlPlaneJoins = new Set<string>();
  maxControlPlaneJoins = 0;
  violations: string[] = [];
  /** Step ids whose success report the coordinator acknowledged. */
  acknowledgedDone = new Set<string>();
  received = 0;
  /** step@attempt → hash of what was handed out: a re-delivery must carry the same secrets. */
  private readonly contents = new Map<string, string>();

  onStep(step: ReleasedStep): void {
    this.received++;
    const key = `${step.id}@${step.attempt}`;
    const hash = createHash('sha256')
      .update(JSON.stringify([step.files, step.params]))
      .digest('hex');
    const before = this.contents.get(key);
    if (before && before !== hash) this.violations.push(`${key} re-delivered with different content (a secret minted twice?)`);
    this.contents.set(key, hash);
    if (this.acknowledgedDone.has(step.id))
      this.violations.push(`${step.id} handed out again (attempt ${step.attempt}) after it was reported done`);
    if (step.kind === 'kubeadm-init') this.initStarted++;
    if (step.kind === 'kubeadm-join-worker' && this.initSucceeded === 0) this.violations.push(`${step.id} released before init succeeded`);
    if (step.kind === 'kubeadm-join-control-plane') {
      if (this.initSucceeded === 0) this.violations.push(`${step.id} released before init succeeded`);
      this.activeControlPlaneJoins.add(step.host);
      this.maxControlPlaneJoins = Math.max(this.maxControlPlaneJoins, this.activeControlPlaneJoins.size);
      if (this.activeControlPlaneJoins.size > 1)
        this.violations.push(`control-plane joins overlap: ${[...this.activeControlPlaneJoins].join(', ')}`);
    }
  }

  /** Called just before the success report is sent: the coordinator cannot release followers earlier. */
  beforeSuccess(step: ReleasedStep): void {
    if (step.kind === 'kubeadm-init') this.initSucceeded++;
    if (step.kind === 'kubeadm-join-control-plane') this.activeControlPlaneJoins.delete(step.host);
  }

  acknowledged(step: ReleasedStep): void {
    this.acknowledgedDone.add(step.id);
  }
}

export interface SimAgentOptions {
  /** Where the coordinator is (one of `baseUrl` and `replicas` is required). */
  baseUrl?: () => string;
  /**
   * The URLs of coordinator replicas on one store: the agent sends to one and, on a 503 or a
   * connection error, moves to the replica the 503 names as leader (`x-kubeseed-leader`, when it
   * is one of these) or else to the next one.
   */
  replicas?: readonly string[];
  dispatcher: Agent;
  tracker: RolloutTracker;
  /** Simulated work per step (ms). */
  workMs?: () => number;
  waitMs?: number;
  deadline: number;
}

const RESULTS: StepResults = {
  etcdVoter: true,
  nodeRegistered: true,
  apiServerReady: true,
  etcdHealthy: true,
  vipHeld: true,
  portOpen: true,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SimAgent {
  done = false;
  steps: string[] = [];
  networkErrors = 0;
  /** Moves from one replica to another (only with `replicas`). */
  failovers = 0;
  private replica = 0;

  constructor(
    readonly identity: AgentIdentity,
    private readonly options: SimAgentOptions,
  ) {
    if (!options.baseUrl && !options.replicas?.length) throw new Error('SimAgent needs baseUrl or replicas');
  }

  private url(): string {
    const replicas = this.options.replicas;
    return replicas?.length ? replicas[this.replica]! : this.options.baseUrl!();
  }

  /** With replicas: to the leader a standby named, else to the next replica. */
  private moveOn(leader: unknown): void {
    const replicas = this.options.replicas;
    if (!replicas?.length) return;
    const named = typeof leader === 'string' ? replicas.indexOf(leader) : -1;
    this.replica = named >= 0 && named !== this.replica ? named : (this.replica + 1) % replicas.length;
    this.failovers++;
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    signed = true,
  ): Promise<{ status: number; json: unknown; headers: Record<string, unknown> }> {
    for (;;) {
      if (Date.now() > this.options.deadline) throw new Error(`${this.identity.host}: deadline passed during ${method} ${path}`);
      const payload = body === undefined ? '' : JSON.stringify(body);
      const headers = signed ? signedHeaders(this.identity, method, path, payload, Date.now()) : { 'content-type': 'application/json' };
      try {
        const res = await request(`${this.url()}${path}`, {
          method,
          dispatcher: this.options.dispatcher,
          headers,
          ...(payload ? { body: payload } : {}),
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        const text = await res.body.text();
        if (res.statusCode === 503) {
          this.moveOn(res.headers['x-kubeseed-leader']);
          await sleep(50);
          continue;
        }
        return { status: res.statusCode, json: text ? JSON.parse(text) : undefined, headers: res.headers };
      } catch {
        // Connection refused/reset: the coordinator is down or restarting.
        this.networkErrors++;
        this.moveOn(undefined);
        await sleep(50 + Math.random() * 100);
      }
    }
  }

  async run(): Promise<void> {
    const enrolled = await this.send('POST', '/v1/enroll', enrollBody(this.identity), false);
    if (enrolled.status !== 200)
      throw new Error(`${this.identity.host}: enroll answered ${enrolled.status} ${JSON.stringify(enrolled.json)}`);
    const role = (enrolled.json as EnrollResponse).role;
    if (!role) throw new Error('no role');
    for (;;) {
      const res = await this.send('GET', `/v1/next?wait=${this.options.waitMs ?? 5000}`);
      if (res.status === 204) continue;
      if (res.status !== 200) throw new Error(`${this.identity.host}: next answered ${res.status} ${JSON.stringify(res.json)}`);
      const answer = res.json as NextResponse;
      if (answer.done) {
        this.done = true;
        return;
      }
      const step = answer.step!;
      this.options.tracker.onStep(step);
      this.steps.push(`${step.id}@${step.attempt}`);
      const work = this.options.workMs?.() ?? 0;
      if (work > 0) await sleep(work);
      this.options.tracker.beforeSuccess(step);
      const report = await this.send('POST', '/v1/report', {
        stepId: step.id,
        attempt: step.attempt,
        outcome: 'succeeded',
        logTail: `ran ${step.kind}`,
        startedAt: Date.now(),
        finishedAt: Date.now(),
        results: RESULTS,
      });
      if (report.status === 200) this.options.tracker.acknowledged(step);
      else if (report.status !== 409)
        throw new Error(`${this.identity.host}: report answered ${report.status} ${JSON.stringify(report.json)}`);
    }
  }
}

/**
 * One SimAgent per host against the coordinator on 127.0.0.1:`port`, all started: `run` settles
 * when every agent has ended (done or past `deadline`). Steps take 20–60 ms of simulated work.
 */
export function simulateFleet(
  hosts: readonly { name: string }[],
  options: { port: number; dispatcher: Agent; tracker: RolloutTracker; deadline: number },
): { agents: SimAgent[]; run: Promise<unknown> } {
  const agents = hosts.map(
    (h, i) =>
      new SimAgent(createAgent(h.name, i), {
        baseUrl: () => `https://127.0.0.1:${options.port}`,
        dispatcher: options.dispatcher,
        tracker: options.tracker,
        deadline: options.deadline,
        waitMs: 2000,
        workMs: () => 20 + Math.random() * 40,
      }),
  );
  const run = Promise.all(agents.map((a) => a.run()));
  run.catch(() => {});
  return { agents, run };
}

/**
 * What a finished rollout shows: no invariant broken, every agent done, `kubeadm init` handed out
 * as attempt 1 only, and the coordinator on `port` (operator token in `stateDir`) reporting done
 * with cp1 holding the succeeded init lock.
 */
export async function expectRolloutCompleted(
  agents: readonly SimAgent[],
  tracker: RolloutTracker,
  coordinator: { port: number; dispatcher: Agent; stateDir: string },
): Promise<void> {
  expect(tracker.violations).toEqual([]);
  expect(agents.every((a) => a.done)).toBe(true);
  const init = agents.find((a) => a.identity.host === 'cp1')!.steps.filter((s) => s.startsWith('cp1/kubeadm-init'));
  expect(new Set(init)).toEqual(new Set(['cp1/kubeadm-init@1']));
  const token = readFileSync(join(coordinator.stateDir, 'operator-token'), 'utf8').trim();
  const res = await request(`https://127.0.0.1:${coordinator.port}/v1/status`, {
    dispatcher: coordinator.dispatcher,
    headers: { authorization: `Bearer ${token}` },
  });
  const status = (await res.body.json()) as { done: boolean; initLock: { holder: string; succeeded: boolean } };
  expect(status.done).toBe(true);
  expect(status.initLock).toMatchObject({ holder: 'cp1', succeeded: true });
}
