/**
 * reset: before a retried join (or the init lock holder's retried init), `kubeadm reset -f` plus
 * the cleanup kubeadm asks for: /etc/cni/net.d, the manifests directory, the PKI and kubeconfigs an
 * earlier attempt left (the retried step delivers the shared PKI again). Never on a host whose
 * init succeeded.
 */
import { kindsClearedByReset, stepTraits } from '../../protocol/step-kinds.ts';
import type { StepResults } from '../../protocol/wire.ts';
import { buildKubeadmArgv } from '../kubeadm-argv.ts';
import { listSentinels, removeSentinels } from '../sentinel.ts';
import { BOOTSTRAP_KUBELET_CONF, CNI_CONF_DIR, KUBELET_CONF, MANIFESTS_DIR, PKI_DIR, StepFailure, type StepRun } from './step-run.ts';

export async function runReset(run: StepRun<'reset'>): Promise<StepResults> {
  const sentinels = await listSentinels(run.fs, run.ctx.stateDir);
  if (sentinels.some((s) => stepTraits(s.kind).makesNode === 'init')) {
    throw new StepFailure('init-already-succeeded', 'refusing to reset the host whose kubeadm init succeeded', true);
  }
  await run.mustRun(
    buildKubeadmArgv('reset', {
      force: true,
      ignorePreflightErrors: run.step.params.ignorePreflightErrors,
      verbosity: run.step.params.verbosity,
    }),
  );
  for (const dir of [CNI_CONF_DIR, MANIFESTS_DIR, PKI_DIR]) {
    for (const name of await run.fs.list(dir)) await run.fs.remove(`${dir}/${name}`);
    run.note(`emptied ${dir}`);
  }
  for (const file of [KUBELET_CONF, BOOTSTRAP_KUBELET_CONF]) await run.fs.remove(file);
  await removeSentinels(run.fs, run.ctx.stateDir, kindsClearedByReset());
  await run.writeFiles();
  return {};
}
