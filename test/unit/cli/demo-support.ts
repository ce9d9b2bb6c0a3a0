/** What the demo tests share: a step of `kubeseed demo --json`, and a run in a private TMPDIR. */
import { tempDir } from '../../support/temp-dir.ts';
import { type MainRun, runMain } from './run-main.ts';

/** One step of the demo's `--json` (rollout `steps`, or `upgrade.steps`). */
export interface DemoStep {
  host: string;
  kind: string;
  order: number;
  startMs: number;
  endMs: number;
}

/**
 * Runs `kubeseed ARGV` with TMPDIR set to a fresh directory of its own (returned), so demos that
 * other processes run meanwhile cannot look like leftovers.
 */
export async function runInPrivateTmp(argv: string[], prefix: string): Promise<MainRun & { privateTmp: string }> {
  const privateTmp = tempDir(prefix);
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  try {
    return { ...(await runMain(argv, { cwd: process.cwd() })), privateTmp };
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
}
