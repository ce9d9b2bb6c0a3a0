/**
 * The coordinator's side effects on the cluster through the API server: bootstrap tokens (made
 * here, for `kubeadm init` to create or for the API server to store) and the steps the
 * coordinator runs itself (Node deletion). Without an API-server client (demo, tests) tokens
 * wait, visibly, and Node deletion is skipped with a note.
 */
import { generateBootstrapToken } from '../../generator/pki/secrets.ts';
import { COORDINATOR_HOST, type TokenRecord } from '../model.ts';
import { applyReport } from '../scheduler.ts';
import type { ServiceContext } from './context.ts';

export class ClusterEffects {
  private minting = false;
  private mintNotBefore = 0;
  private mintFailures = 0;

  constructor(
    private readonly ctx: ServiceContext,
    /** Asks the reconciler to run again at `at` (token creation backoff). */
    private readonly wakeAt: (at: number) => void,
  ) {}

  /** A new bootstrap token record; its value is redacted from now on. */
  newToken(now: number, via: TokenRecord['via']): TokenRecord {
    const value = generateBootstrapToken(this.ctx.inputs.random);
    const token: TokenRecord = { id: value.slice(0, 6), token: value, createdAt: now, expiresAt: now + this.ctx.config.tokenTtlMs, via };
    this.ctx.redactor.add([token.token]);
    return token;
  }

  /** Creates a fresh bootstrap token through the API server, then records it. One at a time, with backoff. */
  mintToken(): void {
    const { ctx } = this;
    const kubernetes = ctx.options.kubernetes;
    if (this.minting || ctx.clock.now() < this.mintNotBefore) return;
    if (!kubernetes) {
      if (this.mintFailures++ === 0) ctx.log.warn({}, 'a bootstrap token must be minted but no API-server client is configured');
      return;
    }
    this.minting = true;
    const token = this.newToken(ctx.clock.now(), 'api');
    const [id, secret] = token.token.split('.') as [string, string];
    kubernetes
      .createBootstrapToken({ id, secret, expiresAt: token.expiresAt, description: 'kubeseed coordinator: node joins' })
      .then(async () => {
        await ctx.repo.commit(ctx.repo.txn().newToken(token));
        this.mintFailures = 0;
        ctx.log.info({ tokenId: id, expiresAt: new Date(token.expiresAt).toISOString() }, 'bootstrap token created');
        ctx.events.emit({ type: 'token', id, expiresAt: token.expiresAt });
      })
      .catch((error: unknown) => {
        this.mintFailures++;
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.mintFailures, 6));
        this.mintNotBefore = ctx.clock.now() + delay;
        ctx.log.warn({ err: ctx.redactor.redact(String(error)) }, 'bootstrap token creation failed; retrying');
        this.wakeAt(this.mintNotBefore);
      })
      .finally(() => {
        this.minting = false;
        ctx.reconcile();
      });
  }

  /** Runs the released steps whose host is the coordinator itself (Node deletion through the API server). */
  runCoordinatorSteps(): void {
    const { ctx } = this;
    for (const r of ctx.repo.stepsWithPrefix(COORDINATOR_HOST)) {
      const record = r.value;
      if (record.state !== 'released' || ctx.live.coordinatorRuns.has(record.id)) continue;
      const kubernetes = ctx.options.kubernetes;
      ctx.live.coordinatorRuns.add(record.id);
      const started = ctx.clock.now();
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
          const current = ctx.repo.step(record.id);
          if (!current || current.value.attempt !== record.attempt || current.value.state !== 'released') return;
          const updated = applyReport(
            ctx.plan,
            current.value,
            { outcome: result.outcome, attempt: record.attempt },
            ctx.redactor.redact(result.logTail),
            ctx.clock.now(),
            ctx.config,
          );
          await ctx.repo.commit(ctx.repo.txn().step(updated, current.version));
          ctx.events.step(updated);
          ctx.log.info({ step: record.id, outcome: result.outcome, ms: ctx.clock.now() - started }, 'coordinator step finished');
        })
        .catch((error: unknown) => ctx.log.error({ err: error }, 'coordinator step could not be recorded'))
        .finally(() => {
          ctx.live.coordinatorRuns.delete(record.id);
          ctx.reconcile();
        });
    }
  }
}
