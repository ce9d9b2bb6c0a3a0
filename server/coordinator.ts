/**
 * The coordinator core: enrollment, step delivery (long-poll), reports, heartbeats and operator
 * actions, over a Store. Every state change ends in `reconcile()`, which runs the pure scheduler
 * and commits its decisions in one compare-and-swap transaction, then wakes the long-polls of the
 * hosts that got a step — in the same event-loop turn, no polling interval. Responses wait until
 * the state they reveal is durable (`store.flushed()`), and secrets are audited before they leave.
 *
 * Runtime contract: one process owns the state directory; all methods are safe to call
 * concurrently (single event loop; CAS guards every write).
 */

import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { BuiltStep, ClusterPlan, PlannedStep, SecretKind, SecretSource } from '../generator/plan/types.ts';
import { describeEndpoint } from '../generator/spec/endpoint.ts';
import {
  type EnrollRequest,
  type EnrollResponse,
  ERROR_CODES,
  type HeartbeatRequest,
  type InstallFailedRequest,
  type InstallFailedResponse,
  type NextResponse,
  PROTOCOL_VERSION,
  type ReleasedStep,
  type ReportRequest,
  type ReportResponse,
} from '../protocol/index.ts';
import { Redactor } from '../protocol/redact.ts';
import type { AuditLog } from './audit-log.ts';
import { FailureRateLimiter, NonceCache, parseAgentPublicKey, type SignedRequest, verifySignedRequest } from './auth.ts';
import { type CertificateExpiry, summarizeExpiry, type TrackedCertificate } from './certificates.ts';
import {
  ClaimLimiter,
  type ClaimLimits,
  DEFAULT_CLAIM_LIMITS,
  describeCandidate,
  findCandidate,
  keyFingerprint,
  pickCandidate,
  RateLimitedError,
  withCandidate,
} from './enrollment-guard.ts';
import { ApiError, conflict, notFound, unauthorized } from './errors.ts';
import { FLEET_HOST, type MatchedBy, matchFleetHost } from './fleet-match.ts';
import type { CloudInitStatus, InstallFailedStatus } from './host-notes.ts';
import { afterEnrollment, describeBeacon, hostNotes, recordInstallFailure } from './install-beacon.ts';
import type { KubernetesApi } from './kubernetes-api.ts';
import { boundLogTail } from './log-tail.ts';
import {
  COORDINATOR_HOST,
  createStepRecord,
  describeFailure,
  type EnrollmentBinding,
  type EnrollmentCandidate,
  type HostRecord,
  type InitLock,
  type RolloutSnapshot,
  type SecurityEvent,
  type StepRecord,
  type TokenRecord,
} from './model.ts';
import {
  applyReport,
  createSchedulerConfig,
  currentToken,
  type Decision,
  decide,
  doneHosts,
  indexPlan,
  isHostDone,
  planRemoval,
  requeueFailed,
  type SchedulerConfig,
} from './scheduler.ts';
import { SecurityEventLog } from './security-events.ts';
import { type Store, StoreError, type StoreTxn } from './store/index.ts';

export interface Clock {
  now(): number;
}

export interface RandomSource {
  bytes(n: number): Buffer;
}

/** Checks a presented enrollment credential against the stored hash records (generator/state). */
export interface EnrollmentVerifier {
  /**
   * Returns the host the credential belongs to, or null. `host` is what the agent claims (absent
   * in fleet mode). For a valid fleet credential return `{host: FLEET_HOST}` ('*'): the coordinator
   * then matches the request's machine facts against the spec's hosts (server/fleet-match.ts). `requiresApproval`
   * holds the host until `kubeseed approve`.
   */
  verify(host: string | undefined, credential: string): Promise<EnrollmentMatch | null> | EnrollmentMatch | null;
}

export interface EnrollmentMatch {
  host: string;
  requiresApproval?: boolean;
}

/** generator/plan buildStep: `extras.memberName` names the member an `etcd-member-remove` removes. */
export type BuildStepFn = (plan: ClusterPlan, step: PlannedStep, secrets: SecretSource, extras?: { memberName?: string }) => BuiltStep;

/** What the coordinator needs from the outside world; `kubeseed serve` builds it from the state directory. */
export interface CoordinatorInputs {
  plan: ClusterPlan;
  secrets: SecretSource;
  buildStep: BuildStepFn;
  /** Coordinator TLS identity (PEM); `ca` is what user-data pins. */
  tls: { cert: string; key: string; ca: string };
  enrollment: EnrollmentVerifier;
  operatorToken: string;
  clock?: Clock;
  random?: RandomSource;
  /** The certificates hosts receive and the coordinator serves, read when the state was loaded (server/certificates.ts). */
  certificates?: readonly TrackedCertificate[];
}

export interface CoordinatorOptions {
  store: Store;
  audit: AuditLog;
  /** Absent until the lead wires the API-server client; token renewal and Node deletion then wait, visibly. */
  kubernetes?: KubernetesApi;
  scheduler?: Partial<SchedulerConfig>;
  /** Failed enrollments per source address per minute before 429. */
  enrollFailureLimit?: number;
  /**
   * Limits on new claims without a credential (fleet mode, `unauthenticated`), and the same limits,
   * counted separately, on install-failed beacons; see enrollment-guard.ts.
   */
  claimLimits?: Partial<ClaimLimits>;
  /** Upper bound of a long-poll (ms). */
  maxWaitMs?: number;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Shared with the logger so released values never reach a log line. */
  redactor?: Redactor;
}

export type CoordinatorEvent =
  | { type: 'step'; step: StepStatus }
  | { type: 'host'; host: string }
  | { type: 'security'; event: SecurityEvent }
  | { type: 'heartbeat'; host: string; phase: string; message?: string }
  | { type: 'token'; id: string; expiresAt: number };

export interface StepStatus {
  id: string;
  kind: string;
  host: string;
  origin: StepRecord['origin'];
  state: StepRecord['state'];
  attempt: number;
  failures: number;
  target?: string;
  releasedAt?: number;
  finishedAt?: number;
  retryAt?: number;
  lastReport?: { outcome: string; reason?: string; logTail: string; at: number };
}

export interface HostStatus {
  name: string;
  role: string;
  enrolled: boolean;
  removed: boolean;
  awaitingApproval: boolean;
  done: boolean;
  failed: boolean;
  /** The failed step in words (`prepare failed: repository-unreachable`), when `failed`. */
  failure?: string;
  currentStep: string | null;
  waitingFor: string | null;
  phase: string | null;
  message: string | null;
  lastSeen: number | null;
  /** Agent clock minus coordinator clock at the last heartbeat (the agent waits above 30 s). */
  clockSkewMs?: number;
  /** The earliest-expiring certificate this host received from the coordinator (absent: it receives none). */
  certificateExpiry?: CertificateExpiry;
  /** Machines waiting for `kubeseed approve HOST --key FINGERPRINT` (fleet mode). */
  candidates?: CandidateStatus[];
  /** The install script could not fetch, verify or start the agent (POST /v1/install-failed); cleared by enrollment. */
  installFailed?: InstallFailedStatus;
  /** cloud-init's own outcome reported at enrollment (a warning when it has errors). */
  cloudInit?: CloudInitStatus;
  steps: StepStatus[];
}

/** What the operator compares before approving a machine (never the key itself). */
export interface CandidateStatus {
  keyFingerprint: string;
  machineId: string;
  smbiosUuid: string;
  macs: string[];
  hostname: string;
  sourceAddress: string;
  matchedBy: MatchedBy;
  fleetCredential: boolean;
  firstSeen: number;
  lastSeen: number;
}

export interface RolloutStatus {
  cluster: { name: string; topology: string; kubernetesVersion: string; certificateDistribution: string };
  serverTime: number;
  done: boolean;
  initLock: InitLock | null;
  token: { id: string; expiresAt: number } | null;
  counts: { hosts: number; enrolled: number; done: number; failed: number };
  hosts: HostStatus[];
  coordinatorSteps: StepStatus[];
  securityEvents: SecurityEvent[];
  /** The earliest expiry among every certificate hosts receive and the coordinator's own TLS (absent: not known to this coordinator). */
  certificateExpiry?: CertificateExpiry | null;
}

const HOST_PREFIX = 'host/';
const STEP_PREFIX = 'step/';
const TOKEN_PREFIX = 'token/';
/** Records that hold secrets (bootstrap tokens; steps with their reported log tails): sealed at rest under a passphrase. */
export const SECRET_RECORD_PREFIXES: readonly string[] = [STEP_PREFIX, TOKEN_PREFIX];
const LOCK_KEY = 'lock/init';
const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

interface Waiter {
  wake: () => void;
}

const noopLog = { info() {}, warn() {}, error() {} };

function sameIdentity(a: HostRecord['enrollment'], facts: EnrollRequest['facts']): boolean {
  if (!a) return false;
  const macs = [...facts.macs].map((m) => m.toLowerCase()).sort();
  return (
    a.machineId === facts.machineId &&
    a.smbiosUuid === facts.smbiosUuid.toLowerCase() &&
    a.macs.length === macs.length &&
    a.macs.every((m, i) => m === macs[i])
  );
}

export class Coordinator {
  readonly events = new EventEmitter();
  readonly redactor: Redactor;
  readonly config: SchedulerConfig;
  private readonly plan: ClusterPlan;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly log: NonNullable<CoordinatorOptions['log']>;
  private readonly nonces = new NonceCache();
  private readonly limiter: FailureRateLimiter;
  private readonly claims: ClaimLimiter;
  /** Install-failed beacons per source address and in total (server/install-beacon.ts). */
  private readonly beacons: ClaimLimiter;
  private readonly securityLog: SecurityEventLog;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly keys = new Map<string, KeyObject>();
  private readonly lastSeen: Record<string, number> = {};
  private readonly heartbeats = new Map<string, { phase: string; message?: string; at: number; skewMs: number }>();
  /** Earliest certificate expiry overall and per host: computed once, certificates do not change while serving. */
  private readonly expiry: ReturnType<typeof summarizeExpiry> | undefined;
  private waiting: Record<string, string> = {};
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private retryTimer: NodeJS.Timeout | undefined;
  private minting = false;
  private mintNotBefore = 0;
  private mintFailures = 0;
  private readonly coordinatorRuns = new Set<string>();
  private stopped = false;

  constructor(
    private readonly inputs: CoordinatorInputs,
    private readonly options: CoordinatorOptions,
  ) {
    this.plan = inputs.plan;
    this.store = options.store;
    this.clock = inputs.clock ?? { now: () => Date.now() };
    this.expiry = inputs.certificates ? summarizeExpiry(inputs.certificates) : undefined;
    this.random = inputs.random ?? { bytes: (n) => randomBytes(n) };
    this.log = options.log ?? noopLog;
    this.redactor = options.redactor ?? new Redactor();
    this.config = createSchedulerConfig(this.plan, options.scheduler);
    this.limiter = new FailureRateLimiter(options.enrollFailureLimit ?? 10, 60_000);
    this.claims = new ClaimLimiter({ ...DEFAULT_CLAIM_LIMITS, ...options.claimLimits });
    this.beacons = new ClaimLimiter({ ...DEFAULT_CLAIM_LIMITS, ...options.claimLimits });
    this.securityLog = new SecurityEventLog(options.store);
    this.events.setMaxListeners(0);
  }

  /** Creates records for plan hosts and steps the store has never seen (first start, late-added hosts), then schedules. */
  async start(): Promise<void> {
    const puts: StoreTxn['puts'] = [];
    const checks: StoreTxn['checks'] = [];
    for (const host of this.plan.hosts) {
      const key = HOST_PREFIX + host.name;
      if (this.store.get(key)) continue;
      const record: HostRecord = {
        name: host.name,
        role: host.role,
        credentialSpent: false,
        rebindAllowed: false,
        removed: false,
        awaitingApproval: false,
      };
      puts.push({ key, value: record });
      checks.push({ key, version: 0 });
    }
    for (const step of this.plan.steps) {
      const key = STEP_PREFIX + step.id;
      if (this.store.get(key)) continue;
      puts.push({ key, value: createStepRecord(step.id, step.host, step.kind, 'plan', 0) });
      checks.push({ key, version: 0 });
    }
    if (puts.length > 0) await this.store.commit({ puts, checks });
    for (const token of this.store.list<TokenRecord>(TOKEN_PREFIX)) this.redactor.add([token.value.token]);
    this.reconcile();
    await this.store.flushed();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.wakeTimer);
    clearTimeout(this.retryTimer);
    for (const set of this.waiters.values()) for (const w of set) w.wake();
  }

  now(): number {
    return this.clock.now();
  }

  // ───────────────────────────── snapshot and reconcile ─────────────────────────────

  /** The host records by name: what the PXE route needs per request, without steps and tokens. */
  hostRecords(): RolloutSnapshot['hosts'] {
    const hosts: RolloutSnapshot['hosts'] = {};
    for (const r of this.store.list<HostRecord>(HOST_PREFIX)) hosts[r.value.name] = r.value;
    return hosts;
  }

  snapshot(): RolloutSnapshot {
    const hosts = this.hostRecords();
    const steps: RolloutSnapshot['steps'] = {};
    for (const r of this.store.list<StepRecord>(STEP_PREFIX)) steps[r.value.id] = r.value;
    const lock = this.store.get<InitLock>(LOCK_KEY)?.value;
    return {
      hosts,
      steps,
      ...(lock ? { initLock: lock } : {}),
      tokens: this.store.list<TokenRecord>(TOKEN_PREFIX).map((r) => r.value),
      lastSeen: { ...this.lastSeen },
    };
  }

  private version(key: string): number {
    return this.store.get(key)?.version ?? 0;
  }

  /** Runs the scheduler and commits its decisions. Synchronous up to the commit; safe to call any time. */
  reconcile(): void {
    if (this.stopped) return;
    for (let round = 0; round < 4; round++) {
      const snapshot = this.snapshot();
      const now = this.clock.now();
      const schedule = decide(snapshot, this.plan, now, this.config);
      this.waiting = schedule.waiting;
      this.scheduleWake(schedule.nextWakeAt);
      const committed = this.commitDecisions(snapshot, schedule.decisions, now);
      if (schedule.decisions.some((d) => d.type === 'mint-token')) this.mintToken();
      if (!committed) break;
    }
    this.runCoordinatorSteps();
  }

  private commitDecisions(snapshot: RolloutSnapshot, decisions: Decision[], now: number): boolean {
    const working = new Map<string, StepRecord>();
    const created = new Set<string>();
    const puts: NonNullable<StoreTxn['puts']> = [];
    const checks: NonNullable<StoreTxn['checks']> = [];
    const released: StepRecord[] = [];
    const get = (id: string) => working.get(id) ?? snapshot.steps[id];
    for (const decision of decisions) {
      if (decision.type === 'create-steps') {
        for (const step of decision.steps) {
          working.set(step.id, step);
          created.add(step.id);
        }
        if (decision.cleanupFor) {
          const target = get(decision.cleanupFor);
          if (target) working.set(target.id, { ...target, cleanup: decision.steps.map((s) => s.id) });
        }
      } else if (decision.type === 'release') {
        const base =
          get(decision.stepId) ??
          createStepRecord(decision.stepId, decision.host, indexPlan(this.plan).byId.get(decision.stepId)!.kind, 'plan', 0);
        const next: StepRecord = { ...base, state: 'released', attempt: decision.attempt, releasedAt: now };
        delete next.lastReport;
        if (decision.acquireInitLock) {
          checks.push({ key: LOCK_KEY, version: this.version(LOCK_KEY) });
          puts.push({ key: LOCK_KEY, value: { holder: decision.host, acquiredAt: now, succeeded: false } satisfies InitLock });
        }
        if (decision.mintInitToken) {
          const token = this.newToken(now, 'init');
          puts.push({ key: TOKEN_PREFIX + token.id, value: token });
          checks.push({ key: TOKEN_PREFIX + token.id, version: 0 });
          next.tokenId = token.id;
        } else if (decision.tokenId !== undefined) {
          next.tokenId = decision.tokenId;
        }
        working.set(next.id, next);
        released.push(next);
      }
    }
    if (working.size === 0) return false;
    for (const [id, record] of working) {
      const key = STEP_PREFIX + id;
      puts.push({ key, value: record });
      checks.push({ key, version: created.has(id) ? 0 : this.version(key) });
    }
    this.store.commit({ puts, checks }).then(
      (result) => {
        if (!result.ok) {
          this.log.warn({ conflicts: result.conflicts }, 'scheduler commit conflicted; rescheduling');
          this.scheduleRetry();
        }
      },
      (error) => {
        this.log.error({ err: error }, 'could not persist scheduler decisions; will retry');
        this.scheduleRetry();
      },
    );
    for (const record of released) {
      this.log.info({ step: record.id, host: record.host, attempt: record.attempt }, 'step released');
      this.emitStep(record);
      this.wakeHost(record.host);
    }
    for (const id of created) if (!released.some((r) => r.id === id)) this.emitStep(working.get(id)!);
    return true;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.reconcile();
    }, 500);
    this.retryTimer.unref();
  }

  private scheduleWake(at: number | undefined): void {
    if (at === undefined) return;
    if (this.wakeTimer && at >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    const delay = Math.min(Math.max(0, at - this.clock.now()), 60_000);
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.reconcile();
    }, delay);
    this.wakeTimer.unref();
  }

  // ───────────────────────────── tokens and coordinator-run steps ─────────────────────────────

  private randomString(length: number): string {
    let out = '';
    while (out.length < length) {
      for (const byte of this.random.bytes(length * 2)) {
        // Rejection sampling keeps the 36-letter alphabet uniform.
        if (byte < 252 && out.length < length) out += TOKEN_ALPHABET[byte % 36];
      }
    }
    return out;
  }

  private newToken(now: number, via: TokenRecord['via']): TokenRecord {
    const id = this.randomString(6);
    const token: TokenRecord = {
      id,
      token: `${id}.${this.randomString(16)}`,
      createdAt: now,
      expiresAt: now + this.config.tokenTtlMs,
      via,
    };
    this.redactor.add([token.token]);
    return token;
  }

  /** Creates a fresh bootstrap token through the API server, then records it. One at a time, with backoff. */
  private mintToken(): void {
    const kubernetes = this.options.kubernetes;
    if (this.minting || this.clock.now() < this.mintNotBefore) return;
    if (!kubernetes) {
      if (this.mintFailures++ === 0) this.log.warn({}, 'a bootstrap token must be minted but no API-server client is configured');
      return;
    }
    this.minting = true;
    const now = this.clock.now();
    const token = this.newToken(now, 'api');
    const [id, secret] = token.token.split('.') as [string, string];
    kubernetes
      .createBootstrapToken({ id, secret, expiresAt: token.expiresAt, description: 'kubeseed coordinator: node joins' })
      .then(async () => {
        await this.store.commit({ puts: [{ key: TOKEN_PREFIX + id, value: token }], checks: [{ key: TOKEN_PREFIX + id, version: 0 }] });
        this.mintFailures = 0;
        this.log.info({ tokenId: id, expiresAt: new Date(token.expiresAt).toISOString() }, 'bootstrap token created');
        this.events.emit('event', { type: 'token', id, expiresAt: token.expiresAt } satisfies CoordinatorEvent);
      })
      .catch((error: unknown) => {
        this.mintFailures++;
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.mintFailures, 6));
        this.mintNotBefore = this.clock.now() + delay;
        this.log.warn({ err: this.redactor.redact(String(error)) }, 'bootstrap token creation failed; retrying');
        this.scheduleWake(this.mintNotBefore);
      })
      .finally(() => {
        this.minting = false;
        this.reconcile();
      });
  }

  /** Runs the released steps whose host is the coordinator itself (Node deletion through the API server). */
  private runCoordinatorSteps(): void {
    for (const r of this.store.list<StepRecord>(STEP_PREFIX + COORDINATOR_HOST)) {
      const record = r.value;
      if (record.state !== 'released' || this.coordinatorRuns.has(record.id)) continue;
      const kubernetes = this.options.kubernetes;
      this.coordinatorRuns.add(record.id);
      const started = this.clock.now();
      // Without an API-server client (demo, tests) the Node cannot be deleted; say so and move on:
      // a re-join after `kubeadm reset` overwrites a NotReady Node of the same name.
      const run = kubernetes
        ? kubernetes.deleteNode(record.target ?? '')
        : Promise.reject(new Error('skipped: no API-server client configured'));
      run
        .then(
          () => ({ outcome: 'succeeded' as const, logTail: `Node ${record.target} deleted` }),
          (error: unknown) => ({ outcome: kubernetes ? ('failed' as const) : ('succeeded' as const), logTail: String(error) }),
        )
        .then(async (result) => {
          const current = this.store.get<StepRecord>(STEP_PREFIX + record.id);
          if (!current || current.value.attempt !== record.attempt || current.value.state !== 'released') return;
          const updated = applyReport(
            this.plan,
            current.value,
            { outcome: result.outcome, attempt: record.attempt },
            this.redactor.redact(result.logTail),
            this.clock.now(),
            this.config,
          );
          await this.store.commit({
            puts: [{ key: current.key, value: updated }],
            checks: [{ key: current.key, version: current.version }],
          });
          this.emitStep(updated);
          this.log.info({ step: record.id, outcome: result.outcome, ms: this.clock.now() - started }, 'coordinator step finished');
        })
        .catch((error: unknown) => this.log.error({ err: error }, 'coordinator step could not be recorded'))
        .finally(() => {
          this.coordinatorRuns.delete(record.id);
          this.reconcile();
        });
    }
  }

  // ───────────────────────────── agent API ─────────────────────────────

  /** Requests that present an enrollment credential: refused while the address is blocked for failed ones, or in another protocol. */
  private admitCredentialRequest(protocol: number, sourceAddress: string, now: number): void {
    if (this.limiter.blocked(sourceAddress, now)) {
      throw new RateLimitedError('too many failed enrollments from this address; wait a minute', 60);
    }
    if (protocol !== PROTOCOL_VERSION) {
      throw new ApiError(
        400,
        ERROR_CODES.protocolVersion,
        `protocol ${protocol} is not supported; this coordinator speaks ${PROTOCOL_VERSION}`,
      );
    }
  }

  /** POST /v1/enroll. */
  async enroll(request: EnrollRequest, sourceAddress: string): Promise<EnrollResponse> {
    const now = this.clock.now();
    this.admitCredentialRequest(request.protocol, sourceAddress, now);
    const { pem } = parseAgentPublicKey(request.publicKey);
    let verified = await this.inputs.enrollment.verify(request.host, request.credential);
    /** Set for a fleet claim that must wait as a candidate (server/enrollment-guard.ts). */
    let claim: { matchedBy: MatchedBy; fleetCredential: boolean } | undefined;
    if (verified?.host === FLEET_HOST) {
      // A machine booted from content served over plain HTTP carries no credential: the verifier
      // marks it (requiresApproval), and whatever it matches waits for `kubeseed approve`.
      const unauthenticated = verified.requiresApproval === true;
      const match = matchFleetHost(this.plan.spec.hosts, this.snapshot().hosts, request.facts);
      if (unauthenticated) await this.admitUnauthenticatedClaim(request, pem, match, sourceAddress, now);
      if ('error' in match) {
        await this.enrollmentFailed(sourceAddress, now);
        const rejectedFor = this.rejectedHostOf(keyFingerprint(pem));
        if (rejectedFor) {
          throw new ApiError(
            409,
            ERROR_CODES.identityMismatch,
            `the operator approved another machine for ${rejectedFor}; this one was rejected`,
          );
        }
        if (match.error === 'ambiguous') throw conflict(match.message);
        throw new ApiError(404, ERROR_CODES.unknownHost, match.message);
      }
      const requiresApproval = unauthenticated || match.requiresApproval;
      verified = { host: match.host, requiresApproval };
      if (requiresApproval && match.matchedBy !== 'binding') claim = { matchedBy: match.matchedBy, fleetCredential: !unauthenticated };
    }
    if (!verified) {
      await this.enrollmentFailed(sourceAddress, now);
      // One answer whether or not the named host exists: a wrong credential must not reveal the plan's host names.
      throw unauthorized('enrollment credential is not valid for this host');
    }
    const key = HOST_PREFIX + verified.host;
    const stored = this.store.get<HostRecord>(key);
    if (!stored) throw new ApiError(404, ERROR_CODES.unknownHost, `host ${verified.host} is not in this coordinator's plan`);
    const host = stored.value;
    if (host.removed) {
      await this.enrollmentFailed(sourceAddress, now);
      await this.securityEvent('removed-host-request', host.name, sourceAddress, `enrollment for removed host ${host.name} refused`);
      throw new ApiError(409, ERROR_CODES.credentialSpent, `host ${host.name} was removed from the rollout`);
    }
    if (host.enrollment) {
      const sameKey = host.enrollment.publicKey === pem;
      const sameMachine = sameIdentity(host.enrollment, request.facts);
      if (sameKey && sameMachine) return this.enrollResponse(host);
      await this.enrollmentFailed(sourceAddress, now);
      if (!sameMachine) {
        await this.securityEvent(
          'identity-mismatch',
          host.name,
          sourceAddress,
          `credential of ${host.name} presented by another machine (machine-id ${request.facts.machineId || '?'}, MACs ${request.facts.macs.join(',') || '?'}); refused — a cloned VM or a copied user-data? Use \`kubeseed rebind ${host.name}\` if the machine was rebuilt`,
        );
        throw new ApiError(
          409,
          ERROR_CODES.identityMismatch,
          `host ${host.name} is bound to another machine; run \`kubeseed rebind ${host.name}\` if it was rebuilt`,
        );
      }
      await this.securityEvent(
        'credential-spent',
        host.name,
        sourceAddress,
        `credential of ${host.name} presented again with a different key; refused`,
      );
      throw new ApiError(409, ERROR_CODES.credentialSpent, `the enrollment credential of ${host.name} was already used with another key`);
    }
    if (claim) return this.addCandidate(stored, request, pem, claim, sourceAddress, now);
    const wasRebind = host.rebindAllowed;
    const updated: HostRecord = {
      ...afterEnrollment(host, request.cloudInit, now),
      awaitingApproval: host.awaitingApproval || verified.requiresApproval === true,
      credentialSpent: true,
      rebindAllowed: false,
      enrollment: this.bindingOf(request, pem, sourceAddress, now),
    };
    const pending = this.store.commit({ puts: [{ key, value: updated }], checks: [{ key, version: stored.version }] });
    // The commit is already applied to the store's view: schedule in this same turn, then wait for durability.
    this.lastSeen[host.name] = now;
    this.reconcile();
    const result = await pending;
    if (!result.ok) throw new ApiError(409, ERROR_CODES.credentialSpent, `host ${host.name} enrolled concurrently; retry`);
    this.keys.delete(host.name);
    if (wasRebind) await this.securityEvent('rebind-used', host.name, sourceAddress, `${host.name} re-enrolled after \`kubeseed rebind\``);
    this.log.info({ host: host.name, sourceAddress }, 'host enrolled');
    this.events.emit('event', { type: 'host', host: host.name } satisfies CoordinatorEvent);
    await this.store.flushed();
    return this.enrollResponse(updated);
  }

  /**
   * A claim without a credential: a machine already waiting (same key, same facts) may re-enroll
   * freely; every new claim is counted against the per-address and global limits and recorded as
   * a security event, matched or not.
   */
  private async admitUnauthenticatedClaim(
    request: EnrollRequest,
    pem: string,
    match: ReturnType<typeof matchFleetHost>,
    sourceAddress: string,
    now: number,
  ): Promise<void> {
    const fingerprint = keyFingerprint(pem);
    if (!('error' in match)) {
      const record = this.store.get<HostRecord>(HOST_PREFIX + match.host)?.value;
      const waiting = record && findCandidate(record, fingerprint);
      if (waiting && sameIdentity(waiting, request.facts)) return;
      if (match.matchedBy === 'binding') return;
    }
    const facts = request.facts;
    const described = `machine-id ${facts.machineId || '-'}, MACs ${facts.macs.join(',') || '-'}, UUID ${facts.smbiosUuid || '-'}, hostname ${facts.hostname || '-'}, key ${fingerprint}`;
    await this.takeOrRefuse(
      this.claims,
      sourceAddress,
      now,
      (scope, seconds) =>
        scope === 'global'
          ? `too many unauthenticated claims from all addresses; refusing new ones for ${seconds} s`
          : `too many unauthenticated claims from ${sourceAddress}; refusing it for ${seconds} s`,
      'too many enrollment claims without a credential; retry later',
    );
    await this.securityEvent(
      'unauthenticated-claim',
      'error' in match ? undefined : match.host,
      sourceAddress,
      'error' in match
        ? `unauthenticated claim refused (${match.error}): ${described}`
        : `unauthenticated claim for ${match.host} (matched by ${match.matchedBy}), waiting for approval: ${described}`,
    );
  }

  /** The host whose approval rejected this key, if any (a rejected machine gets a clear 409). */
  private rejectedHostOf(fingerprint: string): string | undefined {
    for (const r of this.store.list<HostRecord>(HOST_PREFIX)) if (r.value.rejectedKeys?.includes(fingerprint)) return r.value.name;
    return undefined;
  }

  /** Adds (or refreshes) a candidate for a host that waits for approval; the host stays unbound. */
  private async addCandidate(
    stored: { key: string; version: number; value: HostRecord },
    request: EnrollRequest,
    pem: string,
    claim: { matchedBy: MatchedBy; fleetCredential: boolean },
    sourceAddress: string,
    now: number,
  ): Promise<EnrollResponse> {
    const fingerprint = keyFingerprint(pem);
    const existing = findCandidate(stored.value, fingerprint);
    const same = existing && sameIdentity(existing, request.facts);
    // An agent re-enrolls while it waits: refresh its `at` at most once a minute (no write per retry).
    if (same && now - existing.at < 60_000) return this.enrollResponse({ ...stored.value, awaitingApproval: true });
    const candidate: EnrollmentCandidate = {
      ...this.bindingOf(request, pem, sourceAddress, now),
      keyFingerprint: fingerprint,
      firstSeen: same ? existing.firstSeen : now,
      matchedBy: claim.matchedBy,
      fleetCredential: claim.fleetCredential,
    };
    const updated = withCandidate(stored.value, candidate);
    const result = await this.store.commit({
      puts: [{ key: stored.key, value: updated }],
      checks: [{ key: stored.key, version: stored.version }],
    });
    if (!result.ok) throw new ApiError(409, ERROR_CODES.conflict, `host ${stored.value.name} changed concurrently; retry`);
    if (!existing) {
      this.log.info({ host: stored.value.name, sourceAddress, key: fingerprint }, 'enrollment candidate waits for approval');
      this.events.emit('event', { type: 'host', host: stored.value.name } satisfies CoordinatorEvent);
    }
    await this.store.flushed();
    return this.enrollResponse(updated);
  }

  private bindingOf(request: EnrollRequest, pem: string, sourceAddress: string, now: number): EnrollmentBinding {
    return {
      publicKey: pem,
      machineId: request.facts.machineId,
      smbiosUuid: request.facts.smbiosUuid.toLowerCase(),
      macs: [...request.facts.macs].map((m) => m.toLowerCase()).sort(),
      hostname: request.facts.hostname,
      arch: request.facts.arch,
      os: request.facts.os,
      agentVersion: request.facts.agentVersion,
      at: now,
      sourceAddress,
    };
  }

  /**
   * Counts a request from `sourceAddress` against `limiter`. Over the limit: 429 with Retry-After,
   * and one `claim-rate-limited` security event per scope and window (`describe` words it).
   */
  private async takeOrRefuse(
    limiter: ClaimLimiter,
    sourceAddress: string,
    now: number,
    describe: (scope: 'source' | 'global' | undefined, retryAfterSeconds: number) => string,
    refusal: string,
  ): Promise<void> {
    const limit = limiter.take(sourceAddress, now);
    if (limit.retryAfterSeconds === 0) return;
    if (limit.firstRefusal)
      await this.securityEvent('claim-rate-limited', undefined, sourceAddress, describe(limit.scope, limit.retryAfterSeconds));
    throw new RateLimitedError(refusal, limit.retryAfterSeconds);
  }

  private async enrollmentFailed(sourceAddress: string, now: number): Promise<void> {
    if (this.limiter.fail(sourceAddress, now)) {
      await this.securityEvent(
        'enrollment-rate-limited',
        undefined,
        sourceAddress,
        `too many failed enrollments from ${sourceAddress}; refusing it for a minute`,
      );
    }
  }

  /**
   * POST /v1/install-failed: the install script's beacon. The credential is checked like an
   * enrollment's (a wrong one counts toward the same per-address limit); every beacon is counted
   * against its own per-address and global limits. It marks only a host that has not enrolled;
   * a fleet machine's beacon is a security event, tied to no host (its facts are self-reported).
   */
  async installFailed(request: InstallFailedRequest, sourceAddress: string): Promise<InstallFailedResponse> {
    const now = this.clock.now();
    this.admitCredentialRequest(request.protocol, sourceAddress, now);
    await this.takeOrRefuse(
      this.beacons,
      sourceAddress,
      now,
      (scope, seconds) =>
        `too many install-failed beacons (${scope === 'global' ? 'from all addresses' : `from ${sourceAddress}`}); refusing them for ${seconds} s`,
      'too many install-failed reports; retry later',
    );
    const verified = await this.inputs.enrollment.verify(request.host, request.credential);
    if (!verified) {
      await this.enrollmentFailed(sourceAddress, now);
      throw unauthorized('enrollment credential is not valid for this host');
    }
    if (verified.host === FLEET_HOST) {
      await this.securityEvent('install-failed', undefined, sourceAddress, describeBeacon(request, undefined, sourceAddress));
      return { recorded: false };
    }
    const key = HOST_PREFIX + verified.host;
    const stored = this.store.get<HostRecord>(key);
    if (!stored) throw new ApiError(404, ERROR_CODES.unknownHost, `host ${verified.host} is not in this coordinator's plan`);
    if (stored.value.removed) throw new ApiError(409, ERROR_CODES.credentialSpent, `host ${verified.host} was removed from the rollout`);
    // An enrolled host's agent runs and reports for itself: a beacon cannot overwrite what it says.
    if (stored.value.enrollment)
      throw conflict(`host ${verified.host} is enrolled; an install-failed report is taken only before enrollment`);
    const updated: HostRecord = {
      ...stored.value,
      installFailure: recordInstallFailure(stored.value.installFailure, request, this.redactor, sourceAddress, now),
    };
    const result = await this.store.commit({ puts: [{ key, value: updated }], checks: [{ key, version: stored.version }] });
    if (!result.ok) throw conflict(`host ${verified.host} changed concurrently; retry`);
    await this.securityEvent('install-failed', verified.host, sourceAddress, describeBeacon(request, verified.host, sourceAddress));
    this.events.emit('event', { type: 'host', host: verified.host } satisfies CoordinatorEvent);
    await this.store.flushed();
    return { recorded: true };
  }

  private enrollResponse(host: HostRecord): EnrollResponse {
    const spec = this.plan.spec;
    const prepareHost = indexPlan(this.plan)
      .byHost.get(host.name)
      ?.some((s) => s.kind === 'prepare-host');
    return {
      host: host.name,
      role: host.role,
      serverTime: this.clock.now(),
      awaitingApproval: host.awaitingApproval,
      kubernetesVersion: spec.kubernetesVersion,
      endpoint: describeEndpoint(spec),
      ...(prepareHost ? { prepareHost: true } : {}),
    };
  }

  /** Verifies a signed request; returns the enrolled host. */
  authenticate(request: SignedRequest): string {
    const host = verifySignedRequest(request, (name) => this.publicKeyOf(name), this.nonces, this.clock.now());
    this.lastSeen[host] = this.clock.now();
    return host;
  }

  private publicKeyOf(name: string): KeyObject | undefined {
    const record = this.store.get<HostRecord>(HOST_PREFIX + name)?.value;
    if (!record?.enrollment || record.removed) return undefined;
    let key = this.keys.get(name);
    if (!key) {
      key = parseAgentPublicKey(record.enrollment.publicKey).key;
      this.keys.set(name, key);
    }
    return key;
  }

  private currentStepOf(host: string): StepRecord | undefined {
    for (const r of this.store.list<StepRecord>(`${STEP_PREFIX}${host}/`)) {
      if (r.value.host === host && (r.value.state === 'released' || r.value.state === 'running')) return r.value;
    }
    return undefined;
  }

  /** Same answer as scheduler `isHostDone`, reading only this host's records. */
  private hostDone(host: string): boolean {
    const record = this.store.get<HostRecord>(HOST_PREFIX + host)?.value;
    if (!record?.enrollment) return false;
    const steps: RolloutSnapshot['steps'] = {};
    for (const r of this.store.list<StepRecord>(`${STEP_PREFIX}${host}/`)) steps[r.value.id] = r.value;
    return isHostDone({ hosts: {}, steps, tokens: [], lastSeen: {} }, this.plan, host);
  }

  waitingFor(host: string): string | undefined {
    const record = this.store.get<HostRecord>(HOST_PREFIX + host)?.value;
    if (record?.awaitingApproval) return `approval: run \`kubeseed approve ${host}\``;
    return this.waiting[host];
  }

  /** GET /v1/next: the host's released step, `done`, or null when nothing came within `waitMs`. */
  async next(host: string, waitMs: number, signal?: AbortSignal): Promise<NextResponse | null> {
    const deadline = this.clock.now() + Math.min(waitMs, this.options.maxWaitMs ?? 60_000);
    const started = Date.now();
    const realDeadline = started + Math.min(waitMs, this.options.maxWaitMs ?? 60_000);
    for (;;) {
      this.lastSeen[host] = this.clock.now();
      const record = this.currentStepOf(host);
      if (record) {
        await this.store.flushed();
        // The durable state may differ if a write failed and was rolled back.
        const again = this.currentStepOf(host);
        if (again && again.id === record.id && again.attempt === record.attempt) {
          let step: ReleasedStep;
          try {
            step = await this.deliver(again);
          } catch (error) {
            if (error instanceof StoreError) throw error;
            // A step that cannot be built (plan/builder bug) fails visibly instead of 500ing forever.
            await this.failUnbuildable(again, error);
            continue;
          }
          return { step, done: false, serverTime: this.clock.now() };
        }
        continue;
      }
      if (this.hostDone(host)) {
        await this.store.flushed();
        return { step: null, done: true, serverTime: this.clock.now() };
      }
      const remaining = Math.min(deadline - this.clock.now(), realDeadline - Date.now());
      if (remaining <= 0 || this.stopped || signal?.aborted) return null;
      await this.waitForHost(host, remaining, signal);
    }
  }

  private waitForHost(host: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(host);
      if (!set) {
        set = new Set();
        this.waiters.set(host, set);
      }
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          set.delete(waiter);
          if (set.size === 0) this.waiters.delete(host);
          signal?.removeEventListener('abort', waiter.wake);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, ms);
      set.add(waiter);
      signal?.addEventListener('abort', waiter.wake, { once: true });
    });
  }

  private wakeHost(host: string): void {
    const set = this.waiters.get(host);
    if (set) for (const waiter of [...set]) waiter.wake();
  }

  /** Builds the released step with its secrets and audits the hand-out before it leaves. */
  private async deliver(record: StepRecord): Promise<ReleasedStep> {
    const planned = indexPlan(this.plan).byId.get(record.id) ?? this.synthesizeStep(record);
    const tokens = new Map(this.store.list<TokenRecord>(TOKEN_PREFIX).map((r) => [r.value.id, r.value.token]));
    const base = this.inputs.secrets;
    const secrets: SecretSource = {
      bootstrapToken: () =>
        (record.tokenId ? tokens.get(record.tokenId) : undefined) ??
        currentToken(this.store.list<TokenRecord>(TOKEN_PREFIX).map((r) => r.value))?.token ??
        base.bootstrapToken(),
      certificateKey: () => base.certificateKey(),
      discoveryHash: () => base.discoveryHash(),
      pkiFile: (name, host) => base.pkiFile(name, host),
      adminKubeconfig: () => base.adminKubeconfig(),
    };
    const extras = record.kind === 'etcd-member-remove' && record.target ? { memberName: record.target } : {};
    const built = this.inputs.buildStep(this.plan, planned, secrets, extras);
    const params = { ...built.params };
    if (record.kind === 'etcd-member-remove' && record.target) params.memberName = record.target;
    if (record.kind === 'reset') params.nodeName = record.host;
    this.redactor.add(built.redact);
    if (planned.secrets.length > 0 || built.redact.length > 0) {
      // A failed audit write (full disk) is a storage failure: 503 and retry, never a failed step.
      await this.options.audit
        .append({
          at: new Date(this.clock.now()).toISOString(),
          host: record.host,
          step: record.id,
          attempt: record.attempt,
          secrets: planned.secrets.length > 0 ? planned.secrets : (['admin-kubeconfig'] as SecretKind[]),
        })
        .catch((error: unknown) => {
          throw new StoreError('the audit log could not be written', error);
        });
    }
    return {
      id: record.id,
      kind: record.kind as ReleasedStep['kind'],
      host: record.host,
      attempt: record.attempt,
      files: built.files,
      params,
      redact: built.redact,
    };
  }

  private async failUnbuildable(record: StepRecord, error: unknown): Promise<void> {
    const key = STEP_PREFIX + record.id;
    const stored = this.store.get<StepRecord>(key);
    if (!stored) return;
    const message = this.redactor.redact(error instanceof Error ? error.message : String(error));
    this.log.error({ step: record.id, err: message }, 'step could not be built; marked failed');
    const updated = applyReport(
      this.plan,
      stored.value,
      { outcome: 'failed', attempt: stored.value.attempt, reason: 'build-failed', permanent: true },
      `the coordinator could not build this step: ${message}`,
      this.clock.now(),
      this.config,
    );
    await this.store.commit({ puts: [{ key, value: { ...updated, needsCleanup: false } }], checks: [{ key, version: stored.version }] });
    this.emitStep(updated);
    this.reconcile();
  }

  private synthesizeStep(record: StepRecord): PlannedStep {
    const role = this.store.get<HostRecord>(HOST_PREFIX + record.host)?.value.role ?? 'control-plane';
    const secrets: SecretKind[] = record.kind === 'upload-certs' ? ['certificate-key'] : [];
    return {
      id: record.id,
      kind: record.kind as PlannedStep['kind'],
      host: record.host,
      role,
      after: [],
      waitsFor: record.forStep ? `cleanup after ${record.forStep}` : '',
      secrets,
    };
  }

  /** POST /v1/report. */
  async report(host: string, report: ReportRequest): Promise<ReportResponse> {
    const key = STEP_PREFIX + report.stepId;
    for (let tries = 0; tries < 3; tries++) {
      const stored = this.store.get<StepRecord>(key);
      if (!stored || stored.value.host !== host) throw notFound(`step ${report.stepId} is not a step of ${host}`);
      const record = stored.value;
      if (report.attempt !== record.attempt) {
        throw new ApiError(
          409,
          ERROR_CODES.staleAttempt,
          `step ${record.id} is at attempt ${record.attempt}, the report is for attempt ${report.attempt}`,
        );
      }
      if (record.state === 'cancelled') return { accepted: false };
      if (record.state !== 'released' && record.state !== 'running') {
        // A report repeated after a lost answer: accept the same outcome again, refuse a different one.
        const same = record.lastReport?.outcome === report.outcome;
        if (same) return { accepted: true };
        throw new ApiError(409, ERROR_CODES.staleAttempt, `step ${record.id} attempt ${record.attempt} is already ${record.state}`);
      }
      const logTail = boundLogTail(this.redactor.redact(report.logTail));
      const now = this.clock.now();
      const updated = applyReport(this.plan, record, report, logTail, now, this.config);
      const txn: StoreTxn = { puts: [{ key, value: updated }], checks: [{ key, version: stored.version }] };
      if (record.kind === 'kubeadm-init' && updated.state === 'succeeded') {
        const lock = this.store.get<InitLock>(LOCK_KEY);
        if (lock && lock.value.holder === host) {
          txn.puts!.push({ key: LOCK_KEY, value: { ...lock.value, succeeded: true, succeededAt: now } satisfies InitLock });
          txn.checks!.push({ key: LOCK_KEY, version: lock.version });
        }
      }
      const result = await this.store.commit(txn);
      if (!result.ok) continue;
      this.log.info(
        { step: record.id, host, attempt: record.attempt, outcome: report.outcome, state: updated.state, reason: report.reason },
        'step report',
      );
      this.emitStep(updated);
      this.reconcile();
      await this.store.flushed();
      return { accepted: true };
    }
    throw new ApiError(409, ERROR_CODES.staleAttempt, `step ${report.stepId} changed concurrently; report again`);
  }

  /** POST /v1/heartbeat (kept in memory: liveness is not worth an fsync). */
  heartbeat(host: string, beat: HeartbeatRequest): { serverTime: number } {
    const now = this.clock.now();
    const entry = {
      phase: beat.phase,
      at: now,
      skewMs: beat.clock - now,
      ...(beat.message !== undefined ? { message: this.redactor.redact(beat.message) } : {}),
    };
    this.heartbeats.set(host, entry);
    this.events.emit('event', {
      type: 'heartbeat',
      host,
      phase: entry.phase,
      ...(entry.message ? { message: entry.message } : {}),
    } satisfies CoordinatorEvent);
    return { serverTime: now };
  }

  // ───────────────────────────── operator actions ─────────────────────────────

  private hostRecord(name: string): { key: string; version: number; value: HostRecord } {
    const stored = this.store.get<HostRecord>(HOST_PREFIX + name);
    if (!stored) throw notFound(`host ${name} is not in the plan`);
    return stored;
  }

  private async commitOrConflict(txn: StoreTxn): Promise<void> {
    const result = await this.store.commit(txn);
    if (!result.ok) throw conflict('the rollout changed while the command ran; run it again');
  }

  private stepsTouching(host: string): { key: string; version: number; value: StepRecord }[] {
    return this.store.list<StepRecord>(STEP_PREFIX).filter((r) => r.value.host === host || r.value.target === host);
  }

  /** `kubeseed retry HOST`: failed steps of the host (and failed cleanup for it) are queued again. */
  async retry(name: string): Promise<{ requeued: string[] }> {
    const stored = this.hostRecord(name);
    const touching = this.stepsTouching(name);
    const updated = requeueFailed(
      touching.map((r) => r.value),
      this.clock.now(),
    );
    if (updated.length === 0) {
      // A no-op is refused with the reason: the operator learns the host is not stuck on a failure.
      throw conflict(
        stored.value.removed
          ? `${name} was removed; there is nothing to retry`
          : `${name} has no failed step, so there is nothing to retry (\`kubeseed hosts\` shows what it is doing)`,
      );
    }
    const versions = new Map(touching.map((r) => [r.value.id, r.version]));
    await this.commitOrConflict({
      puts: updated.map((r) => ({ key: STEP_PREFIX + r.id, value: r })),
      checks: updated.map((r) => ({ key: STEP_PREFIX + r.id, version: versions.get(r.id)! })),
    });
    for (const r of updated) this.emitStep(r);
    this.reconcile();
    await this.store.flushed();
    return { requeued: updated.map((r) => r.id) };
  }

  /**
   * `kubeseed approve HOST [--key FINGERPRINT]`: binds the candidate with that key fingerprint
   * (or the only candidate) and rejects the others, recording each. Several candidates and no key:
   * 409 listing them, so the operator picks by fingerprint and never by luck.
   */
  async approve(name: string, key?: string): Promise<{ approved: boolean; host?: string; key?: string; rejected?: number }> {
    const stored = this.hostRecord(name);
    const candidates = stored.value.candidates ?? [];
    if (candidates.length > 0) return this.approveCandidate(stored, candidates, key);
    if (stored.value.awaitingApproval) {
      // A binding made before candidates existed (older state directory): approve it as it is.
      if (key !== undefined && stored.value.enrollment && keyFingerprint(stored.value.enrollment.publicKey) !== key.trim()) {
        throw conflict(`${name} is bound to key ${keyFingerprint(stored.value.enrollment.publicKey)}, not ${key}`);
      }
      await this.commitOrConflict({
        puts: [{ key: stored.key, value: { ...stored.value, awaitingApproval: false } }],
        checks: [{ key: stored.key, version: stored.version }],
      });
    } else {
      throw conflict(
        this.plan.spec.fleet.enabled
          ? `no machine waits for approval of ${name}; \`kubeseed hosts\` lists the hosts awaiting approval`
          : `no machine waits for approval of ${name}: this cluster is not in fleet mode (spec.fleet.enabled), every host enrolls with its own credential and needs no approval`,
      );
    }
    this.events.emit('event', { type: 'host', host: name } satisfies CoordinatorEvent);
    this.reconcile();
    await this.store.flushed();
    return { approved: true };
  }

  private async approveCandidate(
    stored: { key: string; version: number; value: HostRecord },
    candidates: EnrollmentCandidate[],
    key: string | undefined,
  ): Promise<{ approved: boolean; host: string; key: string; rejected: number }> {
    const name = stored.value.name;
    const pick = pickCandidate(name, candidates, key);
    if ('error' in pick) throw conflict(pick.error);
    const { keyFingerprint: fingerprint, firstSeen: _f, matchedBy: _m, fleetCredential: _c, ...binding } = pick.chosen;
    const { candidates: _all, ...rest } = stored.value;
    const rejectedKeys = [...(rest.rejectedKeys ?? []), ...pick.rejected.map((c) => c.keyFingerprint)].slice(-64);
    const updated: HostRecord = {
      ...rest,
      awaitingApproval: false,
      credentialSpent: true,
      rebindAllowed: false,
      enrollment: binding,
      ...(rejectedKeys.length ? { rejectedKeys } : {}),
    };
    await this.commitOrConflict({ puts: [{ key: stored.key, value: updated }], checks: [{ key: stored.key, version: stored.version }] });
    this.keys.delete(name);
    this.lastSeen[name] = this.clock.now();
    await this.securityEvent(
      'candidate-approved',
      name,
      pick.chosen.sourceAddress,
      `operator approved ${describeCandidate(pick.chosen)} for ${name}`,
    );
    for (const c of pick.rejected) {
      await this.securityEvent(
        'candidate-rejected',
        name,
        c.sourceAddress,
        `rejected for ${name} (another machine was approved): ${describeCandidate(c)}`,
      );
    }
    this.log.info({ host: name, key: fingerprint, rejected: pick.rejected.length }, 'enrollment candidate approved');
    this.events.emit('event', { type: 'host', host: name } satisfies CoordinatorEvent);
    this.wakeHost(name);
    this.reconcile();
    await this.store.flushed();
    return { approved: true, host: name, key: fingerprint, rejected: pick.rejected.length };
  }

  /**
   * `kubeseed rebind HOST`: forget the bound machine so a rebuilt one can enroll with the SAME
   * credential once (its user-data cannot change). Its steps start over; a host that had joined
   * is cleaned up first (Node, etcd member) through the normal retry-with-cleanup path.
   */
  async rebind(name: string, options: { dryRun?: boolean } = {}): Promise<{ rebound: boolean; dryRun?: true; restarts?: string[] }> {
    const stored = this.hostRecord(name);
    if (stored.value.removed) throw conflict(`host ${name} was removed; add it back to the spec under a new name`);
    const lock = this.store.get<InitLock>(LOCK_KEY)?.value;
    if (lock?.succeeded && lock.holder === name) {
      throw conflict(
        `${name} ran kubeadm init; it cannot be rebuilt in place. Remove it (\`kubeseed remove ${name}\`) and add a new control plane`,
      );
    }
    const now = this.clock.now();
    const puts: NonNullable<StoreTxn['puts']> = [];
    const checks: NonNullable<StoreTxn['checks']> = [];
    const { enrollment: _old, ...rest } = stored.value;
    puts.push({ key: stored.key, value: { ...rest, rebindAllowed: true } satisfies HostRecord });
    checks.push({ key: stored.key, version: stored.version });
    for (const r of this.store.list<StepRecord>(STEP_PREFIX)) {
      const step = r.value;
      if (step.host !== name) continue;
      let next: StepRecord;
      if (step.origin !== 'plan') {
        if (step.state === 'succeeded' || step.state === 'cancelled') continue;
        next = { ...step, state: 'cancelled' };
      } else {
        const joined = (step.kind === 'kubeadm-join-control-plane' || step.kind === 'kubeadm-join-worker') && step.attempt > 0;
        const { cleanup: _c, retryAt: _r, lastReport: _l, ...clean } = step;
        next = joined
          ? { ...clean, state: 'retry-wait', retryAt: now, failures: 0, needsCleanup: true, results: {} }
          : { ...clean, state: 'pending', failures: 0, needsCleanup: false, results: {} };
      }
      puts.push({ key: r.key, value: next });
      checks.push({ key: r.key, version: r.version });
    }
    if (options.dryRun) {
      const restarts = puts.slice(1).flatMap((p) => ((p.value as StepRecord).state === 'cancelled' ? [] : [(p.value as StepRecord).id]));
      return { rebound: false, dryRun: true, restarts };
    }
    await this.commitOrConflict({ puts, checks });
    this.keys.delete(name);
    this.log.info({ host: name }, 'host binding cleared (rebind)');
    this.events.emit('event', { type: 'host', host: name } satisfies CoordinatorEvent);
    this.wakeHost(name);
    this.reconcile();
    await this.store.flushed();
    return { rebound: true };
  }

  /** `kubeseed remove HOST`: cancel its steps, delete its Node and (stacked) etcd member. */
  async remove(
    name: string,
    options: { dryRun?: boolean } = {},
  ): Promise<{ removed: boolean; cleanup: string[]; dryRun?: true; cancels?: string[] }> {
    const stored = this.hostRecord(name);
    if (stored.value.removed) throw conflict(`${name} was already removed; there is nothing to do`);
    const now = this.clock.now();
    const snapshot = this.snapshot();
    const { cancel, create } = planRemoval(snapshot, this.plan, name, now, this.config);
    if (options.dryRun) return { removed: false, dryRun: true, cancels: cancel.map((c) => c.id), cleanup: create.map((c) => c.id) };
    const puts: NonNullable<StoreTxn['puts']> = [
      { key: stored.key, value: { ...stored.value, removed: true, removedAt: now } satisfies HostRecord },
    ];
    const checks: NonNullable<StoreTxn['checks']> = [{ key: stored.key, version: stored.version }];
    for (const step of cancel) {
      puts.push({ key: STEP_PREFIX + step.id, value: step });
      checks.push({ key: STEP_PREFIX + step.id, version: this.version(STEP_PREFIX + step.id) });
    }
    for (const step of create) {
      puts.push({ key: STEP_PREFIX + step.id, value: step });
      checks.push({ key: STEP_PREFIX + step.id, version: 0 });
    }
    await this.commitOrConflict({ puts, checks });
    this.keys.delete(name);
    this.log.info({ host: name, cleanup: create.map((s) => s.id) }, 'host removed');
    this.events.emit('event', { type: 'host', host: name } satisfies CoordinatorEvent);
    this.wakeHost(name);
    this.reconcile();
    await this.store.flushed();
    return { removed: true, cleanup: create.map((s) => s.id) };
  }

  private async securityEvent(
    kind: SecurityEvent['kind'],
    host: string | undefined,
    sourceAddress: string,
    message: string,
  ): Promise<void> {
    this.log.warn({ security: kind, host, sourceAddress }, message);
    try {
      // Bounded per kind (first + latest, the rest counted): a flood cannot push older kinds out.
      const event = await this.securityLog.record({ at: this.clock.now(), kind, sourceAddress, message, ...(host ? { host } : {}) });
      this.events.emit('event', { type: 'security', event } satisfies CoordinatorEvent);
    } catch (error) {
      this.log.error({ err: error }, 'security event could not be stored');
    }
  }

  // ───────────────────────────── status ─────────────────────────────

  private emitStep(record: StepRecord): void {
    this.events.emit('event', { type: 'step', step: toStepStatus(record) } satisfies CoordinatorEvent);
  }

  status(): RolloutStatus {
    const snapshot = this.snapshot();
    const spec = this.plan.spec;
    const byHost = new Map<string, StepStatus[]>();
    const coordinatorSteps: StepStatus[] = [];
    const order = indexPlan(this.plan).order;
    const sorted = Object.values(snapshot.steps).sort(
      (a, b) => (order.get(a.id) ?? Number.MAX_SAFE_INTEGER) - (order.get(b.id) ?? Number.MAX_SAFE_INTEGER) || a.seq - b.seq,
    );
    for (const step of sorted) {
      if (step.host === COORDINATOR_HOST) {
        coordinatorSteps.push(toStepStatus(step));
        continue;
      }
      const list = byHost.get(step.host) ?? [];
      list.push(toStepStatus(step));
      byHost.set(step.host, list);
    }
    const done = doneHosts(snapshot, this.plan);
    const hosts: HostStatus[] = this.plan.hosts.map((planned) => {
      const record = snapshot.hosts[planned.name];
      const steps = byHost.get(planned.name) ?? [];
      const current = steps.find((s) => s.state === 'released' || s.state === 'running');
      const beat = this.heartbeats.get(planned.name);
      const enrolled = !!record?.enrollment;
      return {
        name: planned.name,
        role: planned.role,
        enrolled,
        removed: record?.removed ?? false,
        awaitingApproval: record?.awaitingApproval ?? false,
        done: enrolled && done.has(planned.name),
        // A host whose agent could not be installed never enrolls by itself: the operator must act.
        failed: steps.some((s) => s.state === 'failed') || (!enrolled && !!record?.installFailure),
        ...failureOf(steps),
        currentStep: current?.id ?? null,
        waitingFor: enrolled ? (this.waitingFor(planned.name) ?? null) : 'enrollment (the machine has not called the coordinator yet)',
        phase: beat?.phase ?? null,
        message: beat?.message ?? null,
        lastSeen: this.lastSeen[planned.name] ?? null,
        ...(beat ? { clockSkewMs: beat.skewMs } : {}),
        ...(this.expiry?.byHost.has(planned.name) ? { certificateExpiry: this.expiry.byHost.get(planned.name)! } : {}),
        ...(record?.candidates?.length ? { candidates: record.candidates.map(toCandidateStatus) } : {}),
        ...hostNotes(record),
        steps,
      };
    });
    const token = currentToken(snapshot.tokens);
    const active = hosts.filter((h) => !h.removed);
    return {
      cluster: {
        name: spec.name,
        topology: spec.topology,
        kubernetesVersion: spec.kubernetesVersion,
        certificateDistribution: spec.certificates.distribution,
      },
      serverTime: this.clock.now(),
      done: active.every((h) => h.done),
      initLock: snapshot.initLock ?? null,
      token: token ? { id: token.id, expiresAt: token.expiresAt } : null,
      counts: {
        hosts: active.length,
        enrolled: active.filter((h) => h.enrolled).length,
        done: active.filter((h) => h.done).length,
        failed: active.filter((h) => h.failed).length,
      },
      hosts,
      coordinatorSteps,
      securityEvents: this.securityLog.list(),
      ...(this.expiry ? { certificateExpiry: this.expiry.overall } : {}),
    };
  }
}

function toCandidateStatus(c: EnrollmentCandidate): CandidateStatus {
  return {
    keyFingerprint: c.keyFingerprint,
    machineId: c.machineId,
    smbiosUuid: c.smbiosUuid,
    macs: c.macs,
    hostname: c.hostname,
    sourceAddress: c.sourceAddress,
    matchedBy: c.matchedBy,
    fleetCredential: c.fleetCredential,
    firstSeen: c.firstSeen,
    lastSeen: c.at,
  };
}

function failureOf(steps: StepStatus[]): { failure?: string } {
  const failed = steps.find((s) => s.state === 'failed');
  return failed ? { failure: describeFailure(failed) } : {};
}

export function toStepStatus(record: StepRecord): StepStatus {
  return {
    id: record.id,
    kind: record.kind,
    host: record.host,
    origin: record.origin,
    state: record.state,
    attempt: record.attempt,
    failures: record.failures,
    ...(record.target !== undefined ? { target: record.target } : {}),
    ...(record.releasedAt !== undefined ? { releasedAt: record.releasedAt } : {}),
    ...(record.finishedAt !== undefined ? { finishedAt: record.finishedAt } : {}),
    ...(record.retryAt !== undefined ? { retryAt: record.retryAt } : {}),
    ...(record.lastReport
      ? {
          lastReport: {
            outcome: record.lastReport.outcome,
            logTail: record.lastReport.logTail,
            at: record.lastReport.at,
            ...(record.lastReport.reason !== undefined ? { reason: record.lastReport.reason } : {}),
          },
        }
      : {}),
  };
}
