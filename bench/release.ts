/**
 * Release latency alone (issue 19's row (b), without the rest of bench/capacity.ts): one report opens
 * the gate for 1,000 workers waiting in `GET /v1/next`; latency per worker from sending the report to
 * its long-poll answered with its join step. Beside it, in the same run and with the same client:
 * the bare Fastify fan-out (1 POST answers 1,000 held GETs over TLS), and the raw floor — node:https
 * with no framework writing one pre-serialised response, as large as kubeseed's join answer, straight
 * to every held socket in one loop (server-child `raw`): no Node server can answer them sooner here,
 * and its loop time shows how much of that is the server's writes and how much the client's reading;
 * and the same answers through node:http's response object (writeHead + end, no framework), which
 * every server built on node:http (Fastify included) pays per answer.
 * A final run of the coordinator under the V8 profiler is summarised (not counted).
 *
 * Run: npx tsx bench/release.ts   (BENCH_RELEASE_RUNS=N, default 3; BENCH_WORKERS, default 1000)
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createAgent } from '../test/unit/server/support.ts';
import {
  enrolledState,
  fleetClient,
  type GateRelease,
  generate,
  measureRelease,
  type ReleaseSetup,
  SETTLE_MS,
  untilHeld,
} from './fleet.ts';
import { percentile, postJson, sleep, startServerChild, summarizeCpuProfile } from './harness.ts';
import { machine, median } from './report.ts';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 1000);
const RUNS = Number(process.env.BENCH_RELEASE_RUNS ?? 3);

export interface ReleaseNumbers {
  /** Per run: p50 and p99 of the workers' latencies (ms). */
  kubeseed: { p50: number; p99: number; max: number; ackMs: number; answerBytes: number }[];
  bare: FanOut[];
  /** The raw floor; `loopMs`: the server's one loop writing every response. */
  raw: (FanOut & { loopMs: number })[];
  /** The same answers through node:http's response (writeHead + end), no framework. */
  http: (FanOut & { loopMs: number })[];
  profile: string[];
}

type FanOut = { p50: number; p99: number; max: number };

/**
 * A fan-out without the coordinator: `workers` held GETs over TLS answered by one POST, on the bare
 * Fastify app (`hello`) or the raw floor (`raw`, answers of `bytes`). `loopMs` is the raw server's.
 */
export async function bareFanOut(
  runs: number,
  workers: number,
  app: { cmd: 'hello' } | { cmd: 'raw'; bytes: number; via?: 'socket' | 'http' } = { cmd: 'hello' },
): Promise<(FanOut & { loopMs: number })[]> {
  const server = await startServerChild();
  const out: (FanOut & { loopMs: number })[] = [];
  try {
    const { url, ca } = await server.send(app);
    for (let r = 0; r < runs; r++) {
      const dispatcher = fleetClient(ca!, workers + 50);
      let t0 = Number.POSITIVE_INFINITY;
      const lat: number[] = [];
      const pending = Array.from({ length: workers }, () =>
        request(`${url}/wait`, { dispatcher, headersTimeout: 90_000, bodyTimeout: 90_000 })
          .then((res) => res.body.text())
          .then(() => lat.push(performance.now() - t0)),
      );
      await untilHeld(server, workers, `${app.cmd} GETs`);
      await sleep(SETTLE_MS);
      t0 = performance.now();
      const opened = await postJson(dispatcher, `${url}/open`, {});
      await Promise.race([Promise.all(pending), sleep(30_000)]);
      if (lat.length < workers) throw new Error(`${app.cmd} fan-out: only ${lat.length} of ${workers} GETs answered within 30 s`);
      const loopMs = (opened.json as { loopMs?: number } | undefined)?.loopMs ?? Number.NaN;
      out.push({ p50: percentile(lat, 50), p99: percentile(lat, 99), max: Math.max(...lat), loopMs });
      await dispatcher.destroy();
    }
  } finally {
    await server.exit();
  }
  return out;
}

/**
 * Row (b) with its floors (bench/fleet.ts measureRelease): the bare app before each kubeseed run and
 * the raw floor, with answers as large as that run's, after it — all see the same machine.
 */
export async function releaseWithFloors(
  setup: ReleaseSetup,
): Promise<{ gates: GateRelease[]; bare: ReleaseNumbers['bare']; raw: ReleaseNumbers['raw']; http: ReleaseNumbers['http'] }> {
  const { workers } = setup;
  const bare: ReleaseNumbers['bare'] = [];
  const raw: ReleaseNumbers['raw'] = [];
  const http: ReleaseNumbers['http'] = [];
  const gates = await measureRelease(
    setup,
    async () => {
      bare.push(...(await bareFanOut(1, workers)));
    },
    async (gate) => {
      raw.push(...(await bareFanOut(1, workers, { cmd: 'raw', bytes: gate.answerBytes })));
      http.push(...(await bareFanOut(1, workers, { cmd: 'raw', bytes: gate.answerBytes, via: 'http' })));
    },
  );
  return { gates, bare, raw, http };
}

export async function benchRelease(runs = RUNS, workers = WORKERS): Promise<ReleaseNumbers> {
  const work = mkdtempSync(join(tmpdir(), 'ks-bench-release-'));
  try {
    const fan = generate(work, 'fan', workers, workers);
    const ids = fan.hosts.map((h, i) => createAgent(h, i));
    const enrolled = await enrolledState(fan, ids, work, 'fan');
    const profile = join(work, 'release.cpuprofile');
    const { gates, bare, raw, http } = await releaseWithFloors({
      enrolledDir: enrolled.dir,
      work,
      identities: ids,
      workers,
      runs,
      profileFile: profile,
    });
    const kubeseed = gates.map((gate) => ({
      p50: percentile(gate.latencies, 50),
      p99: percentile(gate.latencies, 99),
      max: Math.max(...gate.latencies),
      ackMs: gate.ackMs,
      answerBytes: gate.answerBytes,
    }));
    if (process.env.BENCH_PROFILE_OUT) cpSync(profile, process.env.BENCH_PROFILE_OUT);
    return { kubeseed, bare, raw, http, profile: summarizeCpuProfile(profile, 14) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const load = loadavg()[0]!;
  const n = await benchRelease();
  const f = (v: number) => v.toFixed(1);
  console.log(`# release latency, ${WORKERS} workers, ${RUNS} runs; ${machine()}; load ${load.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`);
  for (const [i, k] of n.kubeseed.entries()) {
    const b = n.bare[i]!;
    const r = n.raw[i]!;
    const h = n.http[i]!;
    console.log(
      `run ${i + 1}: kubeseed p50 ${f(k.p50)} p99 ${f(k.p99)} max ${f(k.max)} ack ${f(k.ackMs)} (${k.answerBytes} B answers)` +
        ` | bare p50 ${f(b.p50)} p99 ${f(b.p99)} max ${f(b.max)} | raw p50 ${f(r.p50)} p99 ${f(r.p99)} max ${f(r.max)} server loop ${f(r.loopMs)}` +
        ` | node:http p50 ${f(h.p50)} p99 ${f(h.p99)} max ${f(h.max)} server loop ${f(h.loopMs)}`,
    );
  }
  const kp99 = median(n.kubeseed.map((k) => k.p99));
  const bp99 = median(n.bare.map((b) => b.p99));
  const rp99 = median(n.raw.map((r) => r.p99));
  const hp99 = median(n.http.map((h) => h.p99));
  console.log(
    `median p99: kubeseed ${f(kp99)} ms, bare ${f(bp99)} ms, raw ${f(rp99)} ms (its server loop ${f(median(n.raw.map((r) => r.loopMs)))} ms),` +
      ` node:http ${f(hp99)} ms (its server loop ${f(median(n.http.map((h) => h.loopMs)))} ms);` +
      ` kubeseed ÷ bare ${(kp99 / bp99).toFixed(2)}×, ÷ raw ${(kp99 / rp99).toFixed(2)}×`,
  );
  console.log(n.profile.join('\n'));
}
