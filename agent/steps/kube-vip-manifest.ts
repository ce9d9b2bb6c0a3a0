/**
 * kube-vip-manifest. Phase 'init': the manifest was placed before `kubeadm init` mounting
 * super-admin.conf (only the init node has it, and admin.conf has no rights until init finished);
 * now it is rewritten to admin.conf. Phase 'join': the manifest is placed only after the join
 * succeeded (join preflight refuses a non-empty manifests directory), always with admin.conf.
 */
import type { StepResults } from '../../protocol/wire.ts';
import { ADMIN_CONF, KUBE_VIP_MANIFEST, StepFailure, type StepRun, SUPER_ADMIN_CONF } from './step-run.ts';

export function useAdminConf(manifest: string): string {
  return manifest.split(SUPER_ADMIN_CONF).join(ADMIN_CONF);
}

export async function runKubeVipManifest(run: StepRun<'kube-vip-manifest'>): Promise<StepResults> {
  const phase = run.step.params.kubeVipPhase;
  if (phase !== 'init' && phase !== 'join')
    throw new StepFailure('bad-params', 'kube-vip-manifest needs params.kubeVipPhase init|join', true);
  if (!(await run.fs.exists(ADMIN_CONF)))
    throw new StepFailure('admin-conf-missing', `${ADMIN_CONF} is missing: kube-vip is placed only after init/join`);
  const released = run.step.files.filter((f) => f.path.endsWith('.yaml') || f.path.endsWith('.yml'));
  const others = run.step.files.filter((f) => !released.includes(f));
  await run.writeFiles(others);
  const targets =
    released.length > 0
      ? released
      : [
          {
            path: KUBE_VIP_MANIFEST,
            content: await run.require(KUBE_VIP_MANIFEST, 'kube-vip-manifest-missing'),
            mode: 0o600,
            secret: false,
          },
        ];
  for (const file of targets) {
    const content = useAdminConf(file.content);
    await run.fs.writeText(file.path, content, file.mode || 0o600);
    run.note(`${phase === 'init' ? 'switched' : 'placed'} ${file.path} (kubeconfig ${ADMIN_CONF})`);
  }
  return {};
}
