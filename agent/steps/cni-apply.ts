/**
 * cni-apply: `kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side -f` each released
 * manifest (a file this step wrote, or an upstream URL — server-side because operator CRDs are too
 * large for the last-applied annotation), retried while the API settles; then `params.commands`
 * in order (argv, never a shell): only kubectl (given admin.conf), cilium and helm (given
 * KUBECONFIG) may run.
 */
import type { StepResults } from '../../protocol/wire.ts';
import { ADMIN_CONF, kubectlArgv, StepFailure, type StepRun } from './step-run.ts';

const ALLOWED_COMMANDS = new Set(['kubectl', 'cilium', 'helm']);

/** The argv actually run for a released command, or a StepFailure when it is not allowed. */
export function cniCommandArgv(command: readonly string[]): string[] {
  const [tool, ...rest] = command;
  if (!tool || !ALLOWED_COMMANDS.has(tool))
    throw new StepFailure('command-not-allowed', `cni-apply may run ${[...ALLOWED_COMMANDS].join(', ')}; got ${tool ?? '(empty)'}`, true);
  if (tool === 'kubectl' && !rest.some((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig=')))
    return kubectlArgv(ADMIN_CONF, ...rest);
  return [tool, ...rest];
}

export async function runCniApply(run: StepRun): Promise<StepResults> {
  const manifests = run.step.params.manifests ?? [];
  const commands = run.step.params.commands ?? [];
  const argvs = commands.map(cniCommandArgv); // refuse before anything runs
  await run.writeFiles();
  if (manifests.length === 0 && commands.length === 0) run.note('no CNI manifests or commands released (cni.plugin: none)');
  for (const manifest of manifests) {
    const applied = await run.waitFor(`kubectl apply ${manifest}`, run.ctx.timing.apiReadyTimeoutMs, async () => {
      const r = await run.command(kubectlArgv(ADMIN_CONF, 'apply', '--server-side', '--force-conflicts', '-f', manifest), {
        timeoutMs: 180_000,
      });
      if (r.notFound) throw new StepFailure('kubectl-not-found', 'kubectl is not installed');
      return r.code === 0 ? true : null;
    });
    if (!applied) throw new StepFailure('kubectl-apply-failed', `kubectl apply -f ${manifest} failed`);
  }
  for (const argv of argvs) {
    await run.mustRun(argv, { timeoutMs: 15 * 60_000, env: { KUBECONFIG: ADMIN_CONF } });
  }
  return {};
}
