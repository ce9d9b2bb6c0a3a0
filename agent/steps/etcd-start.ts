/**
 * etcd-start (external topology): write the member's certificates and config, start etcd as a
 * kubelet static pod or as the upstream binary under systemd, then wait until every member answers
 * a TLS health check. Result: etcdHealthy.
 *
 * Static pod, as kubeadm's "Set up a High Availability etcd cluster with kubeadm" does it: the
 * user-data wrote the kubelet drop-in 20-etcd-service-manager.conf, but systemd runs the kubelet with
 * the definition it loaded before that (at boot), so `systemctl daemon-reload` and
 * `systemctl restart kubelet` come first; then `kubeadm init phase etcd local` writes the manifest
 * the kubelet runs.
 */
import { etcdStartCommands } from '../../protocol/steps.ts';
import type { StepResults } from '../../protocol/wire.ts';
import { buildKubeadmArgv } from '../kubeadm-argv.ts';
import { isEtcdHealthy, loadEtcdClient } from './etcd.ts';
import { kubeadmConfigPath, StepFailure, type StepRun } from './step-run.ts';

export async function runEtcdStart(run: StepRun<'etcd-start'>): Promise<StepResults> {
  const { etcdMode = 'static-pod', etcdEndpoints, verbosity } = run.step.params;
  if (!etcdEndpoints || etcdEndpoints.length === 0) throw new StepFailure('bad-params', 'etcd-start needs params.etcdEndpoints', true);
  await run.writeFiles();
  // The same commands `kubeseed plan` shows; kubeadm's gets the step's config and verbosity.
  for (const argv of etcdStartCommands(etcdMode)) {
    await run.mustRun(argv[0] === 'kubeadm' ? buildKubeadmArgv('etcd-local', { config: kubeadmConfigPath(run.step), verbosity }) : argv);
  }
  const tls = await loadEtcdClient(run, run.step.params.etcdClient);
  const healthy = await run.waitFor(`etcd health of ${etcdEndpoints.length} members`, run.ctx.timing.etcdHealthTimeoutMs, async () => {
    const states = await Promise.all(etcdEndpoints.map((url) => isEtcdHealthy(run, url, tls)));
    const sick = etcdEndpoints.filter((_, i) => !states[i]);
    return sick.length === 0 ? true : null;
  });
  if (!healthy) throw new StepFailure('etcd-unhealthy', 'not every etcd member answered /health in time', false, { etcdHealthy: false });
  run.note(`all ${etcdEndpoints.length} etcd members healthy`);
  return { etcdHealthy: true };
}
