/**
 * End of a scenario file: stop the cluster's supervisors, undo everything in the cleanup registry
 * (namespaces, holders, processes — by id), and remove the run's work directory unless a test
 * failed or KUBESEED_E2E_KEEP=1 (then its logs stay in /tmp/kubeseed-e2e/<prefix>…/logs).
 */
import { rmSync } from 'node:fs';
import { beforeEach } from 'vitest';
import { runCleanup } from './cleanup.ts';
import type { E2eCluster } from './cluster.ts';

let failed = false;

/** Call once per file: a failing test keeps the logs. */
export function keepLogsOnFailure(): void {
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      failed = true;
    });
  });
}

/** `ready`: the rollout was awaited (false after a failed beforeAll, which also keeps the logs). */
export async function finishCluster(cluster: E2eCluster | undefined, ready: boolean): Promise<string[]> {
  await cluster?.stop();
  const problems = await runCleanup();
  if (!cluster) return problems;
  if (failed || !ready || process.env.KUBESEED_E2E_KEEP === '1') console.info(`[e2e] logs kept in ${cluster.workDir}/logs`);
  else rmSync(cluster.workDir, { recursive: true, force: true });
  return problems;
}
