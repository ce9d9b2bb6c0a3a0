/** cni-apply: `kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f` each released manifest (retried briefly). */
import type { StepResults } from '../../protocol/wire.ts';
import { ADMIN_CONF, kubectlArgv, StepFailure, type StepRun } from './step-run.ts';

export async function runCniApply(run: StepRun): Promise<StepResults> {
  const manifests = run.step.params.manifests ?? [];
  if (manifests.length === 0) throw new StepFailure('bad-params', 'cni-apply needs params.manifests', true);
  await run.writeFiles();
  for (const manifest of manifests) {
    const applied = await run.waitFor(`kubectl apply ${manifest}`, run.ctx.timing.apiReadyTimeoutMs, async () => {
      const r = await run.command(kubectlArgv(ADMIN_CONF, 'apply', '-f', manifest), { timeoutMs: 120_000 });
      if (r.notFound) throw new StepFailure('kubectl-not-found', 'kubectl is not installed');
      return r.code === 0 ? true : null;
    });
    if (!applied) throw new StepFailure('kubectl-apply-failed', `kubectl apply -f ${manifest} failed`);
  }
  return {};
}
