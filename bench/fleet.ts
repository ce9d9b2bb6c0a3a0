/**
 * A fleet of simulated agents against the coordinator in bench/server-child.ts, shared by the
 * capacity, memory, release and coordinator-store benchmarks: `kubeseed generate` for a bench
 * cluster, a fresh copy of its coordinator state served by the child (journal or etcd store),
 * enrollment at N in flight, every host's `prepare-host` reported done, long-polls held open (the
 * agents' or the bare app's) while the server is measured, and gate openings measured from the
 * report to each waiting worker's long-poll answer. Every loop is bounded in count and time.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { NextResponse } from '../protocol/index.ts';
import type { EtcdTls } from '../server/store/etcd-client.ts';
import { type AgentIdentity, enrollBody } from '../test/unit/server/support.ts';
import { benchClusterSpec } from './cluster-spec.ts';
import { agentRequest, postJson, ROOT, runBounded, type ServerChild, sleep, startServerChild } from './harness.ts';

export const ENROLL_CONCURRENCY = 64;
/** What cp1's CNI report carries so the coordinator treats the first control plane as ready. */
const RESULTS = { etcdVoter: true, nodeRegistered: true, apiServerReady: true, etcdHealthy: true };

export interface Generated {
  out: string;
  credentials: Record<string, string>;
  hosts: string[];
}

/** `kubeseed generate` (the real CLI, fresh process) for 3 control planes + `workers`. */
export function generate(work: string, name: string, workers: number, workerParallelism: number): Generated {
  const spec = join(work, `${name}.yaml`);
  const out = join(work, name);
  writeFileSync(spec, benchClusterSpec({ controlPlanes: 3, workers, workerParallelism }));
  execFileSync(process.execPath, [join(ROOT, 'bin/kubeseed.mjs'), 'generate', spec, '--out', out], { stdio: 'ignore' });
  const file = JSON.parse(readFileSync(join(out, 'credentials', 'enrollment.json'), 'utf8')) as { hosts: Record<string, string> };
  return { out, credentials: file.hosts, hosts: Object.keys(file.hosts) };
}

/** Where the served copy keeps its records: the journal in its state directory (default) or an etcd prefix. */
export interface StoreChoice {
  store?: string;
  etcd?: EtcdTls;
}

/** A fresh copy of the generated coordinator state (empty store) served by the child. */
export async function serveCopy(
  server: ServerChild,
  generated: Generated,
  work: string,
  tag: string,
  store: StoreChoice = {},
): Promise<{ url: string; ca: string }> {
  const stateDir = join(work, `state-${tag}`);
  cpSync(join(generated.out, 'coordinator'), stateDir, { recursive: true });
  const answer = await server.send({ cmd: 'state', stateDir, logFile: join(work, `coordinator-${tag}.log`), ...store });
  return { url: answer.url!, ca: answer.ca! };
}

function establishedTo(url: string): number {
  const port = new URL(url).port;
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).length;
}

/** Quiet time after the fleet's connections are up, before a reading or a gate opening. */
export const SETTLE_MS = 1500;

/** Waits until the server holds `count` connections, then a settle time; bounded. */
export async function waitForConnections(url: string, count: number, timeoutMs: number, settleMs = SETTLE_MS): Promise<number> {
  const until = Date.now() + timeoutMs;
  let n = 0;
  while (Date.now() < until) {
    n = establishedTo(url);
    if (n >= count) break;
    await sleep(200);
  }
  await sleep(settleMs);
  return n;
}

/**
 * Waits until the server child holds `count` requests waiting (its own count: the coordinator's
 * waiting long-polls, the bare app's held GETs), polling every 200 ms for at most `timeoutMs`. An
 * established connection is not yet a held request, and a gate opened before every request is held
 * answers fewer than it measures (or, on the bare apps, leaves the late ones waiting). Throws naming
 * how many were held.
 */
export async function untilHeld(server: ServerChild, count: number, what: string, timeoutMs = 30_000): Promise<void> {
  let held = 0;
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(200)) {
    held = ((await server.send({ cmd: 'waiting' })) as { waiting?: number }).waiting ?? 0;
    if (held >= count) return;
  }
  throw new Error(`only ${held} of ${count} ${what} were waiting on the server: no reading taken; re-run on a quieter machine`);
}

/** Enrolls every identity with its generated credential, `inFlight` at a time; returns enrollments/s and latencies. */
export async function enrollAll(
  dispatcher: Agent,
  url: string,
  identities: AgentIdentity[],
  credentials: Record<string, string>,
  inFlight = ENROLL_CONCURRENCY,
): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  const started = performance.now();
  await runBounded(identities.length, inFlight, Date.now() + 300_000, async (i) => {
    const id = identities[i]!;
    const t = performance.now();
    const res = await postJson(dispatcher, `${url}/v1/enroll`, enrollBody(id, { credential: credentials[id.host]! }));
    latencies.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`enroll ${id.host}: ${res.status} ${JSON.stringify(res.json)}`);
  });
  return { perSecond: identities.length / ((performance.now() - started) / 1000), latencies };
}

/**
 * Every host of the bench spec (cloud-init) starts with prepare-host (ADR 0018): each reports it done
 * (not timed), so the waits measured afterwards are the rollout gates, not a pending preparation.
 */
export async function prepareAll(dispatcher: Agent, url: string, identities: AgentIdentity[]): Promise<void> {
  await runBounded(identities.length, ENROLL_CONCURRENCY, Date.now() + 600_000, async (i) => {
    const id = identities[i]!;
    const res = await agentRequest(dispatcher, url, id, 'GET', '/v1/next?wait=10000');
    const step = (res.json as NextResponse | undefined)?.step;
    if (step?.kind !== 'prepare-host') throw new Error(`${id.host}: expected prepare-host, got ${res.status} ${JSON.stringify(res.json)}`);
    const at = Date.now();
    const report = await agentRequest(dispatcher, url, id, 'POST', '/v1/report', {
      stepId: step.id,
      attempt: step.attempt,
      outcome: 'succeeded',
      logTail: 'bench',
      startedAt: at,
      finishedAt: at,
    });
    if (report.status !== 200) throw new Error(`${id.host}: prepare-host report ${report.status}`);
  });
}

export interface GateRelease {
  /** Per waiting worker: report sent → its long-poll answered with its join step (ms). */
  latencies: number[];
  /** Report sent → the report's own success acknowledged (ms). */
  ackMs: number;
  /** Bytes of the first join answer's JSON body (the raw floor in bench/release.ts writes as many). */
  answerBytes: number;
}

/**
 * On an enrolled and prepared fleet served by `server` (first identity cp1, the rest waiting): cp1
 * runs `kubeadm init` and reports it, then, once the server holds every other agent's `GET /v1/next`
 * waiting (untilHeld), reports CNI success — the gate that releases every worker's join (up to
 * `workerParallelism`). `beforeOpen` runs just before that report is sent (e.g. to start a
 * profiler). Throws unless `expected` workers got their step within 30 s.
 */
export async function openWorkerGate(
  server: ServerChild,
  dispatcher: Agent,
  url: string,
  identities: AgentIdentity[],
  expected: number,
  beforeOpen: () => Promise<void> = async () => {},
): Promise<GateRelease & { polls: Promise<unknown>[] }> {
  const [cp1, ...others] = identities;
  let t0 = Number.POSITIVE_INFINITY;
  let ackMs = Number.NaN;
  let answerBytes = 0;
  const latencies: number[] = [];
  const polls = others.map((id) =>
    agentRequest(dispatcher, url, id, 'GET', '/v1/next?wait=60000', undefined, 90_000).then((res) => {
      if (res.status !== 200 || (res.json as NextResponse).step?.kind !== 'kubeadm-join-worker') return;
      latencies.push(performance.now() - t0);
      answerBytes ||= Buffer.byteLength(JSON.stringify(res.json));
    }),
  );
  const runStep = async (expect: string, openGate: boolean) => {
    const res = await agentRequest(dispatcher, url, cp1!, 'GET', '/v1/next?wait=10000');
    const step = (res.json as NextResponse | undefined)?.step;
    if (!step || step.kind !== expect) throw new Error(`cp1 expected ${expect}, got ${res.status} ${JSON.stringify(res.json)}`);
    if (openGate) {
      // Every worker's poll held implies its connection: the server's count is the one wait needed.
      await untilHeld(server, others.length, 'worker long-polls');
      await sleep(SETTLE_MS);
      await beforeOpen();
      t0 = performance.now();
    }
    const report = await agentRequest(dispatcher, url, cp1!, 'POST', '/v1/report', {
      stepId: step.id,
      attempt: step.attempt,
      outcome: 'succeeded',
      logTail: 'bench',
      startedAt: Date.now(),
      finishedAt: Date.now(),
      results: RESULTS,
    });
    if (openGate) ackMs = performance.now() - t0;
    if (report.status !== 200) throw new Error(`cp1 report: ${report.status}`);
  };
  await runStep('kubeadm-init', false);
  await runStep('cni-apply', true);
  const until = Date.now() + 30_000;
  while (latencies.length < expected && Date.now() < until) await sleep(5);
  if (latencies.length < expected)
    throw new Error(`only ${latencies.length} of ${expected} workers got their join within 30 s of the gate opening`);
  return { latencies, ackMs, answerBytes, polls };
}

export async function closeQuietly(dispatcher: Agent, pending: Promise<unknown>[]): Promise<void> {
  await Promise.race([Promise.allSettled(pending), sleep(10_000)]);
  await dispatcher.destroy().catch(() => {});
}

/** A client for a fleet of `connections` held requests over TLS to the server with CA `ca`. */
export function fleetClient(ca: string, connections: number): Agent {
  return new Agent({ connect: { ca, timeout: 60_000 }, connections, keepAliveTimeout: 120_000 });
}

/**
 * A fresh served copy of `generated` with every identity enrolled and its `prepare-host` reported;
 * `idle` runs before the first enrollment (the server's idle reading). Returns the client (room for
 * every host to hold a long-poll) and the enrollment numbers.
 */
export async function enrolledFleet(
  server: ServerChild,
  generated: Generated,
  identities: AgentIdentity[],
  work: string,
  tag: string,
  idle: () => Promise<void> = async () => {},
): Promise<{ url: string; dispatcher: Agent; enroll: { perSecond: number; latencies: number[] } }> {
  const { url, ca } = await serveCopy(server, generated, work, tag);
  await idle();
  const dispatcher = fleetClient(ca, identities.length + 100);
  const enroll = await enrollAll(dispatcher, url, identities, generated.credentials);
  await prepareAll(dispatcher, url, identities);
  return { url, dispatcher, enroll };
}

/** Long-polls to hold open: the agents' signed `GET /v1/next` (kubeseed), or as many `GET /wait` on the bare app. */
export type Waiting = { agents: AgentIdentity[] } | { bare: number };

/**
 * Row (a) and its ceiling: holds `waiting` long-polls open on the server at `url` (60 s waits), runs
 * `measure` once the server holds every connection (given how many it holds) and says every request
 * is waiting (else it throws: a reading with fewer is not row (a)'s), then stops the server (which
 * answers them all) and closes the client. Returns what `measure` returned.
 */
export async function holdWaiting<T>(
  server: ServerChild,
  url: string,
  dispatcher: Agent,
  waiting: Waiting,
  measure: (connected: number) => Promise<T>,
): Promise<T> {
  const pending =
    'agents' in waiting
      ? waiting.agents.map((id) =>
          agentRequest(dispatcher, url, id, 'GET', '/v1/next?wait=60000', undefined, 90_000).catch((e: unknown) => e),
        )
      : Array.from({ length: waiting.bare }, () =>
          request(`${url}/wait`, { dispatcher, headersTimeout: 90_000, bodyTimeout: 90_000 })
            .then((r) => r.body.text())
            .catch((e: unknown) => e),
        );
  try {
    const connected = await waitForConnections(url, pending.length, 60_000);
    // A reading "with N waiting" must hold N: a poll that timed out or failed is not waiting.
    await untilHeld(server, pending.length, `requests (${connected} connections)`);
    return await measure(connected);
  } finally {
    await server.send({ cmd: 'stop' });
    await closeQuietly(dispatcher, pending);
  }
}

/**
 * Enrolls and prepares `generated`'s fleet once and keeps that state in `work/<tag>-enrolled`, for
 * release runs to restart on copies of it (a restart resumes the rollout). With `profileFile`, the
 * enrollment runs under the server's CPU profiler. Returns the directory and the enrollment rate.
 */
export async function enrolledState(
  generated: Generated,
  identities: AgentIdentity[],
  work: string,
  tag: string,
  profileFile?: string,
): Promise<{ dir: string; perSecond: number }> {
  const dir = join(work, `${tag}-enrolled`);
  const server = await startServerChild();
  try {
    const { url, ca } = await serveCopy(server, generated, work, `${tag}-enroll`);
    const dispatcher = new Agent({ connect: { ca }, connections: ENROLL_CONCURRENCY + 8 });
    if (profileFile) await server.send({ cmd: 'profile-start' });
    const { perSecond } = await enrollAll(dispatcher, url, identities, generated.credentials);
    if (profileFile) await server.send({ cmd: 'profile-stop', file: profileFile });
    await prepareAll(dispatcher, url, identities);
    await server.send({ cmd: 'stop' });
    await dispatcher.destroy();
    cpSync(join(work, `state-${tag}-enroll`), dir, { recursive: true });
    return { dir, perSecond };
  } finally {
    await server.exit();
  }
}

/** What a row (b) measurement runs on: the enrolled state, a work directory, the agents and the gate's size. */
export interface ReleaseSetup {
  enrolledDir: string;
  work: string;
  identities: AgentIdentity[];
  workers: number;
  runs: number;
  profileFile: string;
}

/**
 * Row (b): `runs` gate openings, each by a coordinator restarted on a fresh copy of `enrolledDir`
 * (enrolledState): one report releases the joins of `workers` waiting workers. Returns each run's
 * latencies and acknowledgement; one run more under the CPU profiler writes `profileFile` (not
 * returned). `beforeRun` runs before each counted run and `afterRun` after it (release.ts measures
 * the floors there, so all see the same machine).
 */
export async function measureRelease(
  { enrolledDir, work, identities, workers, runs, profileFile }: ReleaseSetup,
  beforeRun: () => Promise<void> = async () => {},
  afterRun: (gate: GateRelease) => Promise<void> = async () => {},
): Promise<GateRelease[]> {
  const out: GateRelease[] = [];
  for (let r = 0; r <= runs; r++) {
    const profiled = r === runs;
    if (!profiled) await beforeRun();
    const server = await startServerChild();
    try {
      const stateDir = join(work, `state-release${r}`);
      cpSync(enrolledDir, stateDir, { recursive: true });
      const answer = await server.send({ cmd: 'state', stateDir, logFile: join(work, `coordinator-release${r}.log`) });
      const dispatcher = fleetClient(answer.ca!, identities.length + 50);
      const gate = await openWorkerGate(server, dispatcher, answer.url!, identities, workers, async () => {
        if (profiled) await server.send({ cmd: 'profile-start' });
      });
      if (profiled) await server.send({ cmd: 'profile-stop', file: profileFile });
      else out.push({ latencies: gate.latencies, ackMs: gate.ackMs, answerBytes: gate.answerBytes });
      await server.send({ cmd: 'stop' });
      await closeQuietly(dispatcher, gate.polls);
    } finally {
      await server.exit();
    }
    if (!profiled) await afterRun(out[out.length - 1]!);
  }
  return out;
}
