/**
 * Enrollment rate against fleet size: for each size, `kubeseed generate` writes 3 control planes +
 * N−3 workers, the server child (bench/server-child.ts: `runServe`, durable JournalStore) serves a
 * fresh copy, and the client enrolls every host at 64 in flight (undici, signed requests, generated
 * credentials). Prints enrollments/s and latency p50/p99 per size; with `--profile` the server runs
 * the largest size under the V8 CPU profiler and the top self-time frames are printed.
 *
 * Run: npx tsx bench/enroll-curve.ts [--sizes 1000,5000,10000] [--profile]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { createAgent } from '../test/unit/server/support.ts';
import { ENROLL_CONCURRENCY, enrollAll, generate, serveCopy } from './fleet.ts';
import { percentile, startServerChild, summarizeCpuProfile, summarizeCpuProfileInclusive } from './harness.ts';

export interface CurvePoint {
  hosts: number;
  perSecond: number;
  p50: number;
  p99: number;
  profile?: string[];
}

/** Enrolls a fresh fleet of `hosts` hosts; `profile` runs the server under the CPU profiler. */
export async function enrollmentPoint(hosts: number, profile = false): Promise<CurvePoint> {
  const work = mkdtempSync(join(tmpdir(), 'ks-bench-curve-'));
  try {
    const generated = generate(work, `c${hosts}`, hosts - 3, 20);
    const ids = generated.hosts.map((h, i) => createAgent(h, i));
    const server = await startServerChild();
    try {
      const { url, ca } = await serveCopy(server, generated, work, `c${hosts}`);
      const dispatcher = new Agent({ connect: { ca }, connections: ENROLL_CONCURRENCY + 8 });
      if (profile) await server.send({ cmd: 'profile-start' });
      const run = await enrollAll(dispatcher, url, ids, generated.credentials);
      const file = join(work, 'enroll.cpuprofile');
      if (profile) await server.send({ cmd: 'profile-stop', file });
      await server.send({ cmd: 'stop' });
      await dispatcher.destroy();
      return {
        hosts,
        perSecond: run.perSecond,
        p50: percentile(run.latencies, 50),
        p99: percentile(run.latencies, 99),
        ...(profile
          ? {
              profile: [
                'self time:',
                ...summarizeCpuProfile(file, 12),
                'inclusive, server/ and generator/ frames:',
                ...summarizeCpuProfileInclusive(file, /^(server|generator|protocol)\//, 12),
              ],
            }
          : {}),
      };
    } finally {
      await server.exit();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf('--sizes');
  const sizes = (at > 0 ? process.argv[at + 1]! : '1000,5000,10000').split(',').map(Number);
  const profile = process.argv.includes('--profile');
  for (const [i, hosts] of sizes.entries()) {
    const point = await enrollmentPoint(hosts, profile && i === sizes.length - 1);
    process.stdout.write(
      `${hosts} hosts: ${point.perSecond.toFixed(0)}/s, p50 ${point.p50.toFixed(1)} ms, p99 ${point.p99.toFixed(1)} ms\n`,
    );
    for (const line of point.profile ?? []) process.stdout.write(`    ${line}\n`);
  }
}
