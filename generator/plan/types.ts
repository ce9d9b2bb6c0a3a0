/**
 * The plan: the pure, deterministic result of a spec. It says, per host, what first boot writes
 * (provisioning) and which steps the coordinator will release to it, in rollout order, with
 * their gates. Step files are built by `buildStep()` from a `SecretSource`: the plan and
 * `kubeseed plan` use placeholders, the coordinator uses the real values — same code.
 */
import type { Role, StepFile, StepKind, StepParams } from '../../protocol/index.ts';
import type { ClusterSpec, SpecIssue } from '../spec/types.ts';

export const SECRET_PLACEHOLDER = '<released by coordinator>';

/** Files of the cluster PKI, named by their path under kubeadm's `/etc/kubernetes/pki`. */
export const SHARED_PKI_FILES = ['ca.crt', 'ca.key', 'sa.key', 'sa.pub', 'front-proxy-ca.crt', 'front-proxy-ca.key'] as const;
export const ETCD_CA_FILES = ['etcd/ca.crt', 'etcd/ca.key'] as const;
/** Per etcd member (external topology), issued by the coordinator from the etcd CA. */
export const ETCD_MEMBER_FILES = [
  'etcd/server.crt',
  'etcd/server.key',
  'etcd/peer.crt',
  'etcd/peer.key',
  'etcd/healthcheck-client.crt',
  'etcd/healthcheck-client.key',
] as const;
/** What a control plane needs to reach external etcd: never the etcd CA key. */
export const APISERVER_ETCD_CLIENT_FILES = ['etcd/ca.crt', 'apiserver-etcd-client.crt', 'apiserver-etcd-client.key'] as const;

export type PkiFileName =
  | (typeof SHARED_PKI_FILES)[number]
  | (typeof ETCD_CA_FILES)[number]
  | (typeof ETCD_MEMBER_FILES)[number]
  | (typeof APISERVER_ETCD_CLIENT_FILES)[number];

/** Which kinds of secret a step carries when released (for the audit log and the plan). */
export type SecretKind =
  | 'bootstrap-token'
  | 'certificate-key'
  | 'shared-pki'
  | 'etcd-ca'
  | 'etcd-member-certs'
  | 'apiserver-etcd-client'
  | 'admin-kubeconfig';

/** Where step builders get secret values. Pure: the coordinator backs it with its state. */
export interface SecretSource {
  bootstrapToken(): string;
  certificateKey(): string;
  /** `sha256:<hex>` of the cluster CA's SubjectPublicKeyInfo (public, but known only once the PKI exists). */
  discoveryHash(): string;
  /** A PKI file's PEM. `host` is required for the per-member etcd files. */
  pkiFile(name: PkiFileName, host?: string): string;
  /** An admin kubeconfig for steps that call the API (cni-apply, label-nodes, verify on a host without admin.conf). */
  adminKubeconfig(): string;
}

/** One planned unit of work for one host. */
export interface PlannedStep {
  /** `<host>/<kind>`; unique in a plan. */
  id: string;
  kind: StepKind;
  host: string;
  role: Role;
  /** Step ids that must have succeeded before this one may be released. */
  after: string[];
  /**
   * Steps in one group share a concurrency limit; the scheduler releases them in plan order.
   * `control-plane-join`: rollout.controlPlaneParallelism; `worker-join`: rollout.workerParallelism.
   */
  group?: { name: 'control-plane-join' | 'worker-join'; limit: number };
  /** What the host waits for before this step, in words (status page, `kubeseed plan`). */
  waitsFor: string;
  /** Kinds of secret the released step carries. */
  secrets: SecretKind[];
}

/** A step's content once built: files to write and parameters. */
export interface BuiltStep {
  files: StepFile[];
  params: StepParams;
  /** Secret values inside `files`, for redaction (empty with placeholders). */
  redact: string[];
}

/** Neutral first-boot content, rendered to cloud-init or Ignition. */
export interface ProvisionFile {
  path: string;
  content: string;
  mode: number;
  owner?: string;
}

export interface SystemdUnit {
  name: string;
  contents: string;
  enabled: boolean;
  /** Start it during first boot (cloud-init runcmd / Ignition enablement). */
  start: boolean;
}

export interface Provisioning {
  hostname: string;
  fqdn?: string;
  files: ProvisionFile[];
  units: SystemdUnit[];
  /** First-boot commands as argv, in order (cloud-init runcmd; an Ignition oneshot unit). */
  commands: string[][];
  users: { name: string; sshAuthorizedKeys: string[] }[];
  /** chrony servers; empty keeps the image's default. */
  timeServers: string[];
  /** /etc/hosts lines to add (networking.hostsFile). */
  hostsEntries: { ip: string; names: string[] }[];
}

export interface HostPlan {
  name: string;
  role: Role;
  /** First-boot content; absent in plans made for the coordinator (`planRollout`), which never renders user-data. */
  provisioning?: Provisioning;
  /** Ids of this host's steps, in order. */
  steps: string[];
}

export interface ClusterPlan {
  spec: ClusterSpec;
  /** Every step of the rollout, in rollout order. */
  steps: PlannedStep[];
  hosts: HostPlan[];
  /** Fleet mode: the one generic first-boot content every unnamed machine gets. */
  fleet?: Provisioning;
  warnings: SpecIssue[];
}

/**
 * Inputs of planning that are not in the spec. Everything here is passed in so that planning
 * stays pure: same spec + same context → same bytes.
 */
export interface PlanContext {
  /** PEM of the coordinator's CA; pinned by the agent install in user-data. */
  coordinatorCa: string;
  /** Per-host enrollment credential (or the fleet credential under the key `*`). */
  enrollmentCredentials: Record<string, string>;
}
