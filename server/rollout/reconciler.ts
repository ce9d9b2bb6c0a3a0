/**
 * Reconcile: run the pure scheduler (server/scheduler.ts `decide`) over the rollout model (the
 * live, indexed snapshot of server/rollout/rollout-model.ts), commit its decisions in one
 * compare-and-swap transaction, then wake the long-polls of the hosts that got a step. Services ask
 * for a pass with `request()`: the requests of one event-loop turn are coalesced into one pass at
 * the end of the turn (setImmediate), and `settle()` runs a requested pass at once for a reader
 * that must see its outcome (a long-poll, the status). Timers exist only for time-based gates
 * (`nextWakeAt`) and for retrying a commit that conflicted or failed.
 */
import { createStepRecord, type RolloutSnapshot, type StepRecord } from '../model.ts';
import { type Decision, decide, indexPlan } from '../scheduler.ts';
import { ClusterEffects } from './cluster-effects.ts';
import type { ServiceContext } from './context.ts';
import { MAX_RECORDS_PER_COMMIT, type RolloutTxn } from './repository.ts';

/** A pass releasing more steps than this logs them as one `steps released` line at info (each at debug). */
const RELEASE_LINES = 20;

export class Reconciler {
  private readonly effects: ClusterEffects;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private retryTimer: NodeJS.Timeout | undefined;
  private requested: { immediate: NodeJS.Immediate } | { timer: NodeJS.Timeout } | undefined;
  /** Real time (performance.now) the last pass ended, and how long it took: requests wait that long after it. */
  private lastPassEnd = -Infinity;
  private lastPassMs = 0;

  constructor(private readonly ctx: ServiceContext) {
    this.effects = new ClusterEffects(ctx, (at) => this.scheduleWake(at));
  }

  /**
   * Asks for a pass at the end of this event-loop turn; every request of the turn shares it. Under
   * a storm of events a pass starts no sooner than its own duration after the last one ended, so
   * scheduling takes at most about half the CPU and the passes grow fewer, not the work per event.
   */
  request(): void {
    if (this.requested || this.ctx.live.stopped) return;
    const wait = this.lastPassEnd + this.lastPassMs - performance.now();
    this.requested = wait > 1 ? { timer: setTimeout(() => this.settle(), wait) } : { immediate: setImmediate(() => this.settle()) };
  }

  /** Runs the requested pass now, if one is pending. */
  settle(): void {
    if (this.requested) this.reconcile();
  }

  /** Runs the scheduler and commits its decisions. Synchronous up to the commit; safe to call any time. */
  reconcile(): void {
    const { ctx } = this;
    this.cancelRequest();
    if (ctx.live.stopped) return;
    const started = performance.now();
    // Up to 4 rounds: a round's commits can open gates for the next (a created step released).
    for (let round = 0; round < 4; round++) {
      const snapshot = ctx.repo.liveSnapshot(ctx.live.lastSeen);
      const now = ctx.clock.now();
      const schedule = decide(snapshot, ctx.plan, now, ctx.config);
      ctx.live.waiting = schedule.waiting;
      this.scheduleWake(schedule.nextWakeAt);
      const committed = this.commitDecisions(snapshot, schedule.decisions, now);
      if (schedule.decisions.some((d) => d.type === 'mint-token')) this.effects.mintToken();
      if (!committed) break;
    }
    this.effects.runCoordinatorSteps();
    this.lastPassEnd = performance.now();
    this.lastPassMs = this.lastPassEnd - started;
  }

  private cancelRequest(): void {
    const requested = this.requested;
    if (requested && 'timer' in requested) clearTimeout(requested.timer);
    else if (requested) clearImmediate(requested.immediate);
    this.requested = undefined;
  }

  stop(): void {
    this.cancelRequest();
    clearTimeout(this.wakeTimer);
    clearTimeout(this.retryTimer);
  }

  /**
   * Commits the decisions in as many commits as MAX_RECORDS_PER_COMMIT needs (a decision's records
   * stay together: its steps, a cleanup link, a release with its lock and token), then announces
   * them and wakes the hosts that got a step; false when there were none.
   */
  private commitDecisions(snapshot: RolloutSnapshot, decisions: Decision[], now: number): boolean {
    const { ctx } = this;
    /** Every record this call writes, as it writes it (later decisions read earlier ones here). */
    const working = new Map<string, StepRecord>();
    const get = (id: string) => working.get(id) ?? snapshot.steps[id];
    const released: StepRecord[] = [];
    const created: StepRecord[] = [];
    /** Records of the commit being built; `fresh`: those that must not exist yet. */
    let chunk = new Map<string, StepRecord>();
    let fresh = new Set<string>();
    let txn = ctx.repo.txn();
    const flush = () => {
      for (const [id, record] of chunk) {
        if (fresh.has(id)) txn.step(record, 0);
        else txn.stepAsStored(record);
      }
      this.commitQuietly(txn);
      chunk = new Map();
      fresh = new Set();
      txn = ctx.repo.txn();
    };
    const write = (record: StepRecord, isNew: boolean) => {
      working.set(record.id, record);
      chunk.set(record.id, record);
      if (isNew) fresh.add(record.id);
    };
    for (const decision of decisions) {
      const adds =
        decision.type === 'create-steps'
          ? decision.steps.length + 1 + (decision.replaces?.length ?? 0)
          : decision.type === 'release'
            ? 3
            : 0;
      if (chunk.size > 0 && chunk.size + txn.size + adds > MAX_RECORDS_PER_COMMIT) flush();
      if (decision.type === 'create-steps') {
        for (const step of decision.steps) {
          write(step, true);
          created.push(step);
        }
        if (decision.cleanupFor) {
          const target = get(decision.cleanupFor);
          if (target) write({ ...target, cleanup: decision.steps.map((s) => s.id) }, false);
        }
        for (const record of decision.replaces ?? []) write(record, false);
      } else if (decision.type === 'release') {
        const base =
          get(decision.stepId) ??
          createStepRecord(decision.stepId, decision.host, indexPlan(ctx.plan).byId.get(decision.stepId)!.kind, 'plan', 0);
        const next: StepRecord = { ...base, state: 'released', attempt: decision.attempt, releasedAt: now };
        delete next.lastReport;
        if (decision.acquireInitLock) txn.acquireInitLock(decision.host, now);
        if (decision.mintInitToken) {
          const token = this.effects.newToken(now, 'init');
          txn.newToken(token);
          next.tokenId = token.id;
        } else if (decision.tokenId !== undefined) {
          next.tokenId = decision.tokenId;
        }
        // A step created by an earlier commit of this call exists now: checked at its stored version.
        write(next, fresh.has(next.id));
        released.push(next);
      }
    }
    if (working.size === 0) return false;
    if (chunk.size > 0) flush();
    const releasedIds = new Set(released.map((r) => r.id));
    // A wave (a gate opening for 1,000 workers) is one info line; its steps one each at debug.
    const wave = released.length > RELEASE_LINES;
    for (const record of released) {
      const line = { step: record.id, host: record.host, attempt: record.attempt };
      if (wave) ctx.log.debug(line, 'step released');
      else ctx.log.info(line, 'step released');
      ctx.events.step(record);
      ctx.live.wakeHost(record.host);
    }
    if (wave) ctx.log.info({ count: released.length, first: released[0]!.id, last: released[released.length - 1]!.id }, 'steps released');
    for (const step of created) if (!releasedIds.has(step.id)) ctx.events.step(working.get(step.id)!);
    return true;
  }

  /** Commits; a conflict or a failure is logged and retried by a later pass. */
  private commitQuietly(txn: RolloutTxn): void {
    const { ctx } = this;
    ctx.repo.commit(txn).then(
      (result) => {
        if (!result.ok) {
          ctx.log.warn({ conflicts: result.conflicts }, 'scheduler commit conflicted; rescheduling');
          this.scheduleRetry();
        }
      },
      (error) => {
        ctx.log.error({ err: error }, 'could not persist scheduler decisions; will retry');
        this.scheduleRetry();
      },
    );
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.ctx.live.stopped) return;
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
    const delay = Math.min(Math.max(0, at - this.ctx.clock.now()), 60_000);
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.reconcile();
    }, delay);
    this.wakeTimer.unref();
  }
}
