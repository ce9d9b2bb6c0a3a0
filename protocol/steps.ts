/**
 * Step vocabulary shared by the generator (which plans steps), the coordinator (which releases
 * them) and the agent (which executes them). Pure data: no imports, bundled into the agent.
 */

/**
 * Every unit of agent work the coordinator can release, in rough rollout order. Each kind has its
 * params in `StepParamsByKind` (below) and its row in `STEP_KIND_TRAITS` (step-kinds.ts, ADR 0027).
 */
export const STEP_KINDS = [
  'prepare-host',
  'lb-check',
  'etcd-start',
  'kubeadm-init',
  'cni-apply',
  'kube-vip-manifest',
  'upload-certs',
  'kubeadm-join-control-plane',
  'kubeadm-join-worker',
  'label-nodes',
  'verify',
  'etcd-member-remove',
  'reset',
  'etcd-snapshot',
  // Day 2 (ADR 0033, 0039): released to idle agents by `kubeseed upgrade` and `kubeseed renew`.
  'kubeadm-upgrade-apply',
  'kubeadm-upgrade-node',
  'node-drain',
  'kubelet-upgrade',
  'node-uncordon',
  'etcd-cert-renew',
  'control-plane-cert-renew',
  'etcd-member-upgrade',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export const ROLES = ['control-plane', 'worker', 'etcd', 'load-balancer'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What etcd-start runs under systemd, per etcd mode, before it waits for the members' health. Static
 * pod: kubeadm's "Set up a High Availability etcd cluster with kubeadm" — the user-data wrote the
 * kubelet drop-in, which systemd applies only after `daemon-reload` and a restart of the kubelet;
 * then `kubeadm init phase etcd local` writes the manifest. Binary: the etcd unit from the user-data.
 * The agent runs exactly these; `kubeseed plan` shows them.
 */
export function etcdStartCommands(mode: 'static-pod' | 'binary'): string[][] {
  return mode === 'static-pod'
    ? [
        ['systemctl', 'daemon-reload'],
        ['systemctl', 'restart', 'kubelet'],
        ['kubeadm', 'init', 'phase', 'etcd', 'local'],
      ]
    : [
        ['systemctl', 'daemon-reload'],
        ['systemctl', 'enable', '--now', 'etcd'],
      ];
}

/**
 * What prepare-host runs (cloud-init hosts): the idempotent preparation script that user-data
 * wrote, as argv with no shell. The agent runs exactly this; `kubeseed plan` shows it.
 */
export function prepareHostCommand(scriptPath: string): string[] {
  return ['/bin/bash', scriptPath];
}

/**
 * Why a host preparation failed (`ReportRequest.reason` of a failed prepare-host), classified by
 * the agent from the script's output and exit status (agent/steps/prepare-failure.ts).
 */
export const PREPARE_FAILURE_REASONS = [
  'repository-unreachable',
  'key-mismatch',
  'package-not-found',
  'disk-full',
  'dpkg-locked',
  'dpkg-interrupted',
  'download-failed',
  'unsupported-os',
  'timed-out',
  'unknown',
] as const;
export type PrepareFailureReason = (typeof PREPARE_FAILURE_REASONS)[number];

/** A file a step writes on the host. `secret` files are written 0600 and removed when the step says so. */
export interface StepFile {
  path: string;
  content: string;
  /** POSIX mode as a number, e.g. 0o600. */
  mode: number;
  secret: boolean;
  /** Delete the file once the step has finished (kubeadm configs that carry tokens). */
  removeAfter?: boolean;
}

/**
 * A `.tar.gz` the agent fetches, refuses unless its SHA-256 is `sha256`, and unpacks: with
 * `member`, that one entry becomes the executable `path` (0755); without, every regular file is
 * written below the directory `path` (a Helm chart). `{arch}` in `url` and the keys of a `sha256`
 * map are Go's architecture names (amd64, arm64), as release assets are named.
 */
export interface StepDownload {
  url: string;
  sha256: string | { amd64: string; arm64: string };
  member?: string;
  path: string;
}

/**
 * The spec's proxy as the agent's own downloads use it: `http` for http:// URLs, `https` (an
 * HTTP CONNECT tunnel) for https:// ones; hosts matching `noProxy` are fetched directly.
 */
export interface StepDownloadProxy {
  http?: string;
  https?: string;
  noProxy: string[];
}

/** The control-plane endpoint as agents check it (built by generator/spec/endpoint.ts). */
export interface EndpointTarget {
  host: string;
  port: number;
  /** The VIP, when keepalived or kube-vip holds one. */
  vip?: string;
  /** The address `host` must resolve to (the VIP, or the single load-balancer host's address); absent: it need only resolve. */
  address?: string;
}

/** The etcd client files a step's TLS health check and member calls use (paths the step wrote). */
export interface EtcdClientFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** kubeadm flags the agent passes when present (test and debugging tools; the coordinator sets none). */
export interface KubeadmFlags {
  /** kubeadm verbosity flag value. */
  verbosity?: number;
  /** kubeadm preflight errors to ignore. */
  ignorePreflightErrors?: string[];
}

/**
 * Each kind's parameters (ADR 0027): everything a command needs is here or in `files`, so the
 * agent never re-derives cluster facts. `nodeName` is the Kubernetes node name (= the spec's host name).
 */
export interface StepParamsByKind {
  'prepare-host': {
    nodeName: string;
    /** The preparation script user-data wrote (run as `prepareHostCommand(path)`). */
    prepareScript: string;
  };
  'lb-check': {
    nodeName: string;
    /** The API endpoint, its VIP and the address its name must resolve to. */
    endpoint: EndpointTarget;
    /** The local service that must be running. */
    lbService: 'haproxy' | 'nginx';
  };
  'etcd-start': KubeadmFlags & {
    nodeName: string;
    /** 'static-pod' runs `kubeadm init phase etcd local`, 'binary' starts the systemd unit. */
    etcdMode: 'static-pod' | 'binary';
    /** Client URLs of every member, for the TLS health check. */
    etcdEndpoints: string[];
    etcdClient: EtcdClientFiles;
    /** static-pod: the kubeadm config the step writes. */
    kubeadmConfigPath?: string;
  };
  'kubeadm-init': KubeadmFlags & { nodeName: string; kubeadmConfigPath: string; endpoint: EndpointTarget };
  'cni-apply': {
    nodeName: string;
    /** Manifest files (already written by this step) or URLs to `kubectl apply -f`. */
    manifests: string[];
    /**
     * Further commands as argv (never a shell string), run in order after `manifests`,
     * e.g. `['/usr/local/bin/cilium', 'install', …]` or `['kubectl', '-n', 'kube-flannel', 'rollout', 'restart', …]`.
     */
    commands: string[][];
    /** Release tarballs installed (sha256-verified) before anything is applied or run. */
    downloads?: StepDownload[];
    /** The proxy `downloads` go through (spec.proxy, with the plan's no-proxy list). */
    proxy?: StepDownloadProxy;
  };
  'kube-vip-manifest': {
    nodeName: string;
    /** 'init' swaps the manifest placed before init to admin.conf; 'join' places the admin.conf variant. */
    kubeVipPhase: 'init' | 'join';
  };
  'upload-certs': KubeadmFlags & { nodeName: string; kubeadmConfigPath: string };
  'kubeadm-join-control-plane': KubeadmFlags & {
    nodeName: string;
    kubeadmConfigPath: string;
    endpoint: EndpointTarget;
    /** This member's own API server (the JoinConfiguration's controlPlane.localAPIEndpoint), whose /readyz decides that the join is done. */
    localApiEndpoint: { address: string; port: number };
    /** Stacked: the local member's client URL, for the voter check. */
    etcdEndpoints?: string[];
    etcdClient?: EtcdClientFiles;
  };
  'kubeadm-join-worker': KubeadmFlags & { nodeName: string; kubeadmConfigPath: string; endpoint: EndpointTarget };
  'label-nodes': {
    nodeName: string;
    /** Node name → labels. */
    labels: Record<string, Record<string, string>>;
  };
  verify: {
    nodeName: string;
    /** Node names that must be registered and Ready. */
    expectNodes: string[];
  };
  'etcd-member-remove': {
    nodeName: string;
    /** The member (node) name to remove. */
    memberName: string;
    etcdEndpoints: string[];
    etcdClient: EtcdClientFiles;
  };
  reset: KubeadmFlags & { nodeName: string };
  /** Day 2 (spec.etcd.backup): snapshot the local member and upload it to the coordinator (protocol/backup.ts). */
  'etcd-snapshot': {
    nodeName: string;
    /** The local member's client URL (`https://127.0.0.1:2379`: stacked and external members listen there). */
    etcdEndpoint: string;
    etcdClient: EtcdClientFiles;
  };
  /**
   * `kubeadm upgrade apply v<version> --yes` after the kubeadm package is at `version` (ADR 0039);
   * not started while a node of `expectNodes` is missing or not Ready.
   */
  'kubeadm-upgrade-apply': KubeadmFlags & Day2Packages & { nodeName: string; version: string; expectNodes: string[] };
  /** `kubeadm upgrade node` after the kubeadm package is at `version`. */
  'kubeadm-upgrade-node': KubeadmFlags & Day2Packages & { nodeName: string; version: string };
  /** `kubectl drain` (cordons first; PodDisruptionBudgets respected) with a timeout. */
  'node-drain': { nodeName: string; kubeconfig: string; timeoutSeconds: number; ignoreDaemonSets: boolean; deleteEmptyDirData: boolean };
  /** kubelet and kubectl packages at `version` (unhold, install, hold), then the kubelet restarted. */
  'kubelet-upgrade': Day2Packages & { nodeName: string; version: string; packages: Array<'kubelet' | 'kubectl'> };
  'node-uncordon': { nodeName: string; kubeconfig: string };
  /**
   * External etcd member: the renewed server/peer/healthcheck-client files (in `files`) are in place;
   * restart the unit, then wait until this member and the cluster are healthy (quorum).
   */
  'etcd-cert-renew': { nodeName: string; etcdService: 'etcd'; etcdEndpoints: string[]; localEndpoint: string; etcdClient: EtcdClientFiles };
  /**
   * Control plane: the coordinator's renewed files (apiserver-etcd-client with external etcd) are in
   * `files`; `kubeadm certs renew all`, then each static Pod restarted and the API server ready again.
   */
  'control-plane-cert-renew': { nodeName: string; restartStaticPods: string[] };
  /**
   * External etcd member at another release (`kubeseed upgrade`, one member at a time): binary mode
   * installs the release tarball's executables (sha256-pinned `downloads`) and restarts the unit;
   * static-pod mode runs `kubeadm init phase etcd local` with the config in `files` (the new image
   * tag). Then this member must report `version` as its `etcdserver` on /version, answer /health,
   * and a majority of the members must too (quorum), before the step succeeds.
   */
  'etcd-member-upgrade': KubeadmFlags & {
    nodeName: string;
    /** The etcd release without its `v` (`3.6.8`): what /version must report as `etcdserver`. */
    version: string;
    etcdMode: 'static-pod' | 'binary';
    /** binary: etcd, etcdctl (and etcdutl from 3.5) from the release tarball, into /usr/local/bin. */
    downloads?: StepDownload[];
    /** The proxy `downloads` go through (spec.proxy, with the plan's no-proxy list). */
    proxy?: StepDownloadProxy;
    /** static-pod: the kubeadm config this step writes for `kubeadm init phase etcd local`. */
    kubeadmConfigPath?: string;
    etcdEndpoints: string[];
    /** This member's client URL (one of `etcdEndpoints`). */
    localEndpoint: string;
    etcdClient: EtcdClientFiles;
  };
}

/**
 * How a day-2 step installs Kubernetes packages: `apt` (the source moved to the target minor's
 * repository, then unhold, install `<pkg>=<version>-*`, hold), `dnf`, or `none` when the image carries them
 * (Flatcar, Fedora CoreOS, the TEST DOUBLES' hosts).
 */
export interface Day2Packages {
  packageManager: 'apt' | 'dnf' | 'none';
  /**
   * apt: the script (in the step's `files`, run as `prepareHostCommand(path)`) that points the
   * Kubernetes apt source and key at the target minor's repository before `apt-get update`.
   */
  aptSourceScript?: string;
}

/** The parameters of a step of kind `K`. */
export type StepParamsOf<K extends StepKind> = StepParamsByKind[K];
/** The parameters of a step of any kind. */
export type StepParams = StepParamsByKind[StepKind];
