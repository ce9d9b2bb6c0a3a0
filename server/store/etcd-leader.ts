/**
 * One leader among coordinator replicas sharing an etcd (issue 20), the way etcd's own
 * `concurrency.Election` does it: each replica holds a lease of `ttlSeconds` and campaigns by
 * creating the leader key attached to that lease, in a Txn that requires the key not to exist.
 * The winner renews its lease every third of the TTL; when it stops (revoking the lease) or dies
 * (the lease expires) the key disappears and a standby's next campaign wins.
 *
 * A leader that cannot renew — paused, or partitioned from etcd — considers itself leader only
 * until the last successful renewal's send time plus the TTL, which is never later than etcd
 * expires the lease. Its writes are fenced in any case: `fence()` makes every store Txn require
 * the leader key's create_revision to be the one it won with (etcd-store.ts), so a replica that
 * lost the key cannot write, however late it notices.
 */
import { performance } from 'node:perf_hooks';
import { EtcdClient, type EtcdClientOptions, type EtcdCompare } from './etcd-client.ts';
import { StoreError } from './types.ts';

export interface LeaderIdentity {
  /** The replica's id (unique per process). */
  id: string;
  /** Where agents and operators reach it, e.g. https://10.0.0.5:9443. */
  url?: string;
}

/** The election key of the replicas whose records are under `prefix` (serve campaigns for it; day-2 planning refuses while it exists). */
export function leaderKey(prefix: string): string {
  return `${prefix}leader`;
}

export type LeaderState = { role: 'leader'; since: number } | { role: 'standby'; leader?: LeaderIdentity };

export interface EtcdLeaderOptions extends EtcdClientOptions {
  /** The election key, e.g. `kubeseed/<cluster>/leader`. */
  key: string;
  self: LeaderIdentity;
  /** Lease TTL in seconds (default 10). */
  ttlSeconds?: number;
  onChange?: (state: LeaderState) => void;
  /** Reports a failed renewal or campaign (the election keeps trying). */
  onError?: (error: Error) => void;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
}

export class EtcdLeaderElection {
  private readonly client: EtcdClient;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private lease: string | undefined;
  private state: LeaderState = { role: 'standby' };
  /** create_revision of the leader key this replica created (its term). */
  private term = 0;
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Fires at `validUntil`: a leader that could not renew steps down then, whether or not anyone asks. */
  private expiry: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> = Promise.resolve();

  constructor(private readonly options: EtcdLeaderOptions) {
    this.client = new EtcdClient(options);
    this.ttlMs = (options.ttlSeconds ?? 10) * 1000;
    this.now = options.now ?? (() => performance.now());
  }

  /** Campaigns once (so the role is known when this resolves), then keeps the election going. */
  async start(): Promise<LeaderState> {
    await this.tick();
    this.schedule();
    return this.current();
  }

  /** The role now; a leader whose renewal is overdue is already a standby here. */
  current(): LeaderState {
    if (this.state.role === 'leader' && this.now() >= this.validUntil) this.stepDown();
    return this.state;
  }

  isLeader(): boolean {
    return this.current().role === 'leader';
  }

  /** The compare a leader's store writes carry; throws when this replica does not lead. */
  fence(): EtcdCompare[] {
    if (!this.isLeader()) throw new StoreError('this coordinator is not the leader: it does not write the rollout state');
    return [{ key: this.options.key, target: 'create', modRevision: this.term }];
  }

  /** Stops campaigning; a leader revokes its lease so a standby takes over at its next tick. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiry);
    await this.ticking;
    if (this.lease) await this.client.revokeLease(this.lease).catch(() => {});
    this.lease = undefined;
    if (this.state.role === 'leader') this.setState({ role: 'standby' });
    this.client.close();
  }

  /**
   * Stops at once without a word to etcd — for a replica that lost its term (its lease is gone or
   * out of reach): a renewal or campaign in flight is cut off, no lease is revoked.
   */
  abandon(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiry);
    this.lease = undefined;
    if (this.state.role === 'leader') this.setState({ role: 'standby' });
    this.client.close();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => this.schedule());
    }, this.ttlMs / 3);
  }

  /** Leader: renew and check the key is still ours. Standby: campaign when the key is gone. */
  private async tick(): Promise<void> {
    try {
      if (this.current().role === 'leader') await this.renew();
      else await this.campaign();
    } catch (error) {
      this.options.onError?.(error as Error);
      this.current();
    }
  }

  private async renew(): Promise<void> {
    const sent = this.now();
    const ttl = await this.client.keepAlive(this.lease!);
    const key = await this.client.get(this.options.key);
    if (ttl <= 0 || key?.createRevision !== this.term) {
      this.lease = undefined;
      this.stepDown();
      return;
    }
    this.leadUntil(sent + Math.min(ttl * 1000, this.ttlMs));
  }

  /** Extends the term to `until` (monotonic ms) and arms the step-down for that moment. */
  private leadUntil(until: number): void {
    this.validUntil = until;
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.current(), Math.max(0, until - this.now()) + 1);
    this.expiry.unref();
  }

  private async campaign(): Promise<void> {
    const sent = this.now();
    const existing = await this.client.get(this.options.key);
    if (existing) {
      // Still our key after a renewal came too late (a short partition): lead again if the lease lives.
      if (this.lease !== undefined && existing.lease === this.lease && existing.createRevision === this.term) {
        const ttl = await this.client.keepAlive(this.lease);
        if (ttl > 0) {
          this.leadUntil(sent + Math.min(ttl * 1000, this.ttlMs));
          this.setState({ role: 'leader', since: this.term });
          return;
        }
      }
      this.setState({ role: 'standby', leader: JSON.parse(existing.value) as LeaderIdentity });
      return;
    }
    if (this.lease === undefined || (await this.client.keepAlive(this.lease)) <= 0) {
      this.lease = await this.client.grantLease(this.ttlMs / 1000);
    }
    const answer = await this.client.txn(
      [{ key: this.options.key, target: 'create', modRevision: 0 }],
      [{ put: { key: this.options.key, value: JSON.stringify(this.options.self), lease: this.lease } }],
    );
    if (!answer.succeeded) return; // another replica won this round: the next tick reads who
    this.term = answer.revision;
    this.leadUntil(sent + this.ttlMs);
    this.setState({ role: 'leader', since: answer.revision });
  }

  private stepDown(): void {
    clearTimeout(this.expiry);
    this.setState({ role: 'standby' });
  }

  private setState(next: LeaderState): void {
    const changed =
      next.role !== this.state.role ||
      (next.role === 'standby' && this.state.role === 'standby' && next.leader?.id !== this.state.leader?.id);
    this.state = next;
    if (changed) this.options.onChange?.(next);
  }
}
