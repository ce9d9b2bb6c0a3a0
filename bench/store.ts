/**
 * Store backends (issue 20): the same commits against the memory store (no durability: the
 * ceiling), the journal (fsync per group) and etcd (a real etcd 3.4 on 127.0.0.1 with TLS and
 * client certificates, one Txn per group), in one run on one machine, so the numbers compare as
 * ratios against the journal. Two loads: one commit at a time, each awaited (latency of a single
 * release), and 64 commits in flight (throughput, group commit). Each commit puts one step-sized
 * record (~1 KB of JSON), as a release does. Never runs in CI.
 *
 * Run: npx tsx bench/store.ts [--write]   (needs the etcd, etcdctl and openssl binaries)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdStore } from '../server/store/etcd-store.ts';
import { JournalStore } from '../server/store/journal-store.ts';
import { MemoryStore } from '../server/store/memory-store.ts';
import type { Store } from '../server/store/types.ts';
import { startTestEtcd } from '../test/support/etcd-server.ts';
import { machine, writeSection } from './report.ts';

const SEQUENTIAL = 300;
const CONCURRENT = 3000;
const IN_FLIGHT = 64;
const ROUNDS = 3;

const record = (i: number) => ({
  id: `w${i}/kubeadm-join-worker`,
  state: 'released',
  attempt: 1,
  releasedAt: 1_765_000_000_000 + i,
  lastReport: { status: 'succeeded', logTail: 'x'.repeat(800) },
});

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function sequential(store: Store, offset: number): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t = performance.now();
    await store.commit({ puts: [{ key: `step/s${offset + i}`, value: record(i) }] });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function concurrent(store: Store, offset: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < CONCURRENT) {
      const i = next++;
      await store.commit({ puts: [{ key: `step/c${offset + i}`, value: record(i) }] });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return CONCURRENT / ((performance.now() - started) / 1000);
}

interface Result {
  p50: number;
  p99: number;
  perSecond: number;
}

async function measure(make: () => Promise<Store>): Promise<Result> {
  const p50s: number[] = [];
  const p99s: number[] = [];
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const store = await make();
    const seq = await sequential(store, round * 100_000);
    p50s.push(seq.p50);
    p99s.push(seq.p99);
    rates.push(await concurrent(store, round * 100_000));
    await store.close();
  }
  return { p50: median(p50s), p99: median(p99s), perSecond: median(rates) };
}

const etcd = await startTestEtcd('ks-bench-etcd-');
const dirs: string[] = [];
let etcdStores = 0;
try {
  const loadBefore = loadavg()[0]!;
  const results: Record<string, Result> = {
    memory: await measure(async () => {
      const s = new MemoryStore();
      await s.open();
      return s;
    }),
    journal: await measure(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ks-bench-journal-'));
      dirs.push(dir);
      const s = new JournalStore(dir);
      await s.open();
      return s;
    }),
    etcd: await measure(async () => {
      const s = new EtcdStore({
        endpoints: [etcd.clientUrl],
        tls: etcd.clientTls(),
        prefix: `bench/${process.pid}/${++etcdStores}/`,
      });
      await s.open();
      return s;
    }),
  };
  const j = results.journal!;
  const row = (name: string, r: Result) =>
    `| ${name} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${(r.p50 / j.p50).toFixed(2)}× | ${Math.round(r.perSecond)}/s | ${(r.perSecond / j.perSecond).toFixed(2)}× |`;
  const body = `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; 1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end. \`npx tsx bench/store.ts --write\`.

The same commits (one ~1 KB step record each) against each store, medians of ${ROUNDS} rounds: ${SEQUENTIAL} commits one at a time (each
awaited until durable), then ${CONCURRENT} commits with ${IN_FLIGHT} in flight (group commit). Memory is the ceiling (nothing durable);
ratios are against the journal measured in the same run. etcd is Debian's 3.4 on 127.0.0.1, one member, TLS with client
certificates, its own fsync on the same disk (\`server/store/etcd-store.ts\`, ADR 0032). This is the store alone: the
whole coordinator on each store (release latency, enrollment rate) is the next section; for scale, the coordinator
enrolls ~40 hosts/s on the journal today (Coordinator capacity), far below either store's rate.

| store | one commit p50 | p99 | p50 vs journal | ${IN_FLIGHT} in flight | vs journal |
| --- | --- | --- | --- | --- | --- |
${row('memory', results.memory!)}
${row('journal', j)}
${row('etcd', results.etcd!)}
`;
  console.log(body);
  if (process.argv.includes('--write')) writeSection('Store backends', body);
} finally {
  etcd.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
