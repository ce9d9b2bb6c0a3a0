/**
 * Which packages the prepare script installs on a host, by name, source and reason: the list the
 * script renders from (`nodeToolPackages`) and the one `kubeseed plan` shows
 * (`listPrepareHostPackages`). docs/host-preparation.md explains each row. Pure.
 */
import type { PrepareHostParams } from './prepare-host.ts';
import { parseKubernetesVersion } from './text.ts';

/**
 * Distribution packages every Kubernetes node gets next to `cri-tools` (from the Kubernetes
 * repository), installed by name because apt runs with --no-install-recommends and what the
 * Kubernetes packages pull in changed between builds (kubernetes/release,
 * cmd/krel/templates/latest: kubeadm >= 1.32 depends on nothing, metadata.yaml; the kubelet spec
 * dropped conntrack in 2025-09 and keeps `Requires: iptables >= 1.4.21`):
 * - conntrack: neither kube-proxy >= 1.32 nor kubeadm >= 1.32 preflight needs it; operators
 *   inspect and flush Service NAT entries with it.
 * - iptables: a kubelet dependency today; named so it stays should that change (the kubelet and
 *   an iptables-mode kube-proxy report errors without it).
 * - ipset, ipvsadm (kube-proxy `ipvs`): kube-proxy programs IPVS over netlink from its own image;
 *   these are the operators' view of the same tables.
 */
export function nodeToolPackages(p: { ipvs?: boolean } = {}): string[] {
  return ['conntrack', 'iptables', ...(p.ipvs ? ['ipset', 'ipvsadm'] : [])];
}

const WHY: Record<string, string> = {
  conntrack: 'Service NAT state for operators',
  iptables: 'a kubelet Depends, also installed by name',
  ipset: 'kube-proxy ipvs, for operators to inspect',
  ipvsadm: 'kube-proxy ipvs, for operators to inspect',
};

/** The extra packages as the script installs them: the caller's, then chrony for time servers, without the node tools. */
export function extraPackagesOf(p: PrepareHostParams, nodeTools: readonly string[]): string[] {
  const packages = (p.extraPackages ?? []).filter((x) => !nodeTools.includes(x));
  if ((p.timeServers ?? []).length > 0 && !packages.includes('chrony')) packages.push('chrony');
  return packages;
}

/** `name version — source (why)`, one per package or download, in install order; empty for a preinstalled image. */
export function listPrepareHostPackages(p: PrepareHostParams): string[] {
  if (p.packagesMode !== 'install') return [];
  const node = p.kubernetesNode !== false;
  const nodeTools = node ? nodeToolPackages({ ipvs: p.ipvs === true }) : [];
  const out: string[] = [];
  if (node) {
    const k8s = parseKubernetesVersion(p.kubernetesVersion);
    const repo = `Kubernetes apt repository v${k8s.major}.${k8s.minor}`;
    const containerd = p.containerd ?? { source: 'docker-apt' };
    out.push(
      containerd.source === 'tarball'
        ? 'containerd 2.x, runc — release tarball (the container runtime)'
        : `containerd.io ${(containerd.versionPrefix ?? '2.').replace(/\.$/, '.x').replace(/-$/, '')} — Docker apt repository, held (the container runtime)`,
      ...['kubelet', 'kubeadm', 'kubectl'].map((name) => `${name} ${k8s.version} — ${repo}, held`),
      `kubernetes-cni — ${repo} (kubelet Depends)`,
      `cri-tools ${k8s.major}.${k8s.minor}.x — ${repo}, not held (crictl, set up by /etc/crictl.yaml)`,
      ...nodeTools.map((name) => `${name} — distribution (${WHY[name]})`),
    );
  }
  out.push(...extraPackagesOf(p, nodeTools).map((name) => `${name} — distribution`));
  if (p.etcd) out.push('etcd, etcdctl, etcdutl — release tarball (etcd.mode: binary)');
  return out;
}
