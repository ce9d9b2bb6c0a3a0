/**
 * The coordinator's rollout records as they live in the store, and the snapshot the pure
 * scheduler reads. Plain JSON-serializable data: the store persists these shapes verbatim.
 */
import type { CloudInitReport, InstallFailureReason, Role, StepKind, StepOutcome, StepResults } from '../protocol/index.ts';

/** Host name used for steps the coordinator runs itself (Node deletion through the API server). */
export const COORDINATOR_HOST = '@coordinator';

/** Work kinds: the agent's step kinds plus `delete-node`, which the coordinator runs itself. */
export type WorkKind = StepKind | 'delete-node';

export type StepState =
  /** Not released yet (gate closed). */
  | 'pending'
  /** Handed to the agent (or waiting for it to fetch); no report yet. */
  | 'released'
  /** The agent reported progress, or success without the facts the gate needs (etcd voter…). */
  | 'running'
  | 'succeeded'
  /** Failed; will be released again at `retryAt`, once its cleanup steps have succeeded. */
  | 'retry-wait'
  /** Failed for good (permanent, or out of attempts): waits for `kubeseed retry`. */
  | 'failed'
  /** The host was removed or rebuilt: this step will never run. */
  | 'cancelled';

export interface StepReportRecord {
  attempt: number;
  outcome: StepOutcome;
  reason?: string;
  permanent?: boolean;
  /** Redacted and bounded server-side. */
  logTail: string;
  at: number;
}

export interface StepRecord {
  id: string;
  host: string;
  kind: WorkKind;
  /** `plan`: a step of the plan; the others are created by the coordinator (`snapshot`: spec.etcd.backup's schedule). */
  origin: 'plan' | 'cleanup' | 'upload-certs' | 'removal' | 'snapshot';
  /** Cleanup/removal steps: the node / etcd member they act on. */
  target?: string;
  /** Cleanup steps: the step whose retry waits for them. */
  forStep?: string;
  /** Coordinator-made steps: ids that must have succeeded (or been cancelled) first. */
  after?: string[];
  state: StepState;
  /** How many times the step has been released (the current attempt number once released). */
  attempt: number;
  /** Failures since the last `kubeseed retry`. */
  failures: number;
  releasedAt?: number;
  finishedAt?: number;
  retryAt?: number;
  /** Join steps: the bootstrap token id released with the current attempt. */
  tokenId?: string;
  /** A failed init/join must be cleaned up before its retry. */
  needsCleanup?: boolean;
  /** Ids of the cleanup steps created for the current failure. */
  cleanup?: string[];
  results: StepResults;
  lastReport?: StepReportRecord;
  /** Creation order of coordinator-made steps (plan steps use plan order). */
  seq: number;
}

export interface EnrollmentBinding {
  publicKey: string;
  machineId: string;
  smbiosUuid: string;
  macs: string[];
  hostname: string;
  arch: string;
  os: string;
  agentVersion: string;
  at: number;
  sourceAddress: string;
}

export interface HostRecord {
  name: string;
  role: Role;
  enrollment?: EnrollmentBinding;
  /** The enrollment credential was used; only the bound key/identity may present it again. */
  credentialSpent: boolean;
  /** Set by `kubeseed rebind`: the original credential may bind a new machine once. */
  rebindAllowed: boolean;
  removed: boolean;
  removedAt?: number;
  awaitingApproval: boolean;
  /**
   * Machines that claimed this host and wait for `kubeseed approve HOST --key FINGERPRINT` (fleet
   * matches of control-plane/etcd hosts, and every claim without the fleet credential). Approving
   * one binds it and rejects the others; the host stays unbound until then, so a squatter's claim
   * never locks the real machine out.
   */
  candidates?: EnrollmentCandidate[];
  /** Key fingerprints of candidates the operator's approval of another machine rejected (bounded). */
  rejectedKeys?: string[];
  /** The install script's beacon (POST /v1/install-failed, server/install-beacon.ts); a successful enrollment clears it. */
  installFailure?: InstallFailureRecord;
  /** cloud-init's own outcome, as the agent reported it in its (latest binding) enrollment. */
  cloudInit?: CloudInitRecord;
}

/** `install failed: <reason>` of a host whose agent could not be fetched, verified or started. */
export interface InstallFailureRecord {
  reason: InstallFailureReason;
  /** Printable text, redacted and bounded server-side. */
  logTail: string;
  /** Self-reported by the script, for the operator only. */
  hostname: string;
  machineId: string;
  arch: string;
  sourceAddress: string;
  /** The latest beacon, the first one, and how many arrived since the host last enrolled. */
  at: number;
  firstAt: number;
  count: number;
}

export interface CloudInitRecord extends CloudInitReport {
  at: number;
}

export interface EnrollmentCandidate extends EnrollmentBinding {
  /** `SHA256:` + unpadded base64 of the SHA-256 of the agent key's SPKI DER (what the operator approves). */
  keyFingerprint: string;
  /** When this key first claimed the host (`at` is the latest claim: agents re-enroll while they wait). */
  firstSeen: number;
  /** Which fact matched the spec host. */
  matchedBy: 'mac' | 'uuid' | 'hostname' | 'binding';
  /** False when the machine presented only the `unauthenticated` marker (booted over plain HTTP). */
  fleetCredential: boolean;
}

export interface InitLock {
  holder: string;
  acquiredAt: number;
  succeeded: boolean;
  succeededAt?: number;
}

export interface TokenRecord {
  id: string;
  /** The full `id.secret` token. Lives only in the store (state directory, 0600). */
  token: string;
  createdAt: number;
  expiresAt: number;
  /** `init`: created by kubeadm init from the released InitConfiguration; `api`: by the coordinator. */
  via: 'init' | 'api';
}

export interface SecurityEvent {
  seq: number;
  at: number;
  kind:
    | 'identity-mismatch'
    | 'credential-spent'
    | 'rebind-used'
    | 'removed-host-request'
    | 'enrollment-rate-limited'
    | 'unauthenticated-claim'
    | 'claim-rate-limited'
    | 'candidate-approved'
    | 'candidate-rejected'
    | 'install-failed';
  host?: string;
  sourceAddress: string;
  message: string;
  /**
   * This event's number among the events of its kind (1 = the first). Only the first and the
   * latest events of each kind are kept (server/rollout/security-events.ts), so a gap in `count` is the
   * number of events that were counted but not kept.
   */
  count?: number;
}

/** Everything the scheduler needs, read from the store at one instant. */
export interface RolloutSnapshot {
  hosts: Record<string, HostRecord>;
  steps: Record<string, StepRecord>;
  initLock?: InitLock;
  tokens: TokenRecord[];
  /** Last time each host's agent called the coordinator (in memory only; prefers live agents for cleanup). */
  lastSeen: Record<string, number>;
  /**
   * Derived from `steps`, kept current by the rollout model (server/rollout/rollout-model.ts) so a
   * scheduling pass needs no walk over every step record; absent, the scheduler derives it itself.
   */
  index?: StepIndex;
}

/** What the scheduler would otherwise derive from every step record (ADR 0037). */
export interface StepIndex {
  /** The highest `seq` of any step record (coordinator-made steps are numbered after it). */
  maxSeq: number;
  /** Hosts other than the coordinator with a released or running step. */
  busyHosts: ReadonlySet<string>;
  /** Ids of coordinator-made steps (`origin` not `plan`). */
  dynamic: ReadonlySet<string>;
  /** Ids of steps marked `needsCleanup`. */
  cleanup: ReadonlySet<string>;
  /** Ids of steps of a kind that uploads the kubeadm-certs Secret (kubeadm-init, upload-certs). */
  uploads: ReadonlySet<string>;
  /** Ids of steps that may hold a group slot: released or running, or failed/retry-wait needing cleanup. */
  occupying: ReadonlySet<string>;
}

export function createStepRecord(id: string, host: string, kind: WorkKind, origin: StepRecord['origin'], seq: number): StepRecord {
  return { id, host, kind, origin, state: 'pending', attempt: 0, failures: 0, results: {}, seq };
}

/** A certificate kubeseed issued that a host receives or the coordinator serves, and when it expires. */
export interface CertificateExpiry {
  /** Its file in the state directory (`kubeseed serve --state DIR`): `pki/etcd/members/etcd1/server.crt`, `tls/server.crt`. */
  file: string;
  /** The certificate's notAfter, ms since the epoch. */
  notAfter: number;
}

/** Below this many days of validity, `kubeseed status`, `kubeseed hosts` and the status page warn (docs/pki.md: renewal). */
export const CERTIFICATE_WARNING_DAYS = 30;

/** `2027-08-03` (UTC): the day a certificate expires. */
export function expiryDate(notAfter: number): string {
  return new Date(notAfter).toISOString().slice(0, 10);
}

/** `in 12 days`, `within a day`, or `expired`. */
export function expiryLeft(notAfter: number, now: number): string {
  const left = notAfter - now;
  if (left <= 0) return 'expired';
  const days = Math.floor(left / 86_400_000);
  return days === 0 ? 'within a day' : `in ${days} day${days === 1 ? '' : 's'}`;
}

/** The warning for `expiry` at `now`, or null while CERTIFICATE_WARNING_DAYS or more remain. */
export function certificateWarning(expiry: CertificateExpiry | null | undefined, now: number): string | null {
  if (!expiry || expiry.notAfter - now >= CERTIFICATE_WARNING_DAYS * 86_400_000) return null;
  const when = expiryDate(expiry.notAfter);
  if (expiry.notAfter <= now) return `certificate ${expiry.file} EXPIRED on ${when}: renew it now (docs/pki.md, "Renewing certificates")`;
  return `certificate ${expiry.file} expires on ${when} (${expiryLeft(expiry.notAfter, now)}): renew it (docs/pki.md, "Renewing certificates")`;
}

/**
 * A failed step in the operator's words (`kubeseed status`, `kubeseed hosts`, the page): a host
 * preparation by the reason the agent classified (`prepare failed: repository-unreachable`), any
 * other step by its kind and reason (`kubeadm-join-worker: kubeadm-exit-1`).
 */
export function describeFailure(step: { id: string; kind: string; lastReport?: { reason?: string } }): string {
  const reason = step.lastReport?.reason ?? 'failed';
  if (step.kind === 'prepare-host') return `prepare failed: ${reason}`;
  return `${shortStep(step.id)}: ${reason}`;
}

/** The kind of a step id without the host prefix (`cp1/kubeadm-init` → `kubeadm-init`). */
export function shortStep(id: string): string {
  const slash = id.indexOf('/');
  return slash === -1 ? id : id.slice(slash + 1);
}
