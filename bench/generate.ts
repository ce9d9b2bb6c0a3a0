/**
 * `kubeseed generate` for 10, 100 and 1,000 hosts (cloud-init and Ignition), with the output
 * already holding its PKI (key generation is the PKI benchmark's subject). Each run is the real
 * command in a fresh process, startup included. Run: `npx tsx bench/generate.ts`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeCpuProfileInclusive } from './harness.ts';
import { machine, median, writeSection } from './report.ts';
import { largeSpec } from './spec-fixtures.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function runGenerate(spec: string, out: string, nodeArgs: string[] = []): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...nodeArgs, join(ROOT, 'bin/kubeseed.mjs'), 'generate', spec, '--out', out], {
    encoding: 'utf8',
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`generate failed: ${r.stderr}`);
  return ms;
}

/** Baseline in the same run: the bare cost of starting the CLI (`kubeseed --version`). */
function runStartup(): number {
  const t0 = performance.now();
  spawnSync(process.execPath, [join(ROOT, 'bin/kubeseed.mjs'), '--version']);
  return performance.now() - t0;
}

/** Removes what generate writes per host, keeping coordinator/ and credentials/ (PKI, secrets). */
function dropHostOutput(out: string): void {
  for (const d of ['hosts', 'plan', 'proxmox']) rmSync(join(out, d), { recursive: true, force: true });
}

export function benchGenerate(): string {
  const work = mkdtempSync(join(tmpdir(), 'ks-bench-gen-'));
  try {
    const startup = median(Array.from({ length: RUNS }, runStartup));
    const rows: string[] = [];
    let fresh1000 = 0;
    let rerun1000 = 0;
    for (const family of ['ubuntu', 'flatcar'] as const) {
      for (const n of [10, 100, 1000]) {
        const spec = join(work, `${family}-${n}.yaml`);
        const out = join(work, `${family}-${n}`);
        writeFileSync(spec, largeSpec(n, { family }));
        runGenerate(spec, out); // makes the PKI and credentials; later runs keep them
        const fresh = median(
          Array.from({ length: RUNS }, () => {
            dropHostOutput(out);
            return runGenerate(spec, out);
          }),
        );
        const rerun = median(Array.from({ length: RUNS }, () => runGenerate(spec, out)));
        if (family === 'ubuntu' && n === 1000) [fresh1000, rerun1000] = [fresh, rerun];
        rows.push(
          `| ${family === 'ubuntu' ? 'cloud-init' : 'Ignition'} | ${n} | ${fresh.toFixed(0)} | ${(fresh / startup).toFixed(1)}× | ${((fresh - startup) / n).toFixed(2)} | ${rerun.toFixed(0)} |`,
        );
      }
    }
    const verdict = (ms: number) => (ms < 2000 ? 'met' : 'NOT met');
    // Where a fresh 1,000-host cloud-init run spends its time.
    const profDir = join(work, 'profile');
    const out1000 = join(work, 'ubuntu-1000');
    dropHostOutput(out1000);
    runGenerate(join(work, 'ubuntu-1000.yaml'), out1000, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    const main = readdirSync(profDir)
      .map((f) => join(profDir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const profile = summarizeCpuProfileInclusive(main, /^(generator|templates|protocol)\/|node_modules\/yaml\/dist\/public-api/, 14);
    return [
      `Machine: ${machine()}. Median of ${RUNS} runs each; the output directory already holds its PKI and credentials.`,
      `Baseline in the same run: \`kubeseed --version\` (process start + TypeScript loading through tsx) = ${startup.toFixed(0)} ms.`,
      '*Fresh*: hosts/ and plan/ removed before each run, so every file is written. *Re-run*: everything already there and',
      'unchanged, so generate compares and writes nothing (it leaves files that are already right alone, mtime included).',
      '',
      '| format | hosts | fresh (ms) | fresh vs startup | ms per host beyond startup | re-run (ms) |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      `Target: 1,000 hosts under 2,000 ms — fresh ${verdict(fresh1000)} (${fresh1000.toFixed(0)} ms), re-run ${verdict(rerun1000)} (${rerun1000.toFixed(0)} ms). Cost per host stays flat from 100 to 1,000 hosts (linear growth).`,
      '',
      "**Profile: fresh cloud-init run, 1,000 hosts** (V8 CPU profiler, inclusive time of kubeseed's and `yaml`'s functions, share of busy time):",
      '',
      ...profile.map((l) => `    ${l}`),
      '',
      '**Where the time goes and the plan.** Startup is the baseline above: tsx compiles the TypeScript sources at every start',
      '(docs/adr/0010). The rest, per the profile: the `yaml` package stringifying the documents that are built as objects',
      "(`stringify`: each host's cloud-config and plan file), parsing the spec with source positions, planning, the seed ISOs,",
      'and the writes — a fresh run creates about 5,000 files, 120 MB for 1,000 cloud-init hosts, and the kernel time of that is',
      'the gap between the fresh and re-run columns (not in the JavaScript profile). Done: user-data is encoded once for its',
      'digest, size check and seed ISO; seed images are cut from shared slabs (a thousand separate 80 KiB buffers cost more in',
      'GC than building them); files that are already right are compared, not rewritten. Next, in order of gain: (1) run',
      'generate from an esbuild bundle of the CLI when it is newer than the sources (saves most of the startup baseline; ADR',
      '0010 to be revised); (2) stringify what every host of a role shares (scripts, unit files) once per role and reuse the',
      'scalar nodes through the `yaml` Document API (no string templating); (3) render hosts in two worker threads (2 cores;',
      'rendering is pure and per host); (4) write seed ISOs only when asked for (`--seed-iso`), as most providers take the',
      'user-data itself.',
    ].join('\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const body = benchGenerate();
  console.log(body);
  writeSection('Generation', body);
}
