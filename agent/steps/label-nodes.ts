/** label-nodes: `kubectl label node N k=v … --overwrite` for each node in params.labels. */
import type { StepResults } from '../../protocol/wire.ts';
import { ADMIN_CONF, kubectlArgv, StepFailure, type StepRun } from './step-run.ts';

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;

export async function runLabelNodes(run: StepRun<'label-nodes'>): Promise<StepResults> {
  const labels = run.step.params.labels ?? {};
  await run.writeFiles();
  for (const [node, set] of Object.entries(labels)) {
    const pairs = Object.entries(set);
    if (pairs.length === 0) continue;
    for (const [k, v] of pairs) {
      if (!LABEL_KEY.test(k) || !LABEL_VALUE.test(v))
        throw new StepFailure('bad-label', `label ${k}=${v} on ${node} is not a valid Kubernetes label`, true);
    }
    const ok = await run.waitFor(`label ${node}`, run.ctx.timing.nodeRegisteredTimeoutMs, async () => {
      const r = await run.command(kubectlArgv(ADMIN_CONF, 'label', 'node', node, ...pairs.map(([k, v]) => `${k}=${v}`), '--overwrite'), {
        timeoutMs: 60_000,
      });
      if (r.notFound) throw new StepFailure('kubectl-not-found', 'kubectl is not installed');
      return r.code === 0 ? true : null;
    });
    if (!ok) throw new StepFailure('label-failed', `labelling node ${node} failed`);
  }
  return {};
}
