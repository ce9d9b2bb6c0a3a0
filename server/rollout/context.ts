/**
 * What the coordinator's services share: the inputs and options `kubeseed serve` gives the
 * coordinator (their types are the coordinator's public contract), and the `ServiceContext` each
 * service receives — the plan, the repository (durable), the live state (per-process), the
 * clocks, and the one way to announce a change (`RolloutEvents`).
 */
import { EventEmitter } from 'node:events';
import type { RandomSource } from '../../generator/pki/secrets.ts';
import type { BuiltStep, ClusterPlan, PlannedStep, SecretSource } from '../../generator/plan/types.ts';
import type { Redactor } from '../../protocol/redact.ts';
import type { TrackedCertificate } from '../certificates.ts';
import type { Clock } from '../clock.ts';
import type { ClaimLimits } from '../enrollment-guard.ts';
import type { KubernetesApi } from '../kubernetes-api.ts';
import type { SecurityEvent, StepRecord } from '../model.ts';
import type { SchedulerConfig } from '../scheduler.ts';
import type { Store } from '../store/index.ts';
import type { LiveState } from './live-state.ts';
import type { RolloutRepository } from './repository.ts';
import { type StepStatus, toStepStatus } from './status.ts';

/** Checks a presented enrollment credential against the stored hash records (generator/state). */
export interface EnrollmentVerifier {
  /**
   * Returns the host the credential belongs to, or null. `host` is what the agent claims (absent
   * in fleet mode). For a valid fleet credential return `{host: FLEET_KEY}` ('*'): the coordinator
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
  /** Decides every time the coordinator records or compares (default: the system clock). */
  clock?: Clock;
  /** Bounds real waiting (a long-poll's real deadline) whatever `clock` says (default: the system clock). */
  realClock?: Clock;
  /** Random bytes for bootstrap tokens (default: node:crypto randomBytes). */
  random?: RandomSource;
  /** The certificates hosts receive and the coordinator serves, read when the state was loaded (server/certificates.ts). */
  certificates?: readonly TrackedCertificate[];
}

export type CoordinatorLog = {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

export interface CoordinatorOptions {
  store: Store;
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
  /** Parsed agent keys kept (live-state.ts AGENT_KEY_CACHE_SIZE). */
  agentKeyCacheSize?: number;
  log?: CoordinatorLog;
  /** Shared with the logger so released values never reach a log line. */
  redactor?: Redactor;
}

export type CoordinatorEvent =
  | { type: 'step'; step: StepStatus }
  | { type: 'host'; host: string }
  | { type: 'security'; event: SecurityEvent }
  | { type: 'heartbeat'; host: string; phase: string; message?: string }
  | { type: 'token'; id: string; expiresAt: number };

/** The coordinator's announcements (status page, `kubeseed status --watch`) and its security-event trail. */
export class RolloutEvents {
  readonly emitter = new EventEmitter();

  constructor(
    private readonly repo: RolloutRepository,
    private readonly log: CoordinatorLog,
    private readonly clock: Clock,
  ) {
    this.emitter.setMaxListeners(0);
  }

  emit(event: CoordinatorEvent): void {
    this.emitter.emit('event', event);
  }

  step(record: StepRecord): void {
    this.emit({ type: 'step', step: toStepStatus(record) });
  }

  host(host: string): void {
    this.emit({ type: 'host', host });
  }

  /** Logs, stores and announces a security event; a failure to store it is logged, never thrown. */
  async security(kind: SecurityEvent['kind'], host: string | undefined, sourceAddress: string, message: string): Promise<void> {
    this.log.warn({ security: kind, host, sourceAddress }, message);
    try {
      // Bounded per kind (first + latest, the rest counted): a flood cannot push older kinds out.
      const event = await this.repo.recordSecurityEvent({ at: this.clock.now(), kind, sourceAddress, message, ...(host ? { host } : {}) });
      this.emit({ type: 'security', event });
    } catch (error) {
      this.log.error({ err: error }, 'security event could not be stored');
    }
  }
}

/**
 * What every service receives. `reconcile` asks for a scheduling pass, coalesced with the other
 * requests of this event-loop turn; `settle` runs a requested pass now, `scheduled` after durability
 * (reconciler.ts): a caller's answer reflects the pass its change asked for.
 */
export interface ServiceContext {
  plan: ClusterPlan;
  config: SchedulerConfig;
  inputs: CoordinatorInputs;
  options: CoordinatorOptions;
  repo: RolloutRepository;
  live: LiveState;
  clock: Clock;
  realClock: Clock;
  log: CoordinatorLog;
  redactor: Redactor;
  events: RolloutEvents;
  reconcile(): void;
  settle(): void;
  /** After a commit: asks for a pass, waits until the store is durable, then runs the pass if it is still pending. */
  scheduled(): Promise<void>;
}
