/**
 * The normalized cluster spec: what `parseSpec` returns after validation, with every default
 * applied. Field names follow SPEC.md (the user-facing contract); derived fields are marked.
 */
import type { Role } from '../../protocol/index.ts';
import type { OS_FAMILIES } from '../os/families.ts';
import type { EtcdBackupSpec } from './etcd-backup.ts';

export type { Role };
export type Topology = 'stacked' | 'external-etcd';
export type KubeProxyMode = 'iptables' | 'nftables' | 'ipvs' | 'disabled';
export type CniPlugin = 'calico' | 'cilium' | 'flannel' | 'none';
export type LoadBalancerType = 'haproxy-keepalived' | 'nginx-keepalived' | 'kube-vip' | 'external';
export type EtcdMode = 'static-pod' | 'binary';
export type CertDistribution = 'coordinator' | 'upload-certs';
export type KeyAlgorithm = 'RSA-2048' | 'ECDSA-P256';
/** One row of the OS profile table (generator/os/). */
export type OsFamily = (typeof OS_FAMILIES)[number];
export type OsFormat = 'cloud-init' | 'ignition';
export type Platform = 'generic' | 'aws' | 'openstack' | 'proxmox' | 'pxe';
export type PackagesMode = 'install' | 'preinstalled';

/** An IPv4 address with its prefix, as written `10.101.1.101/24`. */
export interface HostAddress {
  ip: string;
  prefix: number;
  /** The address as written. */
  cidr: string;
}

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface HostSpec {
  name: string;
  role: Role;
  fqdn?: string;
  address?: HostAddress;
  gateway?: string;
  nameservers: string[];
  /** Lower-case, colon separated. */
  mac?: string;
  /** Lower-case SMBIOS UUID. */
  uuid?: string;
  labels: Record<string, string>;
  /** undefined = kubeadm's default (control planes keep NoSchedule); [] = no taints. */
  taints?: Taint[];
  /** NIC name used in network-config (`set-name` when a MAC is given) and by keepalived/kube-vip. Default: spec.loadBalancer.interface. */
  interface: string;
  /** PXE: the disk the installer erases and installs to (default spec.fleet.installDisk). */
  installDisk?: string;
  /** CPU architecture (default amd64): which agent executable and system extension images Ignition fetches. */
  arch: HostArch;
  /** Proxmox only: this host's VMID (default template + 1 + position) and size, over spec.proxmox.roles. */
  proxmox?: ProxmoxVmSize & { vmid?: number };
}

/** Proxmox VM size: `qm set --cores/--memory` (MiB) and the boot disk grown to `disk` (e.g. `40G`). Unset: the template's. */
export interface ProxmoxVmSize {
  cores?: number;
  memory?: number;
  disk?: string;
}

export type HostArch = 'amd64' | 'arm64';

export interface ClusterSpec {
  apiVersion: 'kubeseed.dev/v1alpha1';
  kind: 'Cluster';
  name: string;
  kubernetesVersion: string;
  /** Derived: the minor version number (37 for v1.37.0). */
  kubernetesMinor: number;
  topology: Topology;
  controlPlaneEndpoint: { host: string; port: number };
  networking: {
    podSubnet: string;
    serviceSubnet: string;
    dnsDomain: string;
    nodeCidrMaskSize: number;
    hostsFile: boolean;
  };
  kubeProxy: { mode: KubeProxyMode };
  cni: { plugin: CniPlugin; version: string };
  loadBalancer: {
    type: LoadBalancerType;
    vip?: string;
    interface: string;
    virtualRouterId: number;
  };
  /** `backup`: absent means no snapshots are taken (generator/spec/etcd-backup.ts). */
  etcd: { mode: EtcdMode; version: string; backup?: EtcdBackupSpec };
  certificates: { distribution: CertDistribution; keyAlgorithm: KeyAlgorithm; extraSANs: string[] };
  os: {
    family: OsFamily;
    format: OsFormat;
    platform: Platform;
    packages: PackagesMode;
    timeServers: string[];
    sshAuthorizedKeys: string[];
    /**
     * containerd release as written (`2.3.4`); unset = the table's (`containerdVersionOf`). Flatcar uses it
     * only when its built-in containerd is older than 2.0; Debian/Ubuntu pin `containerd.io` to it.
     */
    containerdVersion?: string;
  };
  proxy: { http?: string; https?: string; noProxy: string[] };
  mirrors: {
    /** Base URL of a pkgs.k8s.io-style apt repo for the minor (`…/core:/stable:/v1.37/deb/`). */
    kubernetesApt?: string;
    /** URL of the ASCII-armored key of that repo (default: `<kubernetesApt>Release.key`). */
    kubernetesAptKey?: string;
    /** Base URL of an apt repo carrying containerd.io (Docker's layout), or a containerd release tarball URL. */
    containerd?: string;
    containerdKey?: string;
    /** Base URL holding upstream etcd release tarballs by version (`<base>/v3.6.5/etcd-v3.6.5-linux-amd64.tar.gz`), binary mode. */
    etcd?: string;
    /** Hex SHA-256 of etcd release tarballs by file name (`etcd-v3.6.8-linux-amd64.tar.gz`): binary members upgrade only from a pinned one. */
    etcdSha256?: Record<string, string>;
    /** Base URL where CNI manifests are fetched from. */
    cni?: string;
    /**
     * Base URL with GitHub's and helm.cilium.io's file layout for Cilium: the CLI at
     * `<base>/v0.19.7/cilium-linux-<arch>.tar.gz`, the chart at `<base>/cilium-1.20.0.tgz`
     * (both sha256-pinned; default: the upstream URLs).
     */
    cilium?: string;
    /** Base URL of a pkgs.k8s.io-style RPM repo for the minor (`…/core:/stable:/v1.37/rpm/`), Fedora CoreOS. */
    kubernetesRpm?: string;
    /** https URL of that repo's signing key (default: `<kubernetesRpm>repodata/repomd.xml.key`). */
    kubernetesRpmKey?: string;
    /** Base URL of system extension images (Flatcar). */
    sysext?: string;
    /** Hex SHA-256 of system extension images by file name (`kubernetes-v1.37.0-x86-64.raw`), wherever they come from. */
    sysextSha256?: Record<string, string>;
    /** Base URL serving the agent executables (default: the coordinator's own `/agent/…`). */
    agent?: string;
    /** Container image repository for kubeadm (ClusterConfiguration.imageRepository). */
    imageRepository?: string;
    /** containerd registry mirrors: registry host → mirror endpoints. */
    registryMirrors: Record<string, string[]>;
  };
  proxmox: {
    node?: string;
    templateVmid?: number;
    storage?: string;
    snippetStorage?: string;
    bridge?: string;
    /** `qm set --onboot`: start the VM when the node boots. Unset: the template's. */
    onboot?: boolean;
    /** `qm set --tags`, on every VM deploy.sh makes. */
    tags?: string[];
    /** The template's boot disk that `disk` sizes grow (default scsi0). */
    bootDisk?: string;
    /** Sizes per role; a host's own `proxmox:` wins field by field. */
    roles?: Partial<Record<Role, ProxmoxVmSize>>;
  };
  /**
   * `replicaUrls`: other replicas of `kubeseed serve` on the same etcd store (ADR 0036). Agents try
   * them when `url` is unreachable or a standby; the coordinator certificate names every one.
   */
  coordinator: { url: string; listen: string; httpListen: string; replicaUrls: string[] };
  /**
   * `installUnknownMacs`: the PXE listener boots the installer for MACs the spec does not name
   * (default false: they get a script that installs nothing — the Ubuntu autoinstall erases a disk).
   */
  fleet: {
    enabled: boolean;
    installUnknownMacs?: boolean;
    /** PXE: the disk installers erase and install to, for hosts without their own `installDisk`. */
    installDisk?: string;
  };
  /**
   * Day 2 (ADR 0033): `keepAgent` (default true) keeps the agent installed and idle after its host is
   * done, polling for day-2 steps (renew, upgrade) while a coordinator runs; false disables it at done.
   */
  day2: { keepAgent: boolean };
  rollout: {
    controlPlaneParallelism: number;
    workerParallelism: number;
    /** Seconds. */
    tokenTTL: number;
  };
  hosts: HostSpec[];
  /**
   * Test-only settings, refused unless the spec sets `testing.allowUnsupported: true` with the
   * reason in `testing.reason`. Used by the end-to-end harness (Debian's etcd 3.4).
   */
  testing: { allowOldEtcd: boolean };
}

/** A validation finding. `line`/`column` are 1-based positions in the spec file. */
export interface SpecIssue {
  path: string;
  message: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
}
