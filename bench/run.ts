/**
 * `npm run bench`: every benchmark in order, rewriting BENCHMARKS.md — generation, PKI, agent,
 * rollout makespan, coordinator capacity, store backends, the coordinator on etcd vs journal —
 * then the shortfall analysis. Raises `ulimit -n` first (5,000 agents hold TLS connections) by
 * re-executing itself through bash. Benchmarks never run in CI; the whole run takes about
 * 12–16 minutes on a 2-core machine (the etcd-vs-journal coordinator runs add 4–8).
 *
 * Run: npm run bench   (or: npx tsx bench/run.ts [--only generation,pki,agent,rollout,capacity,store,coordinator-store])
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { benchCapacity } from './capacity.ts';
import { benchGenerate } from './generate.ts';
import { ROOT } from './harness.ts';
import { BENCHMARKS_FILE, machine, writeIntro, writeSection } from './report.ts';
import { benchRollout, CASES, profileRollout } from './rollout.ts';

const WANT_FDS = 65_536;

function openFileLimit(): number {
  const r = spawnSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  return Number(r.stdout.trim()) || 0;
}

if (!process.env.KS_BENCH_REEXEC && openFileLimit() < WANT_FDS) {
  const r = spawnSync(
    'bash',
    [
      '-c',
      `ulimit -n ${WANT_FDS} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`,
      'bash',
      process.execPath,
      '--import',
      'tsx',
      import.meta.filename,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env: { ...process.env, KS_BENCH_REEXEC: '1' } },
  );
  process.exit(r.status ?? 1);
}

const args = process.argv.slice(2);
const only = args.includes('--only') ? new Set((args[args.indexOf('--only') + 1] ?? '').split(',')) : undefined;
const wanted = (name: string) => !only || only.has(name);
const started = performance.now();
const loadBefore = loadavg()[0]!;
const log = (line: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)} s] ${line}\n`);

const SECTIONS = [
  'Generation',
  'PKI',
  'Agent',
  'Rollout makespan',
  'Coordinator capacity',
  'Store backends',
  'Coordinator on etcd vs journal',
  'Shortfalls: profiles and plan',
];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** `npm run build` unless dist/ is newer than every agent and protocol source. */
function ensureAgentBuilt(): string {
  const exe = join(ROOT, 'dist', 'kubeseed-agent-linux-x64');
  const sources = Math.max(
    newestMtime(join(ROOT, 'agent')),
    newestMtime(join(ROOT, 'protocol')),
    statSync(join(ROOT, 'scripts/build.mjs')).mtimeMs,
  );
  if (existsSync(exe) && statSync(exe).mtimeMs > sources) return 'dist/ was up to date';
  log('npm run build (agent bundle and executables)');
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error('npm run build failed');
  return 'built by `npm run build` in this run';
}

function runScript(script: string, scriptArgs: string[]): number {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', script), ...scriptArgs], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return r.status ?? 1;
}

if (!only) {
  // A fresh file in section order; each benchmark replaces its own section.
  writeFileSync(BENCHMARKS_FILE, `# Benchmarks\n\n${SECTIONS.map((s) => `## ${s}\n\n(not measured yet)\n`).join('\n')}`);
}

/** Runs one benchmark; a failure is written into its section instead of ending the run. */
async function attempt(section: string, fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`${section} FAILED: ${message}`);
    writeSection(section, `This benchmark failed in the last run:\n\n\`\`\`\n${message.slice(0, 2000)}\n\`\`\``);
  }
}

if (wanted('generation')) {
  log('generation');
  await attempt('Generation', () => writeSection('Generation', benchGenerate()));
}
if (wanted('pki')) {
  log('PKI');
  // bench/pki.ts writes its own section (exit 1 = a target missed; the section says which).
  runScript('pki.ts', []);
}
if (wanted('agent')) {
  const how = ensureAgentBuilt();
  log(`agent (${how})`);
  if (runScript('agent.ts', ['--write']) !== 0) writeSection('Agent', `The agent benchmark failed in this run (see the console); ${how}.`);
}
let rolloutProfile: string[] = [];
if (wanted('rollout')) {
  log('rollout makespan');
  await attempt('Rollout makespan', async () => {
    writeSection('Rollout makespan', await benchRollout());
    log('rollout profile (5 CP + 1000 W, P=1000)');
    rolloutProfile = await profileRollout(CASES[4]!);
  });
}
if (wanted('capacity')) {
  log('coordinator capacity');
  await attempt('Coordinator capacity', async () => writeSection('Coordinator capacity', await benchCapacity()));
}
if (wanted('store')) {
  log('store backends (memory, journal, etcd)');
  if (runScript('store.ts', ['--write']) !== 0) writeSection('Store backends', 'The store benchmark failed in this run (see the console).');
}
if (wanted('coordinator-store')) {
  log('coordinator on etcd vs journal');
  if (runScript('coordinator-store.ts', ['--write']) !== 0)
    writeSection('Coordinator on etcd vs journal', 'The coordinator-store benchmark failed in this run (see the console).');
}
if (wanted('rollout') || wanted('capacity')) {
  writeSection('Shortfalls: profiles and plan', shortfalls(rolloutProfile));
}

const minutes = (performance.now() - started) / 60_000;
if (!only) {
  writeIntro(`# Benchmarks

Rerun everything with \`npm run bench\` (about ${Math.ceil(minutes)} minutes here; benchmarks never run in CI). Each section
can also be run alone: \`npx tsx bench/generate.ts\`, \`bench/pki.ts\`, \`bench/agent.ts --write\`,
\`bench/rollout.ts --write\`, \`bench/capacity.ts --write\`, \`bench/store.ts --write\`, \`bench/coordinator-store.ts --write\` (method: [docs/benchmarks.md](docs/benchmarks.md)).

Machine: ${machine()}, Linux, ext4 on a virtual disk. Other engineers ran tests on this machine during the run:
1-minute load average ${loadBefore.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end (2 cores; above ~1 means shared).
Absolute times are therefore noisy: every number is a median of several runs, and every comparison is against a
baseline measured in the same run (CLI startup, \`openssl genpkey\`, plain \`node\`, a lower bound with polling and serial
orchestrators, a bare Fastify server over TLS). Whole run: ${minutes.toFixed(1)} min.`);
}
log(`done in ${minutes.toFixed(1)} min`);

function shortfalls(profile: string[]): string {
  return [
    'Written by `npm run bench` from the profiles above and below; the plan names work for `server/`, which these benchmarks do not change.',
    '',
    '**Where the coordinator spends its time.** Every enrollment, report and operator action ends in `Coordinator.reconcile()`,',
    'which rebuilds the whole `RolloutSnapshot` from the store (`snapshot()` lists every host and step record) and runs the pure',
    '`decide()` over every host and step (`allSteps`, `startPass`, `releasePlanSteps`, `doneHosts`, `hostRemoved`). That is O(hosts)',
    'per event and O(hosts²) per rollout: at 1,000 hosts a report costs milliseconds of server CPU, at 5,000 hosts an enrollment',
    'costs over 10 ms (compare the enrollment rate at 1,003 and at 5,000 hosts in the capacity table).',
    `Profile of one kubeseed run of 5 CP + 1000 W with P=1000 (server process, from the init step to verify):`,
    '',
    ...profile.map((l) => `    ${l}`),
    '',
    '**Plan (server/coordinator.ts, server/scheduler.ts):**',
    '1. Coalesce: mark the coordinator dirty and run one `reconcile()` per event-loop turn (`setImmediate`) instead of one per',
    '   request. A batch of P worker reports or 64 concurrent enrollments then costs one pass, not P or 64. Wake-ups stay in',
    '   the same turn as far as the agent can tell (the answer still waits for the fsync).',
    '2. Keep the snapshot: maintain the `RolloutSnapshot` incrementally from committed transactions instead of rebuilding',
    '   it from `store.list()` on every pass (half of the snapshot cost is object spreading and GC).',
    '3. Index the gates: keep per-group counters (`worker-join` running/limit) and a queue of steps whose `after` steps have',
    '   succeeded, so a report touches its successors and its group only. An enrollment of a worker whose gate is closed',
    '   then does O(1) scheduling work, and enrollment is bounded by TLS + HMAC + one fsync (the bare-Fastify ceiling in the',
    '   same run is >10× the target).',
    '4. Release fan-out: a gate opening for 1,000 workers builds 1,000 join configurations (`buildStep` → YAML stringify) and',
    '   appends 1,000 audit lines after the wake-up. Build the worker join document once per token and copy it per host,',
    '   and serialize responses with the precompiled schema only; the bare Fastify fan-out in the same run (1 POST answering',
    '   1,000 held GETs over TLS) is the floor on this machine.',
    '5. Memory with 5,000 waiting agents: most of the RSS is TLS connection state — the bare Fastify server holding the same',
    '   number of GETs is within ~50 MiB of the coordinator. The coordinator-specific part (plan, records, waiters) is the',
    '   difference; reducing it below 300 MB total means fewer bytes per TLS socket (smaller `highWaterMark`, no per-request',
    '   AbortController/closures for long-polls) or longer `wait` with fewer concurrent connections.',
  ].join('\n');
}
