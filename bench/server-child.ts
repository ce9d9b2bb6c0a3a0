/**
 * The server side of the rollout and capacity benchmarks, in its own process so its event loop,
 * CPU time and RSS are not shared with the simulated agents. Driven over IPC by the parent:
 *
 *   {cmd: 'plan', specYaml, stateDir, logFile}  the real planner (parseSpec + planRollout) and the
 *       real buildStep with the test secrets and TLS identity; durable JournalStore + FileAuditLog in
 *       stateDir (group commit, fsync) — what `kubeseed serve` runs, minus `kubeseed generate`.
 *       Credentials: `credentialOf(host)` from test/unit/server/support.ts.
 *   {cmd: 'state', stateDir, logFile}  `runServe` on a state directory written by `kubeseed generate`
 *       (loadCoordinatorState: hashed credentials, real PKI), as `kubeseed serve --state` does, with
 *       the API-server client replaced by an offline stub (benchmarks talk to loopback only).
 *       Optional `store` (a store URL, server/store/open.ts: `etcd://127.0.0.1:PORT?prefix=P`) and
 *       `etcd` (CA, client certificate and key, PEM) put the records in etcd instead of the journal;
 *       the one replica then elects itself leader (ADR 0036) before it serves.
 *   {cmd: 'hello'}  a bare Fastify app over TLS with the same certificate: GET/POST /hello, and
 *       GET /wait held until POST /open (the ceiling for long-polls and release fan-out).
 *   {cmd: 'raw', bytes}  node:https with no framework: GET /wait held; POST /open writes one
 *       pre-serialised HTTP/1.1 response with a `bytes`-long JSON body straight to every held
 *       socket in one synchronous loop (no per-response header building, serialisation, hooks or
 *       promises) and answers {released, loopMs}: the floor of any Node server's fan-out here.
 *       `via: 'http'`: the same body through node:http's own response instead (writeHead + end per
 *       held request, still no framework): what HTTP/1.1 bookkeeping costs any server built on it.
 *       Its loopMs is a lower bound: node:http corks each response and writes it on the next tick.
 *   {cmd: 'gc'}  a full garbage collection (the parent starts the child with --expose-gc).
 *   {cmd: 'waiting'}  {waiting}: requests held unanswered now (the coordinator's waiting long-polls, the
 *       bare app's held GETs), so a reading "with N waiting" is checked, not assumed from connections.
 *   {cmd: 'heap'}  process.memoryUsage() and V8's heap spaces (used / committed), to tell live data from retained pages.
 *   {cmd: 'heap-snapshot', file}  a V8 heap snapshot of the server.
 *   {cmd: 'profile-start'} / {cmd: 'profile-stop', file}  V8 CPU profile of the phase in between.
 *   {cmd: 'stop'}   closes whatever runs; {cmd: 'exit'} exits (writes a --cpu-prof profile).
 *
 * Every answer is {ok, url?, ca?, error?}. Listens on 127.0.0.1 only.
 * Run by bench/rollout.ts, bench/capacity.ts and bench/coordinator-store.ts through bench/harness.ts
 * (`node --import ./bench/ts-register.mjs bench/server-child.ts`: compiled as the CLI bundle is).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildStep } from '../generator/plan/build-step.ts';
import { planRollout } from '../generator/plan/plan.ts';
import { parseSpec } from '../generator/spec/parse.ts';
import type { BootstrapTokenSpec, KubernetesApi } from '../server/kubernetes-api.ts';
import { loadCoordinatorState } from '../server/load-state.ts';
import { runServe, startCoordinator } from '../server/serve.ts';
import type { EtcdTls } from '../server/store/etcd-client.ts';
import { openStore } from '../server/store/index.ts';
import { createTestTls, makeInputs } from '../test/unit/server/support.ts';

type Command =
  | { cmd: 'plan'; specYaml: string; stateDir: string; logFile: string }
  | { cmd: 'state'; stateDir: string; logFile: string; store?: string; etcd?: EtcdTls }
  | { cmd: 'hello' }
  | { cmd: 'raw'; bytes: number; via?: 'socket' | 'http' }
  | { cmd: 'gc' }
  | { cmd: 'waiting' }
  | { cmd: 'heap' }
  | { cmd: 'heap-snapshot'; file: string }
  | { cmd: 'profile-start' }
  | { cmd: 'profile-stop'; file: string }
  | { cmd: 'stop' }
  | { cmd: 'exit' };

let session: Session | undefined;
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) =>
    session!.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))),
  );

/** Benchmarks never reach an API server: token renewal and Node deletion fail visibly instead. */
const offlineKubernetes: KubernetesApi = {
  async createBootstrapToken(_token: BootstrapTokenSpec): Promise<void> {
    throw new Error('offline benchmark: no API server');
  },
  async deleteNode(): Promise<void> {
    throw new Error('offline benchmark: no API server');
  },
};

let closeCurrent: (() => Promise<void>) | undefined;
/** Requests the current server holds unanswered: the coordinator's waiting long-polls, the bare app's held GETs. */
let countWaiting: (() => number) | undefined;

async function startPlan(command: Extract<Command, { cmd: 'plan' }>) {
  const { spec } = parseSpec(command.specYaml, 'bench.yaml');
  const plan = planRollout(spec);
  await mkdir(command.stateDir, { recursive: true });
  const store = await openStore(`journal:${join(command.stateDir, 'store')}`);
  const running = await startCoordinator(makeInputs(plan, { buildStep }), {
    store,
    kubernetes: offlineKubernetes,
    listen: { host: '127.0.0.1', port: 0 },
    logger: { level: 'info', file: command.logFile },
  });
  closeCurrent = async () => {
    await running.close();
    await store.close();
  };
  countWaiting = () => running.app.coordinator.waitingPolls();
  return { url: running.url, ca: createTestTls().ca };
}

async function startState(command: Extract<Command, { cmd: 'state' }>) {
  const handle = await runServe({
    stateDir: command.stateDir,
    listen: '127.0.0.1:0',
    ...(command.store ? { store: command.store } : {}),
    ...(command.etcd ? { etcd: command.etcd } : {}),
    loadState: async (dir, options) => ({ ...(await loadCoordinatorState(dir, options)), kubernetes: offlineKubernetes }),
    print: () => {},
    handleSignals: false,
    logger: { level: 'info', file: command.logFile },
    // Every simulated agent connects from 127.0.0.1: lift the per-source cap (`--max-connections-per-source`).
    maxConnectionsPerSource: 1_000_000,
  });
  closeCurrent = () => handle.close();
  countWaiting = () => handle.app.coordinator.waitingPolls();
  return { url: handle.url, ca: readFileSync(join(command.stateDir, 'tls', 'ca.crt'), 'utf8') };
}

async function startHello() {
  const tls = createTestTls();
  const app: FastifyInstance = Fastify({ https: { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, forceCloseConnections: true });
  const waiting = new Set<() => void>();
  app.get('/hello', async () => ({ hello: 'world' }));
  app.post('/hello', async (request) => ({ hello: (request.body as { host?: string } | undefined)?.host ?? 'world' }));
  app.get('/wait', (_request, reply) => {
    const timer = setTimeout(() => release(), 60_000);
    const release = () => {
      clearTimeout(timer);
      waiting.delete(release);
      void reply.send({ step: 'go' });
    };
    waiting.add(release);
  });
  app.post('/open', async () => {
    const count = waiting.size;
    for (const release of [...waiting]) release();
    return { released: count };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  closeCurrent = async () => {
    for (const release of [...waiting]) release();
    await app.close();
  };
  countWaiting = () => waiting.size;
  return { url: `https://127.0.0.1:${port}`, ca: tls.ca };
}

async function startRaw(bytes: number, via: 'socket' | 'http') {
  const tls = createTestTls();
  // `{"step":""}` is 11 bytes: the filler makes the body exactly `bytes` long.
  const body = JSON.stringify({ step: 'x'.repeat(Math.max(0, bytes - 11)) });
  const response = Buffer.from(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: keep-alive\r\n\r\n${body}`,
  );
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  const held = new Set<ServerResponse>();
  const server = createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (request, res) => {
    if (request.url === '/wait') {
      held.add(res);
      return;
    }
    request.resume();
    request.on('end', () => {
      const started = performance.now();
      const waiting = [...held];
      held.clear();
      if (via === 'socket') for (const one of waiting) one.socket!.write(response);
      else for (const one of waiting) one.writeHead(200, headers).end(body);
      const answer = JSON.stringify({ released: waiting.length, loopMs: performance.now() - started });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }).end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  countWaiting = () => held.size;
  closeCurrent = async () => {
    for (const one of held) one.socket?.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `https://127.0.0.1:${port}`, ca: tls.ca };
}

async function handle(command: Command): Promise<Record<string, unknown>> {
  switch (command.cmd) {
    case 'plan':
      return startPlan(command);
    case 'state':
      return startState(command);
    case 'hello':
      return startHello();
    case 'raw':
      return startRaw(command.bytes, command.via ?? 'socket');
    case 'gc':
      // Started with --expose-gc: RSS after a full collection separates live memory from garbage.
      (globalThis as { gc?: () => void }).gc?.();
      return {};
    case 'waiting':
      return { waiting: countWaiting?.() ?? 0 };
    case 'heap':
      return {
        usage: process.memoryUsage(),
        spaces: getHeapSpaceStatistics().map((s) => ({ name: s.space_name, used: s.space_used_size, committed: s.physical_space_size })),
      };
    case 'heap-snapshot':
      writeHeapSnapshot(command.file);
      return {};
    case 'profile-start':
      // The V8 CPU profiler (what --cpu-prof uses), started and stopped around the measured phase only.
      session = new Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
      return {};
    case 'profile-stop': {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      writeFileSync(command.file, JSON.stringify(profile));
      session?.disconnect();
      session = undefined;
      return {};
    }
    case 'stop': {
      const close = closeCurrent;
      closeCurrent = undefined;
      countWaiting = undefined;
      await close?.();
      return {};
    }
    case 'exit':
      await closeCurrent?.();
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (message) => {
  const command = message as Command;
  handle(command).then(
    (answer) => process.send?.({ ok: true, ...answer }),
    (error: unknown) => process.send?.({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ok: true, ready: true });
