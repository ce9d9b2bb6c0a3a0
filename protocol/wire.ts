/**
 * The agent↔coordinator wire protocol, version 1. Shared by both sides; the coordinator also
 * compiles these shapes into JSON schemas for Fastify (see `schemas.ts`).
 *
 * Transport: HTTPS only, the coordinator's certificate pinned by its CA in user-data.
 * Authentication:
 *   - POST /v1/enroll carries the one-time enrollment credential (per host, or the fleet
 *     credential) plus the agent's freshly generated ECDSA P-256 public key and machine facts.
 *   - Every later request is signed with that key: headers
 *       x-kubeseed-host:      the host name returned by enroll
 *       x-kubeseed-timestamp: milliseconds since the epoch (±5 min accepted; replays refused)
 *       x-kubeseed-nonce:     16+ random hex chars, never reused
 *       x-kubeseed-signature: base64 ECDSA-SHA256 (DER) over `canonicalRequest(...)`
 */
import type { CertificateFacts } from './certificate-facts.ts';
import type { EndpointTarget, Role, StepFile, StepKind, StepParamsOf } from './steps.ts';

export const PROTOCOL_VERSION = 1;
export const API_PREFIX = '/v1';

export const HEADER_HOST = 'x-kubeseed-host';
export const HEADER_TIMESTAMP = 'x-kubeseed-timestamp';
export const HEADER_NONCE = 'x-kubeseed-nonce';
export const HEADER_SIGNATURE = 'x-kubeseed-signature';
/** Clock skew tolerated on signed requests (the agent also waits loudly above 30 s of skew). */
export const SIGNATURE_WINDOW_MS = 5 * 60 * 1000;

/** The exact bytes that are signed: method, path with query, timestamp, nonce, SHA-256 hex of the body. */
export function canonicalRequest(method: string, pathWithQuery: string, timestamp: string, nonce: string, bodySha256Hex: string): string {
  return ['kubeseed-v1', method.toUpperCase(), pathWithQuery, timestamp, nonce, bodySha256Hex].join('\n');
}

/** What the machine says about itself. Self-reported: used for binding and fleet matching, never as proof. */
export interface MachineFacts {
  machineId: string;
  /** /sys/class/dmi/id/product_uuid, lower-case; empty when unreadable. */
  smbiosUuid: string;
  /** Lower-case colon-separated MACs of physical NICs. */
  macs: string[];
  hostname: string;
  arch: 'amd64' | 'arm64' | string;
  os: string;
  /** The agent's wall clock, ms since the epoch, when it sent the request. */
  clock: number;
  agentVersion: string;
}

export interface EnrollRequest {
  protocol: number;
  /** Per-host enrollment credential from user-data, or the fleet credential in fleet mode. */
  credential: string;
  /** The spec host name this user-data was made for; absent in fleet mode. */
  host?: string;
  /** PEM SPKI of the agent's ECDSA P-256 key. */
  publicKey: string;
  facts: MachineFacts;
  /** What `cloud-init status --long` said when the agent started (absent on Ignition hosts). */
  cloudInit?: CloudInitReport;
}

/**
 * cloud-init's own outcome on this host (`cloud-init status --long [--format json]`, read without
 * `--wait`: the agent runs after cloud-final). Errors and recoverable errors are cloud-init's own
 * words, bounded (CLOUD_INIT_MAX_MESSAGES entries of CLOUD_INIT_MAX_MESSAGE characters).
 */
export interface CloudInitReport {
  /** `status`: done | error | running | disabled | not run | not started | unknown. */
  status: string;
  /** `extended_status` (cloud-init ≥ 23.4), e.g. `degraded done`; absent before. */
  extendedStatus?: string;
  /** The exit code of `cloud-init status`: 0 fine, 1 error, 2 recoverable errors (≥ 23.4); null when it did not run to the end. */
  exitCode: number | null;
  errors: string[];
  /** `recoverable_errors` flattened to `LEVEL: message` (cloud-init ≥ 23.4; WARNING and DEPRECATED log lines). */
  recoverableErrors: string[];
}

export const CLOUD_INIT_MAX_MESSAGES = 20;
export const CLOUD_INIT_MAX_MESSAGE = 500;
/** `status` and `extendedStatus` are cut to this many characters. */
export const CLOUD_INIT_MAX_STATUS = 64;

/**
 * POST /v1/install-failed: the first-boot install script could not fetch, verify or start the agent
 * (templates/install-agent.ts). Authenticated by the host's enrollment credential like /v1/enroll,
 * HTTPS with the pinned CA only (ADR 0019); it changes nothing but the host's `install failed`
 * mark and returns nothing secret.
 */
export interface InstallFailedRequest {
  protocol: number;
  credential: string;
  /** The spec host name from the agent configuration; absent in fleet mode. */
  host?: string;
  reason: InstallFailureReason;
  /** The last lines of curl/systemctl/install output, printable ASCII, at most INSTALL_FAILED_TAIL_MAX characters. */
  logTail: string;
  /** Self-reported, for the operator's eyes only: `uname -n`, /etc/machine-id, `uname -m`. */
  hostname: string;
  machineId: string;
  arch: string;
}

export const INSTALL_FAILURE_REASONS = [
  'unsupported-arch',
  'agent-download-failed',
  'checksum-download-failed',
  'agent-checksum-mismatch',
  'agent-corrupt',
  'agent-not-runnable',
  'disk-full',
  'agent-install-failed',
  'unit-start-failed',
] as const;
export type InstallFailureReason = (typeof INSTALL_FAILURE_REASONS)[number];
export const INSTALL_FAILED_TAIL_MAX = 4096;

export interface InstallFailedResponse {
  /** true when the host's mark was written (or already said the same); false for a fleet machine (recorded as an event only). */
  recorded: boolean;
}

export interface EnrollResponse {
  host: string;
  role: Role;
  /** Coordinator clock, ms since the epoch, for the agent's skew check. */
  serverTime: number;
  /** true when the host must wait for `kubeseed approve` (fleet match for control-plane/etcd, or no match). */
  awaitingApproval: boolean;
  /** Kubernetes version and endpoint the host's preflight checks against. */
  kubernetesVersion: string;
  endpoint: EndpointTarget;
  /**
   * true when the host's plan starts with prepare-host (cloud-init hosts): its package checks wait
   * for that step. Absent (Ignition hosts, a coordinator that plans no such step): every check runs.
   */
  prepareHost?: boolean;
}

/** GET /v1/next?wait=ms — long-poll. 200 with a step, or 204 when nothing was released within `wait`. */
export interface NextResponse {
  step: ReleasedStep | null;
  /** Set when the host has nothing left to do: the agent disables itself and deletes its credential. */
  done: boolean;
  /** Human words for what the host waits for (shown by the agent's log too). */
  waitingFor?: string;
  serverTime: number;
}

/**
 * A step of kind `K` as the coordinator hands it out, with the secrets it needs filled in. For a
 * union of kinds, a union discriminated by `kind` (each kind with its own params).
 */
export type ReleasedStepOf<K extends StepKind> = K extends StepKind
  ? {
      id: string;
      kind: K;
      host: string;
      /** 1 for the first release; incremented on every retry. Reports must echo it. */
      attempt: number;
      files: StepFile[];
      params: StepParamsOf<K>;
      /** Secret values released with this step: the agent redacts each from every output it reports or logs. */
      redact: string[];
    }
  : never;

/** A released step of any kind. */
export type ReleasedStep = ReleasedStepOf<StepKind>;

export type StepOutcome = 'succeeded' | 'failed' | 'running';

/** Facts a step establishes, which open later gates. */
export interface StepResults {
  etcdHealthy?: boolean;
  /** stacked join: the member is a voter and no learner is left. */
  etcdVoter?: boolean;
  nodeRegistered?: boolean;
  apiServerReady?: boolean;
  vipHeld?: boolean;
  portOpen?: boolean;
  nodesReady?: string[];
  /** Control planes: the certificates kubeadm keeps on this host, read after the step (issue 22). */
  kubeadmCertificates?: KubeadmCertificate[];
}

/**
 * One certificate kubeadm made and keeps on a control plane (a leaf under /etc/kubernetes/pki or
 * the client certificate embedded in a kubeconfig), as the agent read it there: what `kubeadm
 * certs check-expiration` lists, so the coordinator can warn before it expires.
 */
export interface KubeadmCertificate extends CertificateFacts {
  /** Host path; a kubeconfig's embedded client certificate is named by the kubeconfig's path. */
  path: string;
}

/** POST /v1/report */
export interface ReportRequest {
  stepId: string;
  attempt: number;
  outcome: StepOutcome;
  /** Already redacted by the agent; the coordinator redacts again and bounds it. */
  logTail: string;
  /** Short machine-readable reason on failure (e.g. 'kubeadm-exit-1', 'timeout'). */
  reason?: string;
  /** true when the failure cannot be fixed by retrying (bad config), so the coordinator should not back off-and-retry. */
  permanent?: boolean;
  results?: StepResults;
  startedAt: number;
  finishedAt?: number;
}

export interface ReportResponse {
  accepted: boolean;
}

/** POST /v1/heartbeat: liveness plus what the agent is doing (preflight waits included). */
export interface HeartbeatRequest {
  phase: string;
  message?: string;
  clock: number;
}

/** Every error body the API returns. 5xx bodies are generic; `code` is stable. */
export interface ErrorBody {
  error: string;
  code: string;
  message: string;
}

/** Error codes (stable, documented in docs/protocol.md). */
export const ERROR_CODES = {
  badRequest: 'BAD_REQUEST',
  unauthorized: 'UNAUTHORIZED',
  credentialSpent: 'CREDENTIAL_SPENT',
  identityMismatch: 'IDENTITY_MISMATCH',
  unknownHost: 'UNKNOWN_HOST',
  rateLimited: 'RATE_LIMITED',
  staleAttempt: 'STALE_ATTEMPT',
  notFound: 'NOT_FOUND',
  /** The request conflicts with the rollout's state (e.g. rebinding the host that ran kubeadm init). */
  conflict: 'CONFLICT',
  payloadTooLarge: 'PAYLOAD_TOO_LARGE',
  protocolVersion: 'PROTOCOL_VERSION',
  unavailable: 'UNAVAILABLE',
  internal: 'INTERNAL',
} as const;
