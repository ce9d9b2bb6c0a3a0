/**
 * Day-2 renewal steps (ADR 0039), released one host at a time by `kubeseed renew`:
 * - etcd-cert-renew (external etcd member): the coordinator's renewed server/peer/healthcheck-client
 *   files are written, the etcd unit restarted, then this member must answer /health and a majority
 *   of the members too (quorum) before the step succeeds — and the next member is released;
 * - control-plane-cert-renew: the coordinator's renewed files (apiserver-etcd-client with external
 *   etcd: kubeadm cannot sign it there), `kubeadm certs renew all`, then each static Pod restarted the
 *   way kubeadm's certificate-management page says — its manifest moved out of
 *   /etc/kubernetes/manifests for longer than the kubelet's file check period (20 s) and back — and
 *   the API server ready again.
 */
import { MANIFESTS_DIR } from '../../protocol/host-paths.ts';
import type { StepResults } from '../../protocol/wire.ts';
import { buildKubeadmArgv } from '../kubeadm-argv.ts';
import { loadEtcdClient, waitMemberWithQuorum } from './etcd.ts';
import { waitApiServerReady } from './kubeadm-init.ts';
import { StepFailure, type StepRun } from './step-run.ts';

const STATIC_POD = /^(kube-apiserver|kube-controller-manager|kube-scheduler|etcd)$/;
/** Where a manifest waits while the kubelet stops its Pod (outside the directory the kubelet watches). */
const PARKED_DIR = '/etc/kubernetes/kubeseed-restart';

export async function runEtcdCertRenew(run: StepRun<'etcd-cert-renew'>): Promise<StepResults> {
  const { etcdEndpoints, localEndpoint, etcdClient } = run.step.params;
  if (!etcdEndpoints.includes(localEndpoint))
    throw new StepFailure('bad-params', `${localEndpoint} is not among the members' endpoints`, true);
  await run.writeFiles();
  await run.mustRun(['systemctl', 'restart', 'etcd']);
  const tls = await loadEtcdClient(run, etcdClient);
  await waitMemberWithQuorum(run, { endpoints: etcdEndpoints, local: localEndpoint, tls, what: 'after the restart' });
  return { etcdHealthy: true };
}

export async function runControlPlaneCertRenew(run: StepRun<'control-plane-cert-renew'>): Promise<StepResults> {
  const pods = run.step.params.restartStaticPods;
  for (const pod of pods) if (!STATIC_POD.test(pod)) throw new StepFailure('bad-params', `${pod} is not a control-plane static Pod`, true);
  await run.writeFiles();
  await run.mustRun(buildKubeadmArgv('certs-renew', { certificates: 'all' }));
  for (const pod of pods) {
    const manifest = `${MANIFESTS_DIR}/${pod}.yaml`;
    const parked = `${PARKED_DIR}/${pod}.yaml`;
    // A restart interrupted here left the manifest parked: put that one back.
    const content = (await run.fs.readText(manifest)) ?? (await run.fs.readText(parked));
    if (content === null) throw new StepFailure('manifest-missing', `${manifest} is missing: is this a control plane?`);
    await run.fs.writeText(parked, content, 0o600);
    await run.fs.remove(manifest);
    run.note(`moved ${manifest} out; waiting for the kubelet to stop ${pod}`);
    await run.ctx.clock.sleep(run.ctx.timing.staticPodRestartMs);
    await run.fs.writeText(manifest, content, 0o600);
    await run.fs.remove(parked);
    run.note(`put ${manifest} back`);
  }
  if (!(await waitApiServerReady(run)))
    throw new StepFailure('apiserver-not-ready', 'the API server did not answer /readyz after the restart');
  return {};
}
