/**
 * The coordinator among replicas (server/replica.ts): the sole coordinator of a journal always
 * leads; an elected one follows the election (its rollout starts the first time it leads, and a
 * lost term is reported once); a standby app refuses agent calls and operator actions with 503,
 * `Retry-After` and the leader's URL, serves status reads naming itself, and starts nothing until
 * it leads. (Two real replicas on a real etcd: test/validators/server/serve-replicas.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../../server/app.ts';
import { electedReplica, type Replica, type ReplicaStatus, replicaId, soleReplica, standbyAnswer } from '../../../server/replica.ts';
import { replicaText } from '../../../server/status-page/client/view-model.ts';
import type { EtcdLeaderElection, LeaderState } from '../../../server/store/etcd-leader.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, enrollBody, FakeKubernetes, makeInputs, OPERATOR_TOKEN } from './support.ts';

/** An election whose state the test sets. */
function fakeElection(initial: LeaderState): {
  election: EtcdLeaderElection;
  set(state: LeaderState): void;
  replica: ReturnType<typeof electedReplica>;
} {
  let state = initial;
  const election = { current: () => state } as unknown as EtcdLeaderElection;
  const replica = electedReplica(election, 'b/2');
  return {
    election,
    replica,
    set(next) {
      state = next;
      replica.changed(next);
    },
  };
}

const LEADER = { id: 'a/1', url: 'https://10.0.0.5:9443' };

describe('replicas', () => {
  it('ids are unique per process start even with the same host name and pid (containers, PID namespaces)', () => {
    // Two replicas in containers (or namespaces) on different machines can both be `vm` with pid 35.
    const a = replicaId();
    const b = replicaId();
    expect(a).not.toBe(b);
    expect(a).toMatch(new RegExp(`^[^/]+/${process.pid}-[0-9a-f]{4}$`));
  });

  it('the sole coordinator of a journal or memory store always leads and runs onLeader at once', () => {
    const replica = soleReplica('journal', 'h/1');
    expect(replica.current()).toEqual({ id: 'h/1', role: 'leader', store: 'journal' });
    let ran = 0;
    replica.onLeader(() => ran++);
    expect(ran).toBe(1);
  });

  it('an elected replica starts its rollout the first time it leads, once, and reports a lost term once', () => {
    const f = fakeElection({ role: 'standby', leader: LEADER });
    let started = 0;
    let lost = 0;
    f.replica.onLeader(() => started++);
    f.replica.onLostLead(() => lost++);
    expect(f.replica.current()).toEqual({ id: 'b/2', role: 'standby', store: 'etcd', leader: LEADER });
    f.set({ role: 'standby' });
    expect([started, lost]).toEqual([0, 0]);
    f.set({ role: 'leader', since: 7 });
    f.set({ role: 'leader', since: 7 });
    expect([started, lost]).toEqual([1, 0]);
    expect(f.replica.current()).toEqual({ id: 'b/2', role: 'leader', store: 'etcd' });
    f.set({ role: 'standby' });
    f.set({ role: 'standby', leader: LEADER });
    expect([started, lost]).toEqual([1, 1]);
  });

  it('a standby refuses every route not marked as served by standbys — one added later included — naming the leader', async () => {
    const standby = fakeElection({ role: 'standby', leader: LEADER }).replica as Replica;
    const app = buildApp(makeInputs(makePlan({ workers: 1 })), {
      store: new MemoryStore(),
      kubernetes: new FakeKubernetes(),
      replica: standby,
      // A route someone adds later without a word about replicas: it writes, so only the leader may answer it.
      extend: (a) => a.post('/v1/something-new', async () => ({ wrote: true })),
    });
    try {
      await app.ready();
      const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
      const refused = (r: { statusCode: number; headers: Record<string, unknown>; body: string }) =>
        r.statusCode === 503 && r.headers['x-kubeseed-leader'] === LEADER.url && r.body.includes('is a standby');
      for (const [method, url] of [
        ['POST', '/v1/enroll'],
        ['POST', '/v1/install-failed'],
        ['GET', '/v1/next?wait=5000'],
        ['POST', '/v1/report'],
        ['POST', '/v1/heartbeat'],
        ['POST', '/v1/admin/hosts/w1/retry'],
        ['POST', '/v1/something-new'],
      ] as const) {
        const r = await app.inject({ method, url, headers: auth, payload: method === 'POST' ? {} : undefined });
        expect(refused(r), `${method} ${url}: ${r.statusCode} ${r.body}`).toBe(true);
        expect(r.headers['retry-after'], url).toBe('2');
        expect(r.json().message, url).toBe(`this coordinator (b/2) is a standby; the leader is a/1 at ${LEADER.url}`);
      }
      for (const url of ['/v1/status', '/v1/admin/hosts', '/v1/admin/audit?host=w1', '/agent/linux-amd64']) {
        const r = await app.inject({ url, headers: auth });
        expect(refused(r), `${url}: ${r.statusCode} ${r.body}`).toBe(false);
      }
      // An unknown URL stays a 404, also on a standby.
      expect((await app.inject({ url: '/v1/nextstep', headers: auth })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('the refusal names the leader when known and is null on the leader or a sole coordinator', () => {
    const unknown = fakeElection({ role: 'standby' }).replica;
    expect(standbyAnswer(unknown)).toEqual({
      headers: { 'retry-after': '2' },
      message: 'this coordinator (b/2) is a standby and no leader is known yet; retry shortly',
    });
    expect(standbyAnswer(fakeElection({ role: 'leader', since: 1 }).replica)).toBeNull();
    expect(standbyAnswer(soleReplica('journal'))).toBeNull();
  });

  it('a standby app answers 503 to agents, serves status naming itself, and starts the rollout only when it leads', async () => {
    const f = fakeElection({ role: 'standby', leader: LEADER });
    const store = new MemoryStore();
    const app = buildApp(makeInputs(makePlan({ workers: 1 })), { store, kubernetes: new FakeKubernetes(), replica: f.replica as Replica });
    try {
      await app.ready();
      // Nothing started: no host or step records written by this replica.
      expect(store.list('host/')).toEqual([]);
      const enroll = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(createAgent('w1')) });
      expect(enroll.statusCode).toBe(503);
      expect(enroll.headers['retry-after']).toBe('2');
      expect(enroll.headers['x-kubeseed-leader']).toBe(LEADER.url);
      expect(enroll.json()).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('standby') });
      const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
      const status = await app.inject({ url: '/v1/status', headers: auth });
      expect(status.statusCode).toBe(200);
      expect(status.json().coordinator).toEqual({ id: 'b/2', role: 'standby', store: 'etcd', leader: LEADER } satisfies ReplicaStatus);

      f.set({ role: 'leader', since: 3 });
      await new Promise((r) => setTimeout(r, 50));
      expect(store.list('host/').length).toBeGreaterThan(0);
      expect((await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(createAgent('w1')) })).statusCode).toBe(200);
      expect((await app.inject({ url: '/v1/status', headers: auth })).json().coordinator).toEqual({
        id: 'b/2',
        role: 'leader',
        store: 'etcd',
      });
    } finally {
      await app.close();
    }
  });

  it('status text names the replica on etcd only', () => {
    expect(replicaText(undefined)).toBeNull();
    expect(replicaText({ id: 'h/1', role: 'leader', store: 'journal' })).toBeNull();
    expect(replicaText({ id: 'a/1', role: 'leader', store: 'etcd' })).toBe('answered by a/1, the leader (store: etcd)');
    expect(replicaText({ id: 'b/2', role: 'standby', store: 'etcd', leader: LEADER })).toBe(
      `answered by b/2, a standby (store: etcd; the leader is a/1 at ${LEADER.url})`,
    );
    expect(replicaText({ id: 'b/2', role: 'standby', store: 'etcd' })).toBe(
      'answered by b/2, a standby (store: etcd; no leader known yet)',
    );
  });
});
