/**
 * Every fact that depends on the Kubernetes minor, in one table with one row per supported minor
 * (docs/adr/0029): the pause image and etcd that kubeadm of that minor uses, the newest patch of
 * each CNI that its upstream tests against that minor, the containerd that containerd recommends
 * for it, the kubeadm API and kube-vip it runs with, whether stacked control planes may join in
 * parallel, and the client certificate subjects kubeadm expects. The spec accepts exactly the
 * minors with a row (`SUPPORTED_MINORS`). `spec.cni.version`, `spec.etcd.version` and
 * `spec.os.containerdVersion` still override. Pure data; each column names its source
 * (`VERSION_SOURCES`, and the comments beside the values). Update the whole table together when
 * a minor is added.
 *
 * kubeadm: `PauseVersion` and `SupportedEtcdVersion` in kubernetes/kubernetes
 * cmd/kubeadm/app/constants/constants.go, as `kubeadm config images list` prints them for the
 * newest patch of each release branch (recorded in kubernetes/minikube
 * pkg/minikube/constants/constants_kubeadm_images.go, 2026-08-10: v1.34.10, v1.35.7, v1.36.3,
 * v1.37.0-rc.0).
 */

export interface MinorVersions {
  /** registry.k8s.io/pause tag (containerd's sandbox image must equal kubeadm's, or preflight warns). */
  pause: string;
  /** kubeadm's etcd image tag; external etcd defaults to the same etcd release. */
  etcdImageTag: string;
  /** Calico release (tigera-operator manifest tag). */
  calico: string;
  /** Flannel release (kube-flannel.yml asset tag). */
  flannel: string;
  /** Cilium release: the Helm chart version installed by the cilium CLI (its digest: `CILIUM_CHARTS`). */
  cilium: string;
  /**
   * containerd release (no `v`) when `spec.os.containerdVersion` is not set: Flatcar's fallback extension
   * image and the `{version}` of a containerd tarball mirror (Docker's apt repository keeps its newest 2.x).
   */
  containerd: string;
  /** `apiVersion` of the kubeadm documents (Init/Cluster/JoinConfiguration) kubeadm of that minor accepts. */
  kubeadmApi: string;
  /** kube-vip image tag of the control-plane VIP static pod. */
  kubeVip: string;
  /**
   * Whether stacked-etcd control planes may join in parallel (`rollout.controlPlaneParallelism` > 1):
   * only where kubeadm's pre-join etcd check asks for quorum instead of every member healthy.
   */
  parallelStackedJoins: boolean;
  /** Organization (O) of the admin identities kubeseed issues (admin.conf, the coordinator's own). */
  adminGroup: string;
  /** Organizations of the etcd client certificates (apiserver-etcd-client, etcd healthcheck client). */
  etcdClientGroups: readonly string[];
}

// Calico: "We test Calico vX.Y against the following Kubernetes versions" — tigera/docs
// calico_versioned_docs/version-3.31 (v3.31.7: 1.32, 1.33, 1.34, 1.35) and version-3.32 (v3.32.1:
// 1.34, 1.35, 1.36), _includes/partials/_system-requirements.mdx, 2026-08-21. No Calico release
// lists 1.37 yet; v3.32.1 is the newest, tested up to 1.36 ("newer versions may also work").
const CALICO = 'v3.32.1';

// Flannel publishes no Kubernetes matrix; v0.28.9 (2026-08-07) is the newest release and its
// own e2e runs on Kubernetes 1.36.1 (flannel-io/flannel e2e/kind-config.yaml at v0.28.9). Flannel
// uses only Node, ConfigMap and DaemonSet APIs, stable across 1.34–1.37.
const FLANNEL = 'v0.28.9';

// Cilium: docs.cilium.io "Kubernetes Compatibility" lists the e2e-tested minors of each line —
// 1.18 (docs v1.18.14): 1.30–1.33; 1.19 (docs v1.19.3): 1.32–1.35. Versions newer than a line's
// list "depend on the forward/backward compatibility offered by Kubernetes", and Cilium runs
// its e2e tests against the currently supported Kubernetes releases, so minors past 1.35 take the
// newest line: 1.20.0 (chart published 2026-07-29; 1.18 is never chosen, its list ends at 1.33).
// Chart versions and digests: cilium/charts index.yaml (served as helm.cilium.io), 2026-08-03,
// each digest checked against the sha256 of the .tgz in that repository.
export const CILIUM_CHARTS: Readonly<Record<string, string>> = {
  'v1.19.6': '21c43cf53841f9ab0375047d95aa4c64051ea52bbd2c679416e6408f5f1c9179',
  'v1.20.0': 'c5f013912360d1a334f44ef25f36da59ba3414cdb48f466ee12d0c4fdff27883',
};
const CILIUM_1_19 = 'v1.19.6';
const CILIUM_1_20 = 'v1.20.0';

// containerd: the "Kubernetes Support" matrix of containerd/containerd RELEASES.md at v2.3.4
// (2026-08-12) — 1.34: 2.1.3+, 2.0.6+; 1.35: 2.2.0+, 2.1.5+; 1.36: 2.3.0+, 2.2.0+ — taking the newest
// patch of the newest listed line still supported there (2.1 ended 2026-05-05; 2.0 is an LTS to
// 2027-03). 1.37 is not listed yet and takes 2.3, the LTS line (to 2028-04). Every pick is newer than
// the security releases of 2025-11-05 (v2.0.7, v2.1.5, v2.2.0; releases/v2.1.5.toml lists the
// containerd advisories GHSA-pwhc-rpq9-4c8w and GHSA-m6hq-p25p-ffr2 = CVE-2025-64329, and runc's
// GHSA-qw9x-cqr3-wc7r, -cgrx-mc8f-2prm, -9493-h29p-rfm2 = CVE-2025-31133/52565/52881), and the
// sysext-bakery image bundles the runc each tag names (script/setup/runc-version: v1.3.6, v1.4.3).
const CONTAINERD_2_0 = '2.0.11';
const CONTAINERD_2_2 = '2.2.7';
const CONTAINERD_2_3 = '2.3.4';

// kubeadm API: v1beta4 is accepted from 1.31 and the only one 1.37 accepts — v1beta3 was removed in
// 1.37 (kubernetes/kubernetes#136016, CHANGELOG-1.37 "Other"; #125029 deprecated it in 1.31);
// `kubeadm.k8s.io/v1` in 1.37 is a placeholder that "cannot be used yet" (cmd/kubeadm/app/apis/kubeadm/v1/doc.go).
// ../shared/reference/kubeadm.md §1.1.
const KUBEADM_V1BETA4 = 'kubeadm.k8s.io/v1beta4';

// kube-vip: v0.9.2 for every minor; v0.9 reads `vip_subnet` only (v0.9.0 removed `vip_cidr`), see
// generator/plan/kube-vip.ts. kube-vip publishes no Kubernetes matrix; it uses Lease, Service and Node
// APIs, stable across 1.34–1.37 (kube-vip/kube-vip releases, docs "Static Pods").
const KUBE_VIP = 'v0.9.2';

// Parallel stacked control-plane joins: through 1.36 kubeadm's pre-join etcd check wants every member
// healthy, which a concurrent joiner's not-yet-running learner breaks; 1.37 checks quorum instead
// (kubernetes/kubernetes#138403; kubernetes/kubeadm#1646 is the failure). ../shared/reference/kubeadm.md §0.5, §5.
const SERIAL_STACKED_JOINS = { parallelStackedJoins: false } as const;
const PARALLEL_STACKED_JOINS = { parallelStackedJoins: true } as const;

// Client subjects since 1.29: admin.conf's O is `kubeadm:cluster-admins` (kubernetes/kubernetes#121837;
// super-admin.conf keeps system:masters), and the etcd clients carry no O (#119859 healthcheck client,
// #120521 apiserver-etcd-client; both had system:masters). kubeadm certlist.go; ../shared/reference/kubeadm.md §0.9, §3.4.
const SUBJECTS_SINCE_1_29 = { adminGroup: 'kubeadm:cluster-admins', etcdClientGroups: [] } as const;

const SINCE_1_34 = { calico: CALICO, flannel: FLANNEL, kubeadmApi: KUBEADM_V1BETA4, kubeVip: KUBE_VIP, ...SUBJECTS_SINCE_1_29 };

/** One row per supported minor. Adding a minor is adding a row, with the sources below checked for it. */
export const VERSIONS_BY_MINOR: Readonly<Record<number, MinorVersions>> = {
  34: { pause: '3.10.1', etcdImageTag: '3.6.5-0', cilium: CILIUM_1_19, containerd: CONTAINERD_2_0, ...SERIAL_STACKED_JOINS, ...SINCE_1_34 },
  35: { pause: '3.10.1', etcdImageTag: '3.6.6-0', cilium: CILIUM_1_19, containerd: CONTAINERD_2_2, ...SERIAL_STACKED_JOINS, ...SINCE_1_34 },
  36: { pause: '3.10.2', etcdImageTag: '3.6.8-0', cilium: CILIUM_1_20, containerd: CONTAINERD_2_3, ...SERIAL_STACKED_JOINS, ...SINCE_1_34 },
  37: {
    pause: '3.10.2',
    etcdImageTag: '3.7.0-0',
    cilium: CILIUM_1_20,
    containerd: CONTAINERD_2_3,
    ...PARALLEL_STACKED_JOINS,
    ...SINCE_1_34,
  },
};

/** Where each column's values come from (the comments above say more); a test holds every column to one. */
export const VERSION_SOURCES: Readonly<Record<keyof MinorVersions, string>> = {
  pause: 'kubernetes/kubernetes cmd/kubeadm/app/constants/constants.go PauseVersion (kubeadm config images list)',
  etcdImageTag: 'kubernetes/kubernetes cmd/kubeadm/app/constants/constants.go SupportedEtcdVersion (kubeadm config images list)',
  calico: 'tigera/docs calico_versioned_docs/version-3.32/_includes/partials/_system-requirements.mdx',
  flannel: 'flannel-io/flannel e2e/kind-config.yaml at v0.28.9',
  cilium: 'docs.cilium.io Kubernetes Compatibility; cilium/charts index.yaml',
  containerd: 'containerd/containerd RELEASES.md "Kubernetes Support" at v2.3.4',
  kubeadmApi: 'kubernetes/kubernetes#136016 (v1beta3 removed in 1.37), #125029',
  kubeVip: 'kube-vip/kube-vip pkg/kubevip/config_envvar.go at v0.9.2',
  parallelStackedJoins: 'kubernetes/kubernetes#138403 (1.37 pre-join etcd check asks for quorum), kubernetes/kubeadm#1646',
  adminGroup: 'kubernetes/kubernetes#121837 (admin.conf in kubeadm:cluster-admins since 1.29)',
  etcdClientGroups: 'kubernetes/kubernetes#119859, #120521 (etcd clients without system:masters since 1.29)',
};

const TABLED_MINORS = Object.keys(VERSIONS_BY_MINOR).map(Number);
/** The range of minors with a row: what `spec.kubernetesVersion` may name (the rows are contiguous). */
export const SUPPORTED_MINORS = { min: Math.min(...TABLED_MINORS), max: Math.max(...TABLED_MINORS) } as const;

/**
 * The cilium CLI that installs the chart: v0.19.7, "Cilium 1.16 and newer" (cilium/cilium-cli
 * README release table at v0.19.7). Tarball SHA-256 per architecture from kubernetes-sigs/kubespray
 * roles/kubespray_defaults/vars/main/checksums.yml `ciliumcli_binary_checksums` (2026-08-06),
 * which kubespray takes from the release's cilium-linux-<arch>.tar.gz.sha256sum assets.
 */
export const CILIUM_CLI = {
  version: 'v0.19.7',
  sha256: {
    amd64: 'cd15e0983bf0acc7946cd05d453d1e58376ea92dec2642e745212df2b07d8852',
    arm64: '9482937f14061fb239f2dbb2f97f4103de1b101f5d5defbff319f294f9bd540f',
  },
} as const;

/** The table row of a supported minor (the spec parser refuses the others before any plan). */
export function versionsFor(minor: number): MinorVersions {
  const row = VERSIONS_BY_MINOR[minor];
  if (!row)
    throw new Error(`no version table row for Kubernetes 1.${minor}; supported: 1.${SUPPORTED_MINORS.min}–1.${SUPPORTED_MINORS.max}`);
  return row;
}

/** The etcd release (`v3.6.5`) of kubeadm's etcd image tag (`3.6.5-0`). */
export function etcdVersionFor(minor: number): string {
  return `v${versionsFor(minor).etcdImageTag.replace(/-\d+$/, '')}`;
}

/** The containerd release of a cluster: `spec.os.containerdVersion`, else the table's (`2.3.4`). */
export function containerdVersionOf(spec: { kubernetesMinor: number; os: { containerdVersion?: string } }): string {
  return spec.os.containerdVersion ?? versionsFor(spec.kubernetesMinor).containerd;
}

/** The default `cni.version` of a plugin on a minor ('' for none). */
export function cniVersionFor(minor: number, plugin: 'calico' | 'cilium' | 'flannel' | 'none'): string {
  const row = versionsFor(minor);
  return plugin === 'none' ? '' : row[plugin];
}

/**
 * One line for `kubeseed plan`: what the table (or the spec) chose for this cluster, e.g.
 * "Kubernetes 1.37: pause 3.10.2, etcd 3.7.0-0, Cilium v1.20.0 (chart sha256 c5f013912360…, cilium-cli v0.19.7), containerd 2.3.4".
 */
export function describeVersions(spec: {
  kubernetesMinor: number;
  topology: string;
  etcd: { version: string };
  cni: { plugin: string; version: string };
  os: { family: string; containerdVersion?: string };
  mirrors: { containerd?: string };
}): string {
  const row = versionsFor(spec.kubernetesMinor);
  const etcd = spec.topology === 'external-etcd' ? `etcd ${spec.etcd.version} (external)` : `etcd ${row.etcdImageTag}`;
  const cni =
    spec.cni.plugin === 'none'
      ? 'no CNI'
      : spec.cni.plugin === 'cilium'
        ? `Cilium ${spec.cni.version} (chart sha256 ${(CILIUM_CHARTS[spec.cni.version] ?? '').slice(0, 12)}…, cilium-cli ${CILIUM_CLI.version})`
        : `${spec.cni.plugin === 'calico' ? 'Calico' : 'Flannel'} ${spec.cni.version}`;
  return `Kubernetes 1.${spec.kubernetesMinor}: pause ${row.pause}, ${etcd}, ${cni}, ${describeContainerd(spec)}`;
}

/** Which containerd the hosts run (docs/adr/0021-flatcar-containerd.md for Flatcar). */
function describeContainerd(spec: Parameters<typeof describeVersions>[0]): string {
  const version = containerdVersionOf(spec);
  if (spec.os.family === 'flatcar') return `containerd: Flatcar's own when ≥ 2.0, else the ${version} extension`;
  // Fedora CoreOS runs the image's containerd (docs/adr/0023); the agent's preflight refuses one below 2.0.
  if (spec.os.family === 'fedora-coreos') return "containerd: Fedora CoreOS's own (the image's package)";
  if (spec.os.containerdVersion || spec.mirrors.containerd?.endsWith('.tar.gz')) return `containerd ${version}`;
  return "containerd: Docker's newest containerd.io 2.x";
}
