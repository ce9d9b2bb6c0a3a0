/**
 * etcd-member-upgrade (day 2, `kubeseed upgrade` with a changed spec.etcd.version): one external
 * etcd member moved to another etcd release while the others keep serving — etcd's rolling upgrade
 * ("Upgrading etcd clusters and applications": stop one member, replace it, start it, check it, then
 * the next). The coordinator releases the members one at a time; this step decides when its member
 * is done:
 * 1. before anything stops, the other members must hold a quorum without this one (a restart must
 *    never be what loses the cluster); a retried step installs and restarts again (idempotent);
 * 2. binary mode: etcd, etcdctl and etcdutl from the release tarball, refused unless its SHA-256 is
 *    the pinned one (the same download code as cni-apply), then `systemctl restart etcd`; static-pod
 *    mode: the step's kubeadm config (the new image tag) and `kubeadm init phase etcd local`, which
 *    rewrites the manifest the kubelet runs — as etcd-start did;
 * 3. this member must report the target as `etcdserver` on /version and answer /health, and a
 *    majority of the members must answer /health (quorum), within the etcd health timeout.
 */
import type { StepResults } from '../../protocol/wire.ts';
import { buildKubeadmArgv } from '../kubeadm-argv.ts';
import { installDownload } from './download.ts';
import { countHealthy, etcdServerVersion, loadEtcdClient, quorumOf, waitMemberWithQuorum } from './etcd.ts';
import { kubeadmConfigPath, StepFailure, type StepRun } from './step-run.ts';

const RELEASE = /^\d+\.\d+\.\d+$/;

export async function runEtcdMemberUpgrade(run: StepRun<'etcd-member-upgrade'>): Promise<StepResults> {
  const { version, etcdMode, etcdEndpoints, localEndpoint, etcdClient, downloads = [], proxy, verbosity } = run.step.params;
  if (!RELEASE.test(version)) throw new StepFailure('bad-params', `etcd version "${version}" is not a release like 3.6.8`, true);
  if (!etcdEndpoints.includes(localEndpoint))
    throw new StepFailure('bad-params', `${localEndpoint} is not among the members' endpoints`, true);
  if (etcdMode === 'binary' && !downloads.some((d) => d.path.endsWith('/etcd')))
    throw new StepFailure('bad-params', 'binary mode needs the etcd executable among params.downloads', true);
  await run.writeFiles();
  const tls = await loadEtcdClient(run, etcdClient);

  const before = await etcdServerVersion(run, localEndpoint, tls);
  run.note(`etcd ${localEndpoint} runs ${before ?? 'an unknown version (no answer)'}; upgrading to ${version}`);
  // Installed and restarted even when /version already says the target: a retry after a failed check
  // must run the pinned executable, and a restart keeps quorum as long as the others hold it.
  const others = etcdEndpoints.filter((url) => url !== localEndpoint);
  const quorum = quorumOf(etcdEndpoints.length);
  const healthy = await countHealthy(run, others, tls);
  if (healthy < quorum)
    throw new StepFailure(
      'etcd-no-quorum-without-member',
      `only ${healthy} of the other ${others.length} members answer /health: restarting ${localEndpoint} would leave fewer than the ${quorum} a quorum needs; bring them back first`,
    );
  if (etcdMode === 'binary') {
    for (const download of downloads) await installDownload(run, download, proxy);
    await run.mustRun(['systemctl', 'restart', 'etcd']);
  } else {
    await run.mustRun(buildKubeadmArgv('etcd-local', { config: kubeadmConfigPath(run.step), verbosity }));
  }

  let seen: string | null = null;
  await waitMemberWithQuorum(run, {
    endpoints: etcdEndpoints,
    local: localEndpoint,
    tls,
    what: `after the upgrade to ${version}`,
    ready: async () => {
      seen = await etcdServerVersion(run, localEndpoint, tls);
      return seen === version;
    },
  }).catch((error: unknown) => {
    if (seen !== null && seen !== version)
      throw new StepFailure(
        'etcd-version-mismatch',
        `${localEndpoint} reports etcdserver ${seen} on /version, the upgrade wants ${version}: the installed executable or image is another release`,
      );
    throw error;
  });
  run.note(`etcd ${localEndpoint} runs ${version}`);
  return { etcdHealthy: true };
}
