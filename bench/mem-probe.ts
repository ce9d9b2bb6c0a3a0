/**
 * Where the coordinator's memory goes with 5,000 agents waiting (issue 19, row (a) of the capacity
 * table): the server child's RSS beside V8's own accounting (heap used and committed, external),
 * idle, after enrolling, and with every agent waiting in `/v1/next` — and the bare Fastify app
 * idle and holding as many GETs, same client, same run. Each stage is read before and after a full
 * GC. BENCH_HEAP_DIR=DIR also writes a V8 heap snapshot of both servers while they hold the
 * waiting requests (~170 MB each; compare them by constructor to see what a waiting poll holds).
 *
 * Run: npx tsx bench/mem-probe.ts [--write]   (BENCH_WAITERS, default 5000; `## Coordinator memory`)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent } from '../test/unit/server/support.ts';
import { enrolledFleet, fleetClient, generate, holdWaiting } from './fleet.ts';
import { type ServerChild, startServerChild } from './harness.ts';
import { machine, writeSection } from './report.ts';

const WAITERS = Number(process.env.BENCH_WAITERS ?? 5000);
const mib = (b: number) => (b / 2 ** 20).toFixed(0);

interface Reading {
  stage: string;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function read(server: ServerChild, stage: string, snapshotDir?: string): Promise<Reading> {
  await server.send({ cmd: 'gc' });
  const { usage } = (await server.send({ cmd: 'heap' })) as unknown as { usage: NodeJS.MemoryUsage };
  const reading = { stage, rss: server.memory().rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external };
  if (snapshotDir)
    await server.send({ cmd: 'heap-snapshot', file: join(snapshotDir, `${stage.replace(/\W+/g, '-')}.heapsnapshot`) }, 300_000);
  return reading;
}

export async function benchMemory(): Promise<string> {
  const loadBefore = loadavg()[0]!;
  const work = mkdtempSync(join(tmpdir(), 'ks-bench-mem-'));
  const readings: Reading[] = [];
  const snapshotDir = process.env.BENCH_HEAP_DIR;
  try {
    const big = generate(work, 'big', WAITERS - 3, 20);
    const ids = big.hosts.map((h, i) => createAgent(h, i));
    let server = await startServerChild();
    try {
      const { url, dispatcher } = await enrolledFleet(server, big, ids, work, 'big', async () => {
        readings.push(await read(server, 'kubeseed idle'));
      });
      readings.push(await read(server, 'kubeseed enrolled'));
      readings.push(
        await holdWaiting(server, url, dispatcher, { agents: ids.slice(1) }, () => read(server, 'kubeseed waiting', snapshotDir)),
      );
    } finally {
      await server.exit();
    }
    server = await startServerChild();
    try {
      const { url, ca } = await server.send({ cmd: 'hello' });
      readings.push(await read(server, 'bare idle'));
      const dispatcher = fleetClient(ca!, WAITERS + 100);
      readings.push(await holdWaiting(server, url!, dispatcher, { bare: WAITERS - 1 }, () => read(server, 'bare waiting', snapshotDir)));
    } finally {
      await server.exit();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const at = (stage: string): Reading => {
    const found = readings.find((r) => r.stage === stage);
    if (!found) throw new Error(`no reading for ${stage}`);
    return found;
  };
  const [ki, ke, kw, bi, bw] = [
    at('kubeseed idle'),
    at('kubeseed enrolled'),
    at('kubeseed waiting'),
    at('bare idle'),
    at('bare waiting'),
  ] as const;
  const perPoll = (a: Reading, b: Reading) => ((b.heapUsed - a.heapUsed) / (WAITERS - 1) / 1024).toFixed(1);
  const perPollRss = (a: Reading, b: Reading) => ((b.rss - a.rss) / (WAITERS - 1) / 1024).toFixed(1);
  return [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npx tsx bench/mem-probe.ts --write\`; machine: ${machine()}; 1-minute load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after.`,
    '',
    `**Method.** The capacity benchmark's row (a) taken apart: \`runServe\` on a fresh copy of a generated 3 CP + ${WAITERS - 3} W state in the bench child (HTTPS on 127.0.0.1, info logs to a file), read idle, after every host enrolled and reported \`prepare-host\`, and with ${WAITERS - 1} agents waiting in \`/v1/next\`; then the bare Fastify app idle and holding as many GETs. Every reading follows a full GC: RSS from /proc, the rest from \`process.memoryUsage()\`.`,
    '',
    '| stage | RSS MiB | heap used MiB | heap committed MiB | external MiB |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...readings.map((r) => `| ${r.stage} | ${mib(r.rss)} | ${mib(r.heapUsed)} | ${mib(r.heapTotal)} | ${mib(r.external)} |`),
    '',
    `Waiting RSS ${(kw.rss / bw.rss).toFixed(2)}× the bare app's (target ≤ 1.10×). Per waiting poll: kubeseed ${perPoll(ke, kw)} KiB of heap and ${perPollRss(ke, kw)} KiB of RSS, the bare app ${perPoll(bi, bw)} KiB and ${perPollRss(bi, bw)} KiB. Before any agent: kubeseed's loaded state and code ${mib(ki.heapUsed - bi.heapUsed)} MiB more heap than the bare app (${mib(ki.rss - bi.rss)} MiB RSS); enrolling adds ${mib(ke.heapUsed - ki.heapUsed)} MiB of records.`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const body = await benchMemory();
  process.stdout.write(`## Coordinator memory\n\n${body}\n`);
  if (process.argv.includes('--write')) writeSection('Coordinator memory', body);
}
