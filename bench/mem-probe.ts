/**
 * Where the coordinator's memory goes with 5,000 agents waiting (issue 19, row (a)): the server
 * child's RSS beside V8's own accounting (heap used / committed per space, external, array
 * buffers), idle, after enrolling, and with every agent waiting in `/v1/next` — and the bare Fastify
 * app holding as many GETs, same client, same run. Optional heap snapshots (BENCH_HEAP_DIR).
 *
 * Run: npx tsx bench/mem-probe.ts   (BENCH_WAITERS, default 5000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { createAgent } from '../test/unit/server/support.ts';
import { closeQuietly, enrollAll, generate, prepareAll, serveCopy, waitForConnections } from './fleet.ts';
import { agentRequest, type ServerChild, startServerChild } from './harness.ts';

const WAITERS = Number(process.env.BENCH_WAITERS ?? 5000);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)}`;

interface Heap {
  usage: NodeJS.MemoryUsage;
  spaces: { name: string; used: number; committed: number }[];
}

async function probe(server: ServerChild, label: string, snapshotDir?: string): Promise<void> {
  for (const gc of [false, true]) {
    if (gc) await server.send({ cmd: 'gc' });
    const heap = (await server.send({ cmd: 'heap' })) as unknown as Heap;
    const { rss } = server.memory();
    const spaces = heap.spaces
      .filter((s) => s.committed > 2 ** 20)
      .map((s) => `${s.name.replace('_space', '')} ${mib(s.used)}/${mib(s.committed)}`)
      .join(', ');
    console.log(
      `${label}${gc ? ' (after GC)' : ''}: rss ${mib(rss)} MiB; heap used ${mib(heap.usage.heapUsed)} / total ${mib(heap.usage.heapTotal)}; external ${mib(heap.usage.external)}, arrayBuffers ${mib(heap.usage.arrayBuffers)}; spaces used/committed MiB: ${spaces}`,
    );
  }
  if (snapshotDir)
    await server.send({ cmd: 'heap-snapshot', file: join(snapshotDir, `${label.replace(/\W+/g, '-')}.heapsnapshot`) }, 300_000);
}

const work = mkdtempSync(join(tmpdir(), 'ks-bench-mem-'));
try {
  const big = generate(work, 'big', WAITERS - 3, 20);
  const ids = big.hosts.map((h, i) => createAgent(h, i));
  let server = await startServerChild();
  try {
    const { url, ca } = await serveCopy(server, big, work, 'big');
    await probe(server, 'kubeseed idle');
    const dispatcher = new Agent({ connect: { ca, timeout: 60_000 }, connections: WAITERS + 100, keepAliveTimeout: 120_000 });
    await enrollAll(dispatcher, url, ids, big.credentials);
    await prepareAll(dispatcher, url, ids);
    await probe(server, 'kubeseed enrolled');
    const polls = ids
      .slice(1)
      .map((id) => agentRequest(dispatcher, url, id, 'GET', '/v1/next?wait=60000', undefined, 90_000).catch((e: unknown) => e));
    await waitForConnections(url, polls.length, 60_000);
    await probe(server, 'kubeseed waiting', process.env.BENCH_HEAP_DIR);
    await server.send({ cmd: 'stop' });
    await closeQuietly(dispatcher, polls);
  } finally {
    await server.exit();
  }
  server = await startServerChild();
  try {
    const { url, ca } = await server.send({ cmd: 'hello' });
    await probe(server, 'bare idle');
    const dispatcher = new Agent({ connect: { ca: ca!, timeout: 60_000 }, connections: WAITERS + 100, keepAliveTimeout: 120_000 });
    const held = ids.slice(1).map(() =>
      request(`${url}/wait`, { dispatcher, headersTimeout: 90_000, bodyTimeout: 90_000 })
        .then((r) => r.body.text())
        .catch((e: unknown) => e),
    );
    await waitForConnections(url!, held.length, 60_000);
    await probe(server, 'bare waiting', process.env.BENCH_HEAP_DIR);
    await server.send({ cmd: 'stop' });
    await closeQuietly(dispatcher, held);
  } finally {
    await server.exit();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
