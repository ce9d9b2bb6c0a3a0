/**
 * What kubeseed needs to know about an operating system family, in one place (docs/adr/0028):
 * the first-boot format, where things live on the host, how the host is prepared for kubeadm
 * (the apt prepare script, or Ignition with sysext images / rpm-ostree layering), which time,
 * network and update-policy files it gets, and how it boots over PXE. Planning and the renderers
 * ask the profile (`osProfile(spec)`); none of them asks "is this CoreOS" itself.
 *
 * Runtime contract: pure data and pure functions.
 */
import type { ProvisionFile } from '../plan/types.ts';
import type { ClusterSpec, HostArch, HostSpec, OsFamily } from '../spec/types.ts';

export type FirstBootFormat = 'cloud-init' | 'ignition';

/** Boot files of a PXE-booted machine (served under `/assets/<family>/` by default). */
export interface PxeAssets {
  kernelUrl: string;
  initrdUrl: string;
  /** Live root file system (`coreos.live.rootfs_url`), for an OS that needs one. */
  rootfsUrl?: string;
  /** Installer ISO the live system downloads (`url=`), for an OS that needs one. */
  isoUrl?: string;
}

/** What one machine's iPXE script boots: the family's assets and the URLs of its first-boot content. */
export interface IpxeBootInput extends PxeAssets {
  family: OsFamily;
  /** NoCloud base URL ending with `/` (cloud-init families). */
  seedUrl?: string;
  /** Ignition config URL (Ignition families). */
  ignitionUrl?: string;
  /** Install to this disk from kernel arguments (`installer: 'kernel-args'`) instead of running live. */
  installDevice?: string;
  /** Kernel consoles; default `tty0` and `ttyS0,115200n8`. */
  consoles?: string[];
  extraArgs?: string[];
  /** Shown in the script's comment line. */
  label?: string;
}

/** Checks a kernel argument the way iPXE needs it (render/ipxe-token.ts); passed in so profiles import no renderer. */
export interface IpxeArgChecks {
  token(token: string, what: string): string;
  httpUrl(url: string, what: string): string;
}

export interface OsPxe {
  /** Boot files below `dir` (the listener's `/assets/<family>` URL). */
  assets(dir: string): PxeAssets;
  /** The family's kernel arguments (consoles and extra arguments are added by the renderer). */
  kernelArgs(input: IpxeBootInput, check: IpxeArgChecks): string[];
  /**
   * Cloud-init families: `autoinstall` = every known machine gets its own seed, the host's
   * cloud-config wrapped in an installer document (Ubuntu); `fleet` = the live image keeps the
   * fleet seed and DHCP (Debian).
   */
  seed?: 'autoinstall' | 'fleet';
  /**
   * Ignition families with an install disk: `live-ignition` = a live Ignition config runs the
   * installer (Flatcar's flatcar-install, pxe-hosts.ts); `kernel-args` = the initrd installs from
   * kernel arguments (coreos-installer).
   */
  installer?: 'live-ignition' | 'kernel-args';
}

/** The apt families: the agent's prepare-host step runs a script the plan renders. */
export interface OsCloudInit {
  /** The prepare script for a host of this role (`PREPARE_SCRIPT`). */
  renderPrepareScript(spec: ClusterSpec, role: HostSpec['role']): string;
  /** What that script installs (for `kubeseed plan`). */
  packages(spec: ClusterSpec, role: HostSpec['role']): string[];
}

/** A systemd unit as Ignition declares it. */
export interface IgnitionUnit {
  name: string;
  enabled?: boolean;
  contents?: string;
  dropins?: { name: string; contents: string }[];
}

/**
 * One item of an Ignition host preparation, in the order the config lists it:
 * a file with content, a file Ignition fetches (`owner` names what its path is reserved for),
 * a link, or a unit (`reservedFor` names what its name is reserved for; `ifAbsent`: only when the
 * provisioning does not define it).
 */
export type IgnitionPreparationItem =
  | { file: ProvisionFile }
  | { fetched: { path: string; mode: number; source: string; hash?: string; owner: string } }
  | { link: { path: string; target: string } }
  | { unit: IgnitionUnit; reservedFor?: string; ifAbsent?: true };

export interface IgnitionPreparationInput {
  arch: HostArch;
  /** containerd version for a system extension image (default `containerdVersionOf(spec)`). */
  containerdVersion?: string | undefined;
  /** The config's `ignition.proxy`, for daemons that fetch on their own (rpm-ostreed). */
  proxy: { httpProxy?: string; httpsProxy?: string; noProxy: string[] } | undefined;
}

/** The Ignition families: Ignition prepares the host before the agent starts. */
export interface OsIgnition {
  /** Static network files: systemd-networkd or NetworkManager keyfiles (render/ignition-network.ts). */
  network: 'networkd' | 'networkmanager';
  /** Where `spec.os.timeServers` go. */
  timeFile(servers: string[]): { path: string; content: string };
  /** Keeps the OS's updater from rebooting a host mid-rollout. */
  updatePolicy: { path: string; content: string };
  /** Prefixes under the read-only `/usr` that are writable all the same (Fedora CoreOS's `/usr/local/`). */
  writableUnderUsr: readonly string[];
  /** Hosts the preparation fetches from beside the coordinator and the mirrors every family uses (noProxy). */
  fetchesFrom(spec: ClusterSpec): string[];
  /** kubelet, kubeadm and containerd: system extensions, layered RPMs, … */
  prepare(spec: ClusterSpec, input: IgnitionPreparationInput): IgnitionPreparationItem[];
  /** containerd.service is enabled by kubeseed (the image's presets leave it off). */
  enableContainerd: boolean;
}

export interface OsProfile {
  family: OsFamily;
  /** The first-boot format this family boots with (`spec.os.format`'s default and only valid value). */
  format: FirstBootFormat;
  paths: {
    /** The agent executable. */
    agent: string;
    /** Where downloaded tools (the cilium CLI) go: on PATH and writable. */
    tools: string;
    /** Where the plan writes containerd's config (the apt script moves it into place after the package install). */
    containerdConfig: string;
    /** The kubelet's flex-volume directory when the default under `/usr` is read-only. */
    volumePluginDir?: string;
  };
  /** SELinux enforcing: containerd labels containers. */
  selinux: boolean;
  /** Exactly one of `cloudInit` and `ignition`, matching `format`. */
  cloudInit?: OsCloudInit;
  ignition?: OsIgnition;
  pxe: OsPxe;
}
