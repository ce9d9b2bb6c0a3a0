/**
 * Sentinel files record what already happened on this host, so a reboot or crash resumes instead
 * of repeating work: <stateDir>/steps/<stepId>.done holds the step kind, attempt and results.
 * They are written right after a step succeeded and before it is reported.
 */
import type { StepKind } from '../protocol/steps.ts';
import type { StepResults } from '../protocol/wire.ts';
import type { Fs } from './io.ts';

export interface Sentinel {
  stepId: string;
  kind: StepKind;
  attempt: number;
  finishedAt: number;
  results: StepResults;
}

/** Plan step ids look like `cp1/kubeadm-join-control-plane` or `cp1/reset#2`: percent-encoded into one safe file name. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.%-]*$/;

export function sentinelPath(stateDir: string, stepId: string): string {
  const name = encodeURIComponent(stepId).replaceAll('*', '%2A');
  if (!SAFE_NAME.test(name) || name.length > 200) throw new Error(`step id not usable as a file name: ${stepId}`);
  return `${stateDir}/steps/${name}.done`;
}

export async function readSentinel(fs: Fs, stateDir: string, stepId: string): Promise<Sentinel | null> {
  const text = await fs.readText(sentinelPath(stateDir, stepId));
  if (text === null) return null;
  try {
    return JSON.parse(text) as Sentinel;
  } catch {
    return null; // a torn write is treated as "not done": the step is idempotent
  }
}

export async function writeSentinel(fs: Fs, stateDir: string, sentinel: Sentinel): Promise<void> {
  await fs.writeText(sentinelPath(stateDir, sentinel.stepId), `${JSON.stringify(sentinel)}\n`, 0o600);
}

/** Every sentinel on the host (for "did init ever succeed here?"). */
export async function listSentinels(fs: Fs, stateDir: string): Promise<Sentinel[]> {
  const out: Sentinel[] = [];
  for (const name of await fs.list(`${stateDir}/steps`)) {
    if (!name.endsWith('.done')) continue;
    const text = await fs.readText(`${stateDir}/steps/${name}`);
    if (!text) continue;
    try {
      out.push(JSON.parse(text) as Sentinel);
    } catch {
      // ignored: see readSentinel
    }
  }
  return out;
}

export async function removeSentinels(fs: Fs, stateDir: string, kinds: readonly StepKind[]): Promise<void> {
  for (const s of await listSentinels(fs, stateDir)) {
    if (kinds.includes(s.kind)) await fs.remove(sentinelPath(stateDir, s.stepId));
  }
}
