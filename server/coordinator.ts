/**
 * The coordinator: wires the rollout services over one store and answers for them. Every state
 * change asks for a scheduling pass (server/rollout/reconciler.ts; the requests of one event-loop
 * turn share one), which runs the pure scheduler over the rollout model, commits its decisions
 * with compare-and-swap, then wakes the long-polls of the hosts that got a step — no polling interval. Responses wait until
 * the state they reveal is durable, and secrets are audited before they leave. Layout: docs/adr/0026.
 *
 * Runtime contract: one process owns the state directory; all methods are safe to call
 * concurrently (single event loop; CAS guards every write).
 */
import type { EventEmitter } from 'node:events';
import type { EnrollRequest, HeartbeatRequest, InstallFailedRequest, ReportRequest } from '../protocol/index.ts';
import { Redactor } from '../protocol/redact.ts';
import type { SignedRequest } from './auth.ts';
import { systemClock } from './clock.ts';
import { createStepRecord, type HostRecord, type RolloutSnapshot } from './model.ts';
import { type CoordinatorInputs, type CoordinatorOptions, RolloutEvents, type ServiceContext } from './rollout/context.ts';
import { DeliveryService } from './rollout/delivery.ts';
import { EnrollmentService } from './rollout/enrollment.ts';
import { LiveState, type PollClient } from './rollout/live-state.ts';
import { OperatorActions } from './rollout/operator-actions.ts';
import { Reconciler } from './rollout/reconciler.ts';
import { ReportService } from './rollout/reports.ts';
import { MAX_RECORDS_PER_COMMIT, RolloutRepository } from './rollout/repository.ts';
import { StatusProjection } from './rollout/status.ts';
import { createSchedulerConfig, type SchedulerConfig } from './scheduler.ts';

export type { Clock } from './clock.ts';
export type {
  BuildStepFn,
  CoordinatorEvent,
  CoordinatorInputs,
  CoordinatorOptions,
  EnrollmentMatch,
  EnrollmentVerifier,
} from './rollout/context.ts';
export { SECRET_RECORD_PREFIXES } from './rollout/repository.ts';
export { type CandidateStatus, type HostStatus, type RolloutStatus, type StepStatus, toStepStatus } from './rollout/status.ts';

const noopLog = { debug() {}, info() {}, warn() {}, error() {} };

export class Coordinator {
  readonly events: EventEmitter;
  readonly redactor: Redactor;
  readonly config: SchedulerConfig;
  private readonly ctx: ServiceContext;
  private readonly repo: RolloutRepository;
  private readonly live: LiveState;
  private readonly reconciler: Reconciler;
  private readonly enrollment: EnrollmentService;
  private readonly delivery: DeliveryService;
  private readonly reports: ReportService;
  private readonly operator: OperatorActions;
  private readonly projection: StatusProjection;

  constructor(inputs: CoordinatorInputs, options: CoordinatorOptions) {
    const clock = inputs.clock ?? systemClock;
    const log = options.log ?? noopLog;
    this.redactor = options.redactor ?? new Redactor();
    this.config = createSchedulerConfig(inputs.plan, options.scheduler);
    this.repo = new RolloutRepository(options.store);
    this.live = new LiveState(options.agentKeyCacheSize);
    const events = new RolloutEvents(this.repo, log, clock);
    this.events = events.emitter;
    this.ctx = {
      plan: inputs.plan,
      config: this.config,
      inputs,
      options,
      repo: this.repo,
      live: this.live,
      clock,
      realClock: inputs.realClock ?? systemClock,
      log,
      redactor: this.redactor,
      events,
      reconcile: () => this.reconciler.request(),
      settle: () => this.reconciler.settle(),
      scheduled: async () => {
        this.reconciler.request();
        await this.repo.flushed();
        this.reconciler.settle();
      },
    };
    this.reconciler = new Reconciler(this.ctx);
    this.enrollment = new EnrollmentService(this.ctx);
    this.delivery = new DeliveryService(this.ctx);
    this.reports = new ReportService(this.ctx);
    this.operator = new OperatorActions(this.ctx);
    this.projection = new StatusProjection(inputs.plan, this.repo, this.live, clock, inputs.certificates);
  }

  /** Creates records for plan hosts and steps the store has never seen (first start, late-added hosts), then schedules. */
  async start(): Promise<void> {
    const { plan } = this.ctx;
    // In chunks: a first start writes a record per host and per step (etcd refuses large Txns).
    let txn = this.repo.txn();
    const commits: Promise<unknown>[] = [];
    const flushIfFull = () => {
      if (txn.size < MAX_RECORDS_PER_COMMIT) return;
      commits.push(this.repo.commit(txn));
      txn = this.repo.txn();
    };
    for (const host of plan.hosts) {
      if (this.repo.host(host.name)) continue;
      const record: HostRecord = {
        name: host.name,
        role: host.role,
        credentialSpent: false,
        rebindAllowed: false,
        removed: false,
        awaitingApproval: false,
      };
      txn.host(record, 0);
      flushIfFull();
    }
    for (const step of plan.steps) {
      if (!this.repo.step(step.id)) txn.step(createStepRecord(step.id, step.host, step.kind, 'plan', 0), 0);
      flushIfFull();
    }
    if (!txn.empty) commits.push(this.repo.commit(txn));
    await Promise.all(commits);
    this.redactor.add(this.repo.tokens().map((t) => t.token));
    this.reconcile();
    await this.repo.flushed();
  }

  stop(): void {
    this.live.stopped = true;
    this.reconciler.stop();
    this.live.wakeAll();
  }

  now(): number {
    return this.ctx.clock.now();
  }

  /** The host records by name: what the PXE route needs per request, without steps and tokens. */
  hostRecords(): RolloutSnapshot['hosts'] {
    return this.repo.hostRecords();
  }

  snapshot(): RolloutSnapshot {
    this.reconciler.settle();
    return this.repo.snapshot(this.live.lastSeen);
  }

  reconcile(): void {
    this.reconciler.reconcile();
  }

  // Agent API (server/rollout/enrollment.ts, delivery.ts, reports.ts).
  enroll = (request: EnrollRequest, sourceAddress: string) => this.enrollment.enroll(request, sourceAddress);
  installFailed = (request: InstallFailedRequest, sourceAddress: string) => this.enrollment.installFailed(request, sourceAddress);
  authenticate = (request: SignedRequest) => this.enrollment.authenticate(request);
  next = (host: string, waitMs: number, client?: PollClient) => this.delivery.next(host, waitMs, client);
  /** Long-polls waiting now. */
  waitingPolls = () => this.live.waitingPolls();
  /** Parsed agent keys held now (bounded: live-state.ts AgentKeyCache). */
  cachedAgentKeys = () => this.live.keys.size;
  report = (host: string, report: ReportRequest) => this.reports.report(host, report);
  heartbeat = (host: string, beat: HeartbeatRequest) => this.reports.heartbeat(host, beat);

  // Operator API (server/rollout/operator-actions.ts) and the status projection (server/rollout/status.ts).
  retry = (name: string) => this.operator.retry(name);
  approve = (name: string, key?: string) => this.operator.approve(name, key);
  rebind = (name: string, options?: { dryRun?: boolean }) => this.operator.rebind(name, options);
  remove = (name: string, options?: { dryRun?: boolean }) => this.operator.remove(name, options);
  waitingFor = (host: string) => {
    this.reconciler.settle();
    return this.projection.waitingFor(host);
  };
  status = () => {
    this.reconciler.settle();
    return this.projection.status();
  };
  /** One step's record (the backup route checks an upload against its `etcd-snapshot` step). */
  stepRecord = (id: string) => this.repo.step(id)?.value;
  /** Every secret hand-out, oldest first (server/rollout/audit.ts); `host` keeps one host's. */
  auditTrail = (host?: string) => this.repo.auditTrail(host);
}
