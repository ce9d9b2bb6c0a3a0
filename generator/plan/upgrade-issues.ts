/**
 * What `kubeseed upgrade` refuses in the target spec beyond the order's own refusals
 * (server/day2/order.ts: versions, hosts): an etcd release the agent cannot install verified, and
 * Kubernetes packages the agent cannot change on the hosts' OS. Each issue names the fix.
 * Runtime contract: pure.
 */
import { osProfile } from '../os/index.ts';
import type { ClusterSpec } from '../spec/types.ts';
import { etcdUpgradeIssues } from './etcd-upgrade.ts';

/**
 * Flatcar (system extension images) and Fedora CoreOS (rpm-ostree layers) got their Kubernetes from
 * kubeseed at first boot, but no day-2 step replaces an image or a layer: refused rather than
 * failing `kubeadm-not-at-target` on the first control plane after the etcd members moved.
 * `os.packages: preinstalled` hosts are the operator's images: the steps check `kubeadm version`.
 */
function packageIssues(current: ClusterSpec, target: ClusterSpec): string[] {
  if (current.kubernetesVersion === target.kubernetesVersion || target.os.packages !== 'install') return [];
  // The cloud-init families install with apt, which the day-2 steps drive; the Ignition ones do not.
  const profile = osProfile(target);
  if (profile.cloudInit) return [];
  return [
    `spec.kubernetesVersion: ${profile.family} hosts carry Kubernetes in their image (Flatcar: system extension images; Fedora CoreOS: rpm-ostree layered packages), which kubeseed does not replace on day 2; update them to ${target.kubernetesVersion} on every host first and set os.packages: preinstalled (the upgrade steps then check kubeadm's version), or rebuild the hosts (docs/day2.md)`,
  ];
}

export function upgradeIssues(current: ClusterSpec, target: ClusterSpec, etcdChanges: boolean): string[] {
  return [...packageIssues(current, target), ...(etcdChanges ? etcdUpgradeIssues(target) : [])];
}
