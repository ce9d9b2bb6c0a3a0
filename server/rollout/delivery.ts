/**
 * The agent-facing delivery service: `GET /v1/next` long-polls until the host's step is
 * released (woken by the reconciler's pass; a pending pass runs first), then builds it with its secrets, audits
 * the hand-out and returns it only once the release is durable. A long-poll ends at its deadline
 * on the injected clock or on the real one, whichever comes first.
 */
import type { PlannedStep, SecretKind, SecretSource } from '../../generator/plan/types.ts';
import type { NextResponse, ReleasedStep } from '../../protocol/index.ts';
import type { StepRecord } from '../model.ts';
import { applyReport, currentToken, indexPlan, isHostDone } from '../scheduler.ts';
import { StoreError } from '../store/index.ts';
import type { ServiceContext } from './context.ts';
import type { PollClient } from './live-state.ts';

export class DeliveryService {
  constructor(private readonly ctx: ServiceContext) {}

  private currentStepOf(host: string): StepRecord | undefined {
    return this.ctx.repo.activeStepOf(host);
  }

  /** Scheduler `isHostDone` over the rollout model (its index: only this host's and coordinator-made steps are read). */
  private hostDone(host: string): boolean {
    const record = this.ctx.repo.host(host)?.value;
    if (!record?.enrollment) return false;
    return isHostDone(this.ctx.repo.liveSnapshot(this.ctx.live.lastSeen), this.ctx.plan, host);
  }

  /**
   * GET /v1/next: the host's released step, `done`, or null when nothing came within `waitMs` or the
   * `client` (the HTTP response) closed while waiting.
   *
   * Written as callbacks around one promise, not as an async loop: a poll spends nearly all its life
   * waiting, and a suspended async function keeps its frame (a generator object with its registers),
   * its promises and their reactions alive — two such frames cost a waiting poll ~0.4 KiB more heap
   * than this wake-up closure (10.1 → 9.7 KiB per poll at 5,000 waiting; issue 19, row (a);
   * docs/adr/0048). Only a poll that has something to answer runs async code (`answer`).
   */
  next(host: string, waitMs: number, client?: PollClient): Promise<NextResponse | null> {
    const wait = Math.min(waitMs, this.ctx.options.maxWaitMs ?? 60_000);
    const deadline = this.ctx.clock.now() + wait;
    const realDeadline = this.ctx.realClock.now() + wait;
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        try {
          const now = this.ctx.clock.now();
          const seen = this.ctx.live.lastSeen[host];
          this.ctx.live.lastSeen[host] = now;
          // An agent that was not live is now: a pass may give it work only live agents take (a scheduled snapshot).
          if (seen === undefined || seen < now - this.ctx.config.liveAgentMs) this.ctx.reconcile();
          this.ctx.settle();
          const record = this.currentStepOf(host);
          if (record || this.hostDone(host)) {
            this.answer(host, record).then((answer) => (answer ? resolve(answer) : attempt()), reject);
            return;
          }
          const remaining = Math.min(deadline - this.ctx.clock.now(), realDeadline - this.ctx.realClock.now());
          if (remaining <= 0 || this.ctx.live.stopped || client?.closed) resolve(null);
          else this.ctx.live.waitForHost(host, remaining, attempt, client);
        } catch (error) {
          reject(error);
        }
      };
      attempt();
    });
  }

  /**
   * The answer to a poll that found `record` released (or its host done, without one) once the
   * state is durable; undefined when the durable state changed meanwhile (a write failed and was
   * rolled back) or the step could not be built: the poll looks again.
   */
  private async answer(host: string, record: StepRecord | undefined): Promise<NextResponse | undefined> {
    await this.ctx.repo.flushed();
    if (!record) return { step: null, done: true, serverTime: this.ctx.clock.now() };
    // The durable state may differ if a write failed and was rolled back.
    const again = this.currentStepOf(host);
    if (!again || again.id !== record.id || again.attempt !== record.attempt) return undefined;
    let step: ReleasedStep;
    try {
      step = await this.deliver(again);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      // A step that cannot be built (plan/builder bug) fails visibly instead of 500ing forever.
      await this.failUnbuildable(again, error);
      return undefined;
    }
    return { step, done: false, serverTime: this.ctx.clock.now() };
  }

  /** Builds the released step with its secrets and audits the hand-out before it leaves. */
  private async deliver(record: StepRecord): Promise<ReleasedStep> {
    const planned = indexPlan(this.ctx.plan).byId.get(record.id) ?? this.synthesizeStep(record);
    const tokens = new Map(this.ctx.repo.tokens().map((t) => [t.id, t.token]));
    const base = this.ctx.inputs.secrets;
    const secrets: SecretSource = {
      bootstrapToken: () =>
        (record.tokenId ? tokens.get(record.tokenId) : undefined) ?? currentToken(this.ctx.repo.tokens())?.token ?? base.bootstrapToken(),
      certificateKey: () => base.certificateKey(),
      discoveryHash: () => base.discoveryHash(),
      pkiFile: (name, host) => base.pkiFile(name, host),
      adminKubeconfig: () => base.adminKubeconfig(),
    };
    const extras = record.kind === 'etcd-member-remove' && record.target ? { memberName: record.target } : {};
    const built = this.ctx.inputs.buildStep(this.ctx.plan, planned, secrets, extras);
    const params: Record<string, unknown> = { ...built.params };
    if (record.kind === 'etcd-member-remove' && record.target) params.memberName = record.target;
    if (record.kind === 'reset') params.nodeName = record.host;
    this.ctx.redactor.add(built.redact);
    if (planned.secrets.length > 0 || built.redact.length > 0) {
      // A failed audit write (full disk) is a storage failure: 503 and retry, never a failed step.
      await this.ctx.repo.audit({
        at: new Date(this.ctx.clock.now()).toISOString(),
        host: record.host,
        step: record.id,
        attempt: record.attempt,
        secrets: planned.secrets.length > 0 ? planned.secrets : (['admin-kubeconfig'] as SecretKind[]),
      });
    }
    // buildStep built `params` for this record's kind: the pair is a ReleasedStep of that kind.
    return {
      id: record.id,
      kind: record.kind,
      host: record.host,
      attempt: record.attempt,
      files: built.files,
      params,
      redact: built.redact,
    } as ReleasedStep;
  }

  private async failUnbuildable(record: StepRecord, error: unknown): Promise<void> {
    const stored = this.ctx.repo.step(record.id);
    if (!stored) return;
    const message = this.ctx.redactor.redact(error instanceof Error ? error.message : String(error));
    this.ctx.log.error({ step: record.id, err: message }, 'step could not be built; marked failed');
    const updated = applyReport(
      this.ctx.plan,
      stored.value,
      { outcome: 'failed', attempt: stored.value.attempt, reason: 'build-failed', permanent: true },
      `the coordinator could not build this step: ${message}`,
      this.ctx.clock.now(),
      this.ctx.config,
    );
    await this.ctx.repo.commit(this.ctx.repo.txn().step({ ...updated, needsCleanup: false }, stored.version));
    this.ctx.events.step(updated);
    this.ctx.reconcile();
  }

  private synthesizeStep(record: StepRecord): PlannedStep {
    const role = this.ctx.repo.host(record.host)?.value.role ?? 'control-plane';
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
}
