/**
 * Spec fuzzing: 10,000 mutations of examples/*.yaml (seeded) through parseSpec in-process. Each
 * input either parses or throws SpecError whose every issue is located (line ≥ 1, column ≥ 1, a
 * path, a message) — never another exception, never more than a bounded time. A sample of the
 * rejected inputs also goes through the real CLI (`bin/kubeseed.mjs validate`): exit 2,
 * `FILE:LINE:COL:` lines, no stack trace. KUBESEED_SPEC_FUZZ sets the count, KUBESEED_FUZZ_SEED the seed.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { SpecError } from '../../generator/errors.ts';
import { parseSpec } from '../../generator/spec/parse.ts';
import { createRng, type MutatedSpec, mutateSpec } from '../support/fuzz.ts';
import { tempDir } from '../support/temp-dir.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const COUNT = Number(process.env.KUBESEED_SPEC_FUZZ ?? 10_000);
const SEED = Number(process.env.KUBESEED_FUZZ_SEED ?? 20261122);
const CLI_SAMPLE = 50;
/**
 * Bound per input ("never a hang"): 250 ms plus 5 ms per KiB. The yaml parser is linear but not
 * fast on deep flow nesting (~1.5 ms per KiB of `{a: {a: …` on an idle 2-core machine; CI machines
 * run other tiers at the same time), and the spec's 4 MiB cap bounds the worst case.
 */
function boundMs(input: string | Uint8Array): number {
  return 250 + (5 * input.length) / 1024;
}

const examples = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(join(ROOT, 'examples', f), 'utf8'));

const work = tempDir('ks-spec-fuzz-');

const rejected: MutatedSpec[] = [];

/** How long one parse of `input` takes (its outcome was checked already). */
function parseMs(input: string | Uint8Array): number {
  const started = performance.now();
  try {
    parseSpec(input, 'cluster.yaml');
  } catch {}
  return performance.now() - started;
}

function describeInput(m: MutatedSpec): string {
  const head = typeof m.input === 'string' ? m.input : Buffer.from(m.input).toString('latin1');
  return `#${m.index} (${m.description}, seed ${SEED}): ${JSON.stringify(head.slice(0, 200))}`;
}

describe('spec fuzzing', () => {
  it('the examples parse (the mutations start from valid specs)', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const text of examples) expect(() => parseSpec(text, 'example.yaml')).not.toThrow();
  });

  it(`${COUNT} mutated specs: parsed or SpecError with located issues, bounded time`, () => {
    // The yaml library reports unknown tags and directives through process.emitWarning: thousands of lines.
    const emitWarning = process.emitWarning;
    process.emitWarning = () => {};
    onTestFinished(() => {
      process.emitWarning = emitWarning;
    });
    const rng = createRng(SEED);
    const failures: string[] = [];
    let accepted = 0;
    let slowest = { ms: 0, what: '' };
    for (let i = 0; i < COUNT; i++) {
      const mutated = mutateSpec(rng.pick(examples), rng, i);
      const started = performance.now();
      try {
        parseSpec(mutated.input, 'cluster.yaml');
        accepted++;
      } catch (error) {
        if (!(error instanceof SpecError)) {
          failures.push(`${describeInput(mutated)} threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
        } else {
          const bad = error.issues.filter(
            (issue) =>
              !(Number.isInteger(issue.line) && issue.line >= 1) ||
              !(Number.isInteger(issue.column) && issue.column >= 1) ||
              typeof issue.path !== 'string' ||
              issue.path.length === 0 ||
              typeof issue.message !== 'string' ||
              issue.message.length === 0,
          );
          if (error.issues.length === 0) failures.push(`${describeInput(mutated)}: SpecError without issues`);
          if (bad.length) failures.push(`${describeInput(mutated)}: unlocated issues ${JSON.stringify(bad.slice(0, 3))}`);
          // The CLI reads bytes (one leading BOM is dropped by the UTF-8 decoder): sample what it rejects too.
          if (rejected.length < 2000 && rejectsBytes(mutated.input)) rejected.push(mutated);
        }
      }
      let ms = performance.now() - started;
      const bound = boundMs(mutated.input);
      // A slow parse is timed again, the fastest kept: a pathological input is slow every time, a machine busy
      // with other tiers only sometimes (two CI runs of 10,000 passed; a third saw 754 ms against 738 once).
      for (let again = 0; again < 2 && ms > bound; again++) ms = Math.min(ms, parseMs(mutated.input));
      if (ms > slowest.ms) slowest = { ms, what: describeInput(mutated) };
      if (ms > bound) failures.push(`${describeInput(mutated)} took ${ms.toFixed(0)} ms (bound ${bound.toFixed(0)} ms)`);
      if (failures.length >= 20) break;
    }
    console.log(
      `[reliability] spec inputs tried: ${COUNT} (${accepted} accepted, ${COUNT - accepted} rejected with located issues; slowest ${slowest.ms.toFixed(0)} ms)`,
    );
    expect(failures).toEqual([]);
  });

  it(`${CLI_SAMPLE} rejected inputs through the real CLI: exit 2, FILE:LINE:COL lines, no stack trace`, async () => {
    expect(rejected.length).toBeGreaterThanOrEqual(CLI_SAMPLE);
    const rng = createRng(SEED + 1);
    const sample = Array.from({ length: CLI_SAMPLE }, () => rejected[rng.int(rejected.length)]!);
    const failures: string[] = [];
    const runOne = async (m: MutatedSpec, n: number) => {
      const file = join(work, `spec-${n}.yaml`);
      writeFileSync(file, m.input);
      const { code, stdout, stderr } = await runCli(['validate', file]);
      const lines = `${stdout}\n${stderr}`;
      if (code !== 2) failures.push(`${describeInput(m)}: exit ${code}\n${stderr.slice(0, 500)}`);
      const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (!new RegExp(`^${escaped}:\\d+:\\d+: `, 'm').test(lines))
        failures.push(`${describeInput(m)}: no FILE:LINE:COL line\n${lines.slice(0, 500)}`);
      if (/\n\s+at .+[:(].*\d+:\d+\)?$/m.test(lines) || /Error: .*\n\s+at /.test(lines))
        failures.push(`${describeInput(m)}: stack trace in output\n${lines.slice(0, 800)}`);
    };
    // Two at a time: the machine has two cores.
    for (let i = 0; i < sample.length; i += 2) await Promise.all(sample.slice(i, i + 2).map((m, j) => runOne(m, i + j)));
    console.log(`[reliability] spec inputs through the CLI: ${CLI_SAMPLE} (exit 2 each)`);
    expect(failures).toEqual([]);
  });
});

function rejectsBytes(input: string | Uint8Array): boolean {
  try {
    parseSpec(typeof input === 'string' ? Buffer.from(input, 'utf8') : input, 'cluster.yaml');
    return false;
  } catch {
    return true;
  }
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'kubeseed.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
