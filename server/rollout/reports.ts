/**
 * The agent-facing report service: `POST /v1/report` (a step's outcome, checked against its
 * attempt; `kubeadm init`'s success marks the init lock in the same transaction) and
 * `POST /v1/heartbeat` (kept in the live state only: liveness is not worth an fsync).
 */
import { ERROR_CODES, type HeartbeatRequest, type ReportRequest, type ReportResponse } from '../../protocol/index.ts';
import { ApiError, notFound } from '../errors.ts';
import { boundLogTail, DONE_LOG_TAIL_LIMIT } from '../log-tail.ts';
import { applyReport, isHostDone } from '../scheduler.ts';
import type { ServiceContext } from './context.ts';

export class ReportService {
  constructor(private readonly ctx: ServiceContext) {}

  /** POST /v1/report. */
  async report(host: string, report: ReportRequest): Promise<ReportResponse> {
    for (let tries = 0; tries < 3; tries++) {
      const stored = this.ctx.repo.step(report.stepId);
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
      const logTail = boundLogTail(this.ctx.redactor.redact(report.logTail));
      const now = this.ctx.clock.now();
      const updated = applyReport(this.ctx.plan, record, report, logTail, now, this.ctx.config);
      const txn = this.ctx.repo.txn().step(updated, stored.version);
      if (record.kind === 'kubeadm-init' && updated.state === 'succeeded') txn.initSucceeded(host, now);
      const result = await this.ctx.repo.commit(txn);
      if (!result.ok) continue;
      this.ctx.log.info(
        { step: record.id, host, attempt: record.attempt, outcome: report.outcome, state: updated.state, reason: report.reason },
        'step report',
      );
      this.ctx.events.step(updated);
      if (updated.state === 'succeeded') await this.compactIfDone(host);
      await this.ctx.scheduled();
      return { accepted: true };
    }
    throw new ApiError(409, ERROR_CODES.staleAttempt, `step ${report.stepId} changed concurrently; report again`);
  }

  /**
   * A host that has finished keeps its steps' log tails to their last DONE_LOG_TAIL_LIMIT
   * characters (issue 19): a fleet's store, its journal snapshots and the coordinator's memory grow
   * with what is still useful, not with every finished host's full output. Best effort: a write
   * that conflicts or fails leaves the tails as they were, and the host is done either way.
   */
  private async compactIfDone(host: string): Promise<void> {
    if (!isHostDone(this.ctx.repo.liveSnapshot(this.ctx.live.lastSeen), this.ctx.plan, host)) return;
    const txn = this.ctx.repo.txn();
    for (const { value, version } of this.ctx.repo.stepsNamedFor(host)) {
      const tail = value.lastReport?.logTail;
      if (value.host !== host || tail === undefined || tail.length <= DONE_LOG_TAIL_LIMIT) continue;
      txn.step({ ...value, lastReport: { ...value.lastReport!, logTail: boundLogTail(tail, DONE_LOG_TAIL_LIMIT) } }, version);
    }
    if (txn.size === 0) return;
    await this.ctx.repo.commit(txn).catch((error: unknown) => {
      this.ctx.log.warn(
        { host, err: error instanceof Error ? error.message : String(error) },
        'could not trim the log tails of a finished host',
      );
    });
  }

  /** POST /v1/heartbeat (kept in memory: liveness is not worth an fsync). */
  heartbeat(host: string, beat: HeartbeatRequest): { serverTime: number } {
    const now = this.ctx.clock.now();
    const entry = {
      phase: beat.phase,
      at: now,
      skewMs: beat.clock - now,
      ...(beat.message !== undefined ? { message: this.ctx.redactor.redact(beat.message) } : {}),
    };
    this.ctx.live.heartbeats.set(host, entry);
    this.ctx.events.emit({ type: 'heartbeat', host, phase: entry.phase, ...(entry.message ? { message: entry.message } : {}) });
    return { serverTime: now };
  }
}
