/**
 * Every version kubeseed picks by itself, in one table keyed by the Kubernetes minor: the pause
 * image and etcd that kubeadm of that minor uses, the newest patch of each CNI that its upstream
 * tests against that minor, and the containerd that containerd recommends for it.
 * `spec.cni.version`, `spec.etcd.version` and `spec.os.containerdVersion` still override.
 * Pure data; each entry names its source. Update the whole table together when a minor is added.
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
  /** Cilium release: the Helm chart version installed by the cilium CLI. */
  cilium: string;
  /** SHA-256 of `cilium-<version>.tgz` on helm.cilium.io (the `digest` of its index.yaml entry). */
  ciliumChartSha256: string;
  /**
   * containerd release (no `v`) when `spec.os.containerdVersion` is not set: Flatcar's fallback extension
   * image and the `{version}` of a containerd tarball mirror (Docker's apt repository keeps its newest 2.x).
   */
  containerd: string;
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
const cilium = (version: string) => ({ cilium: version, ciliumChartSha256: CILIUM_CHARTS[version] as string });
const CILIUM_1_19 = cilium('v1.19.6');
const CILIUM_1_20 = cilium('v1.20.0');

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

export const VERSIONS_BY_MINOR: Readonly<Record<number, MinorVersions>> = {
  34: { pause: '3.10.1', etcdImageTag: '3.6.5-0', calico: CALICO, flannel: FLANNEL, ...CILIUM_1_19, containerd: CONTAINERD_2_0 },
  35: { pause: '3.10.1', etcdImageTag: '3.6.6-0', calico: CALICO, flannel: FLANNEL, ...CILIUM_1_19, containerd: CONTAINERD_2_2 },
  36: { pause: '3.10.2', etcdImageTag: '3.6.8-0', calico: CALICO, flannel: FLANNEL, ...CILIUM_1_20, containerd: CONTAINERD_2_3 },
  37: { pause: '3.10.2', etcdImageTag: '3.7.0-0', calico: CALICO, flannel: FLANNEL, ...CILIUM_1_20, containerd: CONTAINERD_2_3 },
};

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
  if (!row) throw new Error(`no version table row for Kubernetes 1.${minor}; supported: 1.34–1.37`);
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
