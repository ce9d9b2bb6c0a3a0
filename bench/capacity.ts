/**
 * Coordinator capacity over TLS on 127.0.0.1. The server runs alone in a child process
 * (bench/server-child.ts: `runServe` on a state directory written by the real `kubeseed generate`,
 * durable JournalStore with group commit + fsynced audit log); this process is the client (undici,
 * bounded pools, every loop bounded in count and time). Measures
 *   (a) RSS of the server with 5,000 enrolled agents waiting in `GET /v1/next` (target ≤ 1.10× the ceiling),
 *   (b) release latency when one report opens the gate for 1,000 waiting workers with
 *       workerParallelism 1,000: report sent → each worker has its step (target p99 < 50 ms),
 *   (c) enrollments per second (target ≥ 500/s),
 *   (d) the ceiling: a bare Fastify app over TLS with the same certificate kind and the same client
 *       (hello-world POSTs at the same concurrency; 5,000 held GETs; 1,000 held GETs released at once by
 *       bench/release.ts bareFanOut, in a child of its own, before each kubeseed release run: the two alternate;
 *       after each, the raw floor: the same fan-out with no framework, answers as large as kubeseed's),
 *   (e) the enrollment curve: a fresh fleet of 1,000, 5,000 and 10,000 hosts each (bench/enroll-curve.ts),
 *       rate and latency p99 per size — flat when the coordinator's cost per event does not grow with the fleet.
 * (a) is judged against the ceiling of the same run (≤ 1.10× the bare app's RSS holding as many GETs).
 * Needs `ulimit -n` above ~11,000 (bench/run.ts raises it).
 *
 * Run: npx tsx bench/capacity.ts [--write]   (prints the `## Coordinator capacity` section)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { type AgentIdentity, createAgent, enrollBody } from '../test/unit/server/support.ts';
import { type CurvePoint, enrollmentPoint } from './enroll-curve.ts';
import { ENROLL_CONCURRENCY, enrolledFleet, enrolledState, fleetClient, generate, holdWaiting } from './fleet.ts';
import { percentile, postJson, runBounded, type ServerChild, startServerChild, summarizeCpuProfile } from './harness.ts';
import { releaseWithFloors } from './release.ts';
import { machine, median, writeSection } from './report.ts';

const WAITERS = 5000;
const RELEASE_WORKERS = 1000;
const RELEASE_RUNS = Number(process.env.BENCH_RELEASE_RUNS ?? 3);
/** (a): RSS with every agent waiting at most this multiple of the bare app's holding as many GETs. */
const TARGET_RSS_RATIO = 1.1;
const CURVE_SIZES = (process.env.BENCH_CURVE_SIZES ?? '1000,5000,10000').split(',').map(Number);
/** (e) is flat when the largest fleet enrolls at least this fraction of the smallest's rate. */
const FLAT_RATIO = 0.75;
const TARGET_P99_MS = 50;
const TARGET_ENROLL_PER_S = 500;

/** The same client against hello-world: POSTs of an enrollment-sized body at the same concurrency. */
async function helloRate(dispatcher: Agent, url: string, identities: AgentIdentity[]): Promise<number> {
  const body = enrollBody(identities[0]!, { credential: 'ksenr_'.padEnd(49, 'x') });
  const started = performance.now();
  await runBounded(identities.length, ENROLL_CONCURRENCY, Date.now() + 60_000, async () => {
    const res = await postJson(dispatcher, `${url}/hello`, body);
    if (res.status !== 200) throw new Error(`hello: ${res.status}`);
  });
  return identities.length / ((performance.now() - started) / 1000);
}

/** The server's RSS (and peak) while it holds the long-polls, then after a full GC. */
async function rssWithGc(server: ServerChild, connected: number) {
  const rss = server.memory();
  await server.send({ cmd: 'gc' });
  return { connected, rss, gcRss: server.memory().rss };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const ms = (v: number) => `${v.toFixed(1)} ms`;

export async function benchCapacity(): Promise<string> {
  const loadBefore = loadavg()[0]!;
  const work = mkdtempSync(join(tmpdir(), 'ks-bench-cap-'));
  const profiles: string[] = [];
  try {
    const t = performance.now();
    const big = generate(work, 'big', WAITERS - 3, 20);
    const fan = generate(work, 'fan', RELEASE_WORKERS, RELEASE_WORKERS);
    const generateS = (performance.now() - t) / 1000;
    const bigIds = big.hosts.map((h, i) => createAgent(h, i));
    const fanIds = bigIds.slice(0, fan.hosts.length);
    for (const [i, h] of fan.hosts.entries()) if (fanIds[i]!.host !== h) throw new Error('host order differs between the two specs');

    // ── (c) enrollment rate and (a) 5,000 waiting agents ──
    // cp1 would be handed `kubeadm init` at once; the other 4,999 have nothing to do and wait.
    let server = await startServerChild();
    let enroll: { perSecond: number; latencies: number[] };
    let idleRss = 0;
    let waiting: { connected: number; rss: { rss: number; hwm: number }; gcRss: number };
    try {
      const fleet = await enrolledFleet(server, big, bigIds, work, 'big', async () => {
        idleRss = server.memory().rss;
      });
      enroll = fleet.enroll;
      waiting = await holdWaiting(server, fleet.url, fleet.dispatcher, { agents: bigIds.slice(1) }, (connected) =>
        rssWithGc(server, connected),
      );
    } finally {
      await server.exit();
    }

    // ── (d) the ceiling: bare Fastify over TLS, same client ──
    server = await startServerChild();
    let helloPerSecond: number;
    let helloIdleRss: number;
    let hello: { connected: number; rss: { rss: number; hwm: number }; gcRss: number };
    try {
      const { url, ca } = await server.send({ cmd: 'hello' });
      helloIdleRss = server.memory().rss;
      const dispatcher = fleetClient(ca!, WAITERS + 100);
      helloPerSecond = await helloRate(dispatcher, url!, bigIds);
      hello = await holdWaiting(server, url!, dispatcher, { bare: WAITERS - 1 }, (connected) => rssWithGc(server, connected));
    } finally {
      await server.exit();
    }

    // ── (b) release latency: one report opens the gate for 1,000 waiting workers ──
    // The fleet enrolls once (under the CPU profiler: that pass gives the enrollment profile); each measured run
    // restarts the coordinator on a copy of that enrolled state (a restart resumes the rollout), then one pass more
    // runs under the profiler (not counted).
    const enrolled = await enrolledState(fan, fanIds, work, 'fan', join(work, 'enroll.cpuprofile'));
    const fanEnrollPerSecond = enrolled.perSecond;
    // Its ceiling, 1,000 held GETs answered by one POST, and the raw floor alternate with the kubeseed runs
    // (bench/release.ts), so all see the same machine and the same client process (its heap grows with the fleets).
    const floors = await releaseWithFloors({
      enrolledDir: enrolled.dir,
      work,
      identities: fanIds,
      workers: RELEASE_WORKERS,
      runs: RELEASE_RUNS,
      profileFile: join(work, 'release.cpuprofile'),
    });
    const release = floors.gates.map((run) => run.latencies);
    const helloRelease = floors.bare;
    const rawRelease = floors.raw;
    // ── (e) the enrollment curve: a fresh fleet per size ──
    const curve: CurvePoint[] = [];
    for (const hosts of CURVE_SIZES) curve.push(await enrollmentPoint(hosts));
    profiles.push(
      '**Profile: enrolling 1,003 agents** (server, V8 CPU profiler, self time; frames without a file are Node or V8 built-ins):',
      '',
      ...summarizeCpuProfile(join(work, 'enroll.cpuprofile'), 10).map((l) => `    ${l}`),
      '',
      '**Profile: one gate opening for 1,000 workers** (server, from the report to the last step delivered):',
      '',
      ...summarizeCpuProfile(join(work, 'release.cpuprofile'), 10).map((l) => `    ${l}`),
    );

    const p50s = release.map((lat) => percentile(lat, 50));
    const p99s = release.map((lat) => percentile(lat, 99));
    const maxes = release.map((lat) => Math.max(...lat));
    const hello50 = helloRelease.map((r) => r.p50);
    const hello99 = helloRelease.map((r) => r.p99);
    const raw99 = median(rawRelease.map((r) => r.p99));
    const rawLoop = median(rawRelease.map((r) => r.loopMs));
    const p99 = median(p99s);
    const verdict = (ok: boolean) => (ok ? 'met' : '**NOT met**');
    const enrollLat = enroll.latencies;
    const rssRatio = waiting.rss.rss / hello.rss.rss;
    const flat = curve.at(-1)!.perSecond / curve[0]!.perSecond;
    return [
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npx tsx bench/capacity.ts\`; machine: ${machine()}; 1-minute load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after.`,
      '',
      `**Method.** \`kubeseed generate\` wrote two clusters (${generateS.toFixed(1)} s together): 3 control planes + ${WAITERS - 3} workers (\`workerParallelism\` 20), and 3 + ${RELEASE_WORKERS} workers (\`workerParallelism\` ${RELEASE_WORKERS}). The coordinator is \`runServe\` on a fresh copy of OUT/coordinator (hashed credentials, real PKI, durable JournalStore with group commit, fsynced audit log, info-level logs to a file), alone in a child process, HTTPS on 127.0.0.1; the API-server client is an offline stub. The client is this process: undici with a bounded pool, ECDSA-signed agent requests, enrollment with the credentials from OUT/credentials/enrollment.json, ${ENROLL_CONCURRENCY} enrollments in flight. The ceiling (d) is a bare Fastify 5 app over TLS in the same kind of child, same client.`,
      '',
      '| measure | kubeseed | bare Fastify (ceiling) | target | met |',
      '| --- | --- | --- | --- | --- |',
      `| (a) server RSS, ${WAITERS - 1} agents waiting in \`/v1/next\` (${waiting.connected} TLS connections) | ${mib(waiting.rss.rss)}; ${mib(waiting.gcRss)} after a full GC (idle before enrollment ${mib(idleRss)}; peak ${mib(waiting.rss.hwm)}) | ${mib(hello.rss.rss)}; ${mib(hello.gcRss)} after GC, holding ${WAITERS - 1} GETs (idle ${mib(helloIdleRss)}) | ≤ ${TARGET_RSS_RATIO.toFixed(2)}× the ceiling (${rssRatio.toFixed(2)}×) | ${verdict(rssRatio <= TARGET_RSS_RATIO)}${rssRatio > TARGET_RSS_RATIO && waiting.gcRss / hello.gcRss <= TARGET_RSS_RATIO ? ' (met after GC)' : ''} |`,
      `| (b) release latency, 1 report → ${RELEASE_WORKERS} workers have their step, p50 / p99 / max (median of ${RELEASE_RUNS}) | ${ms(median(p50s))} / **${ms(p99)}** / ${ms(median(maxes))} | ${ms(median(hello50))} / ${ms(median(hello99))} (1 POST answers ${RELEASE_WORKERS} held GETs); raw floor p99 ${ms(raw99)}, its server loop ${ms(rawLoop)} | p99 < 50 ms | ${verdict(p99 < TARGET_P99_MS)} |`,
      `| (c) enrollments per second, ${WAITERS} hosts, ${ENROLL_CONCURRENCY} in flight | **${enroll.perSecond.toFixed(0)}/s** (latency p50 ${ms(percentile(enrollLat, 50))}, p99 ${ms(percentile(enrollLat, 99))}); ${fanEnrollPerSecond.toFixed(0)}/s for 1,003 hosts (under the profiler) | ${helloPerSecond.toFixed(0)}/s (same body size and concurrency) | ≥ 500/s | ${verdict(enroll.perSecond >= TARGET_ENROLL_PER_S)} |`,
      '',
      `**(e) Enrollment curve** (a fresh fleet per size, 3 control planes + workers, \`workerParallelism\` 20, ${ENROLL_CONCURRENCY} in flight; flat = the largest fleet enrolls at ≥ ${FLAT_RATIO}× the smallest's rate: ${flat.toFixed(2)}×, ${flat >= FLAT_RATIO ? 'met' : '**NOT met**'}):`,
      '',
      '| hosts | enrollments/s | latency p50 | latency p99 | ≥ 500/s |',
      '| ---: | ---: | ---: | ---: | --- |',
      ...curve.map(
        (p) =>
          `| ${p.hosts} | ${p.perSecond.toFixed(0)}/s | ${ms(p.p50)} | ${ms(p.p99)} | ${verdict(p.perSecond >= TARGET_ENROLL_PER_S)} |`,
      ),
      '',
      `Release runs (p50 / p99 ms): ${release.map((_, i) => `${p50s[i]!.toFixed(1)} / ${p99s[i]!.toFixed(1)}`).join('; ')}. Ratios against the ceiling: enrollment ${(helloPerSecond / enroll.perSecond).toFixed(1)}× slower than hello-world; release p99 ${(p99 / median(hello99)).toFixed(1)}× the bare fan-out and ${(p99 / raw99).toFixed(1)}× the raw floor (no framework: pre-serialised answers written to every socket in one loop; the client reading 1,000 TLS answers is most of it).`,
      '',
      ...profiles,
    ].join('\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const body = await benchCapacity();
  process.stdout.write(`## Coordinator capacity\n\n${body}\n`);
  if (process.argv.includes('--write')) writeSection('Coordinator capacity', body);
}
