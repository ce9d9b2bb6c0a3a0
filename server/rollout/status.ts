/**
 * The status projection: `GET /v1/status` (the status page, `kubeseed status|hosts`) computed
 * from the durable records, the live state (heartbeats, last calls) and the scheduler's "waiting
 * for" words. Read-only. The badge word of a host is `deriveHostState` (status-page/client/view-model.ts),
 * the one derivation the page and the CLI share, from the fields computed here.
 */

import type { ClusterPlan } from '../../generator/plan/types.ts';
import { type CertificateExpiry, reportedCertificates, summarizeExpiry, type TrackedCertificate } from '../certificates.ts';
import type { Clock } from '../clock.ts';
import type { MatchedBy } from '../fleet-match.ts';
import type { CloudInitStatus, InstallFailedStatus } from '../host-notes.ts';
import { hostNotes } from '../install-beacon.ts';
import {
  COORDINATOR_HOST,
  describeFailure,
  type EnrollmentCandidate,
  type InitLock,
  type SecurityEvent,
  type StepRecord,
} from '../model.ts';
import type { ReplicaStatus } from '../replica.ts';
import { currentToken, doneHosts, indexPlan } from '../scheduler.ts';
import type { LiveState } from './live-state.ts';
import type { RolloutRepository } from './repository.ts';

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
  /** The replica that answered: added by the app (server/replica.ts), not by the projection. */
  coordinator?: ReplicaStatus;
}

export class StatusProjection {
  constructor(
    private readonly plan: ClusterPlan,
    private readonly repo: RolloutRepository,
    private readonly live: LiveState,
    private readonly clock: Clock,
    /** The state directory's (read once at load: they do not change while serving); absent when not known. */
    private readonly certificates: readonly TrackedCertificate[] | undefined,
  ) {}

  /** Why the host's next step is not released: approval, or the scheduler's latest words. */
  waitingFor(host: string): string | undefined {
    if (this.repo.host(host)?.value.awaitingApproval) return `approval: run \`kubeseed approve ${host}\``;
    return this.live.waiting[host];
  }

  status(): RolloutStatus {
    const snapshot = this.repo.snapshot(this.live.lastSeen);
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
    // With the ones kubeadm keeps on the control planes, as their agents reported them; a removed
    // host's certificates are gone with it (`kubeseed remove`).
    const reported = reportedCertificates(Object.values(snapshot.steps).filter((s) => !snapshot.hosts[s.host]?.removed));
    const expiry = summarizeExpiry([...(this.certificates ?? []), ...reported]);
    const hosts: HostStatus[] = this.plan.hosts.map((planned) => {
      const record = snapshot.hosts[planned.name];
      const steps = byHost.get(planned.name) ?? [];
      const current = steps.find((s) => s.state === 'released' || s.state === 'running');
      const beat = this.live.heartbeats.get(planned.name);
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
        lastSeen: this.live.lastSeen[planned.name] ?? null,
        ...(beat ? { clockSkewMs: beat.skewMs } : {}),
        ...(expiry.byHost.has(planned.name) ? { certificateExpiry: expiry.byHost.get(planned.name)! } : {}),
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
      counts: countHosts(active),
      hosts,
      coordinatorSteps,
      securityEvents: this.repo.securityEvents(),
      ...(this.certificates || reported.length > 0 ? { certificateExpiry: expiry.overall } : {}),
    };
  }
}

/** The rollout's counts over the hosts that were not removed. */
export function countHosts(active: readonly Pick<HostStatus, 'enrolled' | 'done' | 'failed'>[]): RolloutStatus['counts'] {
  return {
    hosts: active.length,
    enrolled: active.filter((h) => h.enrolled).length,
    done: active.filter((h) => h.done).length,
    failed: active.filter((h) => h.failed).length,
  };
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
