/** verify: `kubectl get nodes -o json` until every expected node is registered and Ready (bounded). Result: nodesReady. */
import type { StepResults } from '../../protocol/wire.ts';
import { ADMIN_CONF, kubectlArgv, StepFailure, type StepRun } from './step-run.ts';

interface NodeList {
  items?: Array<{ metadata?: { name?: string }; status?: { conditions?: Array<{ type?: string; status?: string }> } }>;
}

/** Names of Ready nodes in a `kubectl get nodes -o json` document. */
export function readyNodeNames(json: string): string[] {
  const list = JSON.parse(json) as NodeList;
  return (list.items ?? [])
    .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((n) => n.metadata?.name ?? '')
    .filter(Boolean)
    .sort();
}

export async function runVerify(run: StepRun<'verify'>): Promise<StepResults> {
  const expect = run.step.params.expectNodes ?? [];
  await run.writeFiles();
  let ready: string[] = [];
  const ok = await run.waitFor(`${expect.length} nodes Ready`, run.ctx.timing.nodesReadyTimeoutMs, async () => {
    const r = await run.command(kubectlArgv(ADMIN_CONF, 'get', 'nodes', '-o', 'json'), { quiet: true, timeoutMs: 30_000 });
    if (r.notFound) throw new StepFailure('kubectl-not-found', 'kubectl is not installed');
    if (r.code !== 0) return null;
    ready = readyNodeNames(r.output);
    return expect.every((n) => ready.includes(n)) ? true : null;
  });
  const missing = expect.filter((n) => !ready.includes(n));
  if (!ok) throw new StepFailure('nodes-not-ready', `not Ready: ${missing.join(', ')}`, false, { nodesReady: ready });
  run.note(`all ${expect.length} nodes Ready`);
  return { nodesReady: ready };
}
