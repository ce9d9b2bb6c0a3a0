/**
 * Which replica of the coordinator this process is, and whether it leads (issue 20). On a
 * journal or memory store there is one coordinator and it always leads. On etcd every replica
 * campaigns (server/store/etcd-leader.ts); only the leader starts the rollout services — it
 * releases steps, mints tokens and writes, each write fenced on its term — while a standby
 * serves status reads from its watch-fed copy of the store and answers agent calls and operator
 * actions with 503, `Retry-After` and the leader's URL.
 *
 * Runtime contract: `current()` is cheap (called per request); `onLeader` runs once, the first
 * time this replica leads; `onLostLead` once, when a leader stops leading (serve then exits so a
 * service manager restarts it as a standby: a term's in-memory state never outlives the term).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EtcdLeaderElection, LeaderState } from './store/etcd-leader.ts';
import { EtcdStore } from './store/etcd-store.ts';
import { JournalStore } from './store/journal-store.ts';
import type { Store } from './store/types.ts';

export type StoreKind = 'journal' | 'memory' | 'etcd';

/** What `GET /v1/status` says about the replica that answered. */
export interface ReplicaStatus {
  id: string;
  role: 'leader' | 'standby';
  store: StoreKind;
  /** A standby's view of the leader (absent while none is known). */
  leader?: { id: string; url?: string };
}

export interface Replica {
  current(): ReplicaStatus;
  onLeader(run: () => void): void;
  onLostLead(run: () => void): void;
}

export function storeKind(store: Store): StoreKind {
  return store instanceof JournalStore ? 'journal' : store instanceof EtcdStore ? 'etcd' : 'memory';
}

/**
 * An id readable in logs — host name and process id — made unique by a random suffix: replicas in
 * containers or PID namespaces on different machines can share both (`vm/35` twice).
 */
export function replicaId(): string {
  return `${hostname()}/${process.pid}-${randomBytes(2).toString('hex')}`;
}

/** The only coordinator of a journal or memory store: always the leader. */
export function soleReplica(store: StoreKind, id = replicaId()): Replica {
  return {
    current: () => ({ id, role: 'leader', store }),
    onLeader: (run) => run(),
    onLostLead: () => {},
  };
}

/** A replica among several on one etcd: its role follows the election. */
export function electedReplica(election: EtcdLeaderElection, id: string): Replica & { changed(state: LeaderState): void } {
  const leaders: (() => void)[] = [];
  const losers: (() => void)[] = [];
  let led = false;
  const status = (state: LeaderState): ReplicaStatus =>
    state.role === 'leader'
      ? { id, role: 'leader', store: 'etcd' }
      : { id, role: 'standby', store: 'etcd', ...(state.leader ? { leader: state.leader } : {}) };
  return {
    current: () => status(election.current()),
    onLeader(run) {
      if (led) run();
      else leaders.push(run);
    },
    onLostLead(run) {
      losers.push(run);
    },
    /** Wire to the election's onChange. */
    changed(state) {
      if (state.role === 'leader' && !led) {
        led = true;
        for (const run of leaders.splice(0)) run();
      } else if (state.role === 'standby' && led) {
        for (const run of losers.splice(0)) run();
      }
    },
  };
}

/**
 * What a standby answers instead of a call that only the leader may serve: the header fields and
 * message of a 503, or null when this replica leads. Which calls a standby serves is said where
 * each route is declared (`config: { servedByStandby: true }`, server/app.ts): every other route,
 * one added later included, is the leader's.
 */
export function standbyAnswer(replica: Replica): { headers: Record<string, string>; message: string } | null {
  const now = replica.current();
  if (now.role === 'leader') return null;
  const leaderUrl = now.leader?.url;
  return {
    headers: { 'retry-after': '2', ...(leaderUrl ? { 'x-kubeseed-leader': leaderUrl } : {}) },
    message: leaderUrl
      ? `this coordinator (${now.id}) is a standby; the leader is ${now.leader!.id} at ${leaderUrl}`
      : `this coordinator (${now.id}) is a standby and no leader is known yet; retry shortly`,
  };
}
