/**
 * Table tests of the pure scheduler: both topologies, both certificate modes, parallelism,
 * the init lock, token renewal, the two-hour upload-certs window, failures with cleanup and
 * retries, removal and late-added hosts. A tiny simulator applies decisions the way the
 * coordinator does (without a store) so each case reads as a rollout script.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterPlan } from '../../../generator/plan/types.ts';
import type { StepResults } from '../../../protocol/index.ts';
import { COORDINATOR_HOST, createStepRecord, type RolloutSnapshot, type StepRecord } from '../../../server/model.ts';
import {
  applyReport,
  createSchedulerConfig,
  type Decision,
  decide,
  isHostDone,
  planRemoval,
  requeueFailed,
  type SchedulerConfig,
} from '../../../server/scheduler.ts';
import { withVersionRow } from '../../support/version-row.ts';
import { addWorkers, type FixtureOptions, makePlan, newHostRecord } from './fixtures.ts';

const T0 = Date.UTC(2026, 10, 22, 8, 0, 0);
const MIN = 60_000;

class Sim {
  snapshot: RolloutSnapshot = { hosts: {}, steps: {}, tokens: [], lastSeen: {} };
  now = T0;
  config: SchedulerConfig;
  mintRequests = 0;
  lastDecisions: Decision[] = [];
  nextWakeAt: number | undefined;
  waiting: Record<string, string> = {};
  private tokenSeq = 0;

  constructor(
    public plan: ClusterPlan,
    overrides: Partial<SchedulerConfig> = {},
  ) {
    this.config = createSchedulerConfig(plan, { backoffBaseMs: 1000, backoffMaxMs: 8000, maxAttempts: 3, ...overrides });
    this.addPlanRecords();
  }

  addPlanRecords(): void {
    for (const h of this.plan.hosts) {
      this.snapshot.hosts[h.name] ??= newHostRecord(h.name, h.role);
    }
    for (const s of this.plan.steps) this.snapshot.steps[s.id] ??= createStepRecord(s.id, s.host, s.kind, 'plan', 0);
  }

  enroll(...hosts: string[]): this {
    for (const name of hosts.length ? hosts : this.plan.hosts.map((h) => h.name)) {
      const h = this.snapshot.hosts[name]!;
      this.snapshot.hosts[name] = {
        ...h,
        credentialSpent: true,
        enrollment: {
          publicKey: 'k',
          machineId: name,
          smbiosUuid: '',
          macs: [],
          hostname: name,
          arch: 'amd64',
          os: 'x',
          agentVersion: 't',
          at: this.now,
          sourceAddress: '::1',
        },
      };
      this.snapshot.lastSeen[name] = this.now;
    }
    return this;
  }

  /** Runs the scheduler until it has nothing more to do; returns the ids released. */
  tick(): string[] {
    const released: string[] = [];
    this.lastDecisions = [];
    for (let round = 0; round < 5; round++) {
      const schedule = decide(this.snapshot, this.plan, this.now, this.config);
      this.lastDecisions.push(...schedule.decisions);
      this.nextWakeAt = schedule.nextWakeAt;
      this.waiting = schedule.waiting;
      let changed = false;
      for (const d of schedule.decisions) {
        if (d.type === 'mint-token') {
          this.mintRequests++;
          continue;
        }
        changed = true;
        if (d.type === 'create-steps') {
          for (const s of d.steps) this.snapshot.steps[s.id] = s;
          if (d.cleanupFor)
            this.snapshot.steps[d.cleanupFor] = { ...this.snapshot.steps[d.cleanupFor]!, cleanup: d.steps.map((s) => s.id) };
        } else {
          const r = this.snapshot.steps[d.stepId]!;
          const next: StepRecord = { ...r, state: 'released', attempt: d.attempt, releasedAt: this.now };
          if (d.acquireInitLock) this.snapshot.initLock = { holder: d.host, acquiredAt: this.now, succeeded: false };
          if (d.mintInitToken) next.tokenId = this.mint('init');
          else if (d.tokenId) next.tokenId = d.tokenId;
          this.snapshot.steps[d.stepId] = next;
          released.push(d.stepId);
        }
      }
      if (!changed) break;
    }
    return released;
  }

  mint(via: 'init' | 'api' = 'api'): string {
    const id = `tok${String(this.tokenSeq++).padStart(3, '0')}`;
    this.snapshot.tokens.push({ id, token: `${id}.x`, createdAt: this.now, expiresAt: this.now + this.config.tokenTtlMs, via });
    return id;
  }

  report(id: string, outcome: 'succeeded' | 'failed' | 'running', results: StepResults = {}, permanent = false): void {
    const r = this.snapshot.steps[id];
    if (!r) throw new Error(`no step ${id}`);
    if (r.state !== 'released' && r.state !== 'running') throw new Error(`${id} is ${r.state}, not released`);
    const updated = applyReport(this.plan, r, { outcome, attempt: r.attempt, results, permanent }, '', this.now, this.config);
    this.snapshot.steps[id] = updated;
    if (r.kind === 'kubeadm-init' && updated.state === 'succeeded')
      this.snapshot.initLock = { ...this.snapshot.initLock!, succeeded: true, succeededAt: this.now };
  }

  /** Reports success for a released step with the facts its gate needs. */
  succeed(id: string): void {
    this.report(id, 'succeeded', { etcdVoter: true, nodeRegistered: true, apiServerReady: true, etcdHealthy: true });
  }

  state(id: string): string | undefined {
    return this.snapshot.steps[id]?.state;
  }

  active(): string[] {
    return Object.values(this.snapshot.steps)
      .filter((s) => s.state === 'released' || s.state === 'running')
      .map((s) => s.id)
      .sort();
  }

  /** Runs released steps to success until nothing is released any more; returns the release order. */
  runToEnd(maxRounds = 200): string[] {
    const order: string[] = [];
    for (let i = 0; i < maxRounds; i++) {
      order.push(...this.tick());
      const active = this.active();
      if (active.length === 0) break;
      for (const id of active) this.succeed(id);
    }
    return order;
  }
}

/** Succeeds everything that is not a join until the first joins are released. */
function toFirstJoins(s: Sim): void {
  for (let i = 0; i < 8; i++) {
    for (const id of s.tick()) if (!id.includes('join')) s.succeed(id);
    if (s.active().some((id) => id.includes('join'))) return;
  }
  throw new Error('no join was released');
}

function sim(options: FixtureOptions = {}, overrides: Partial<SchedulerConfig> = {}): Sim {
  return new Sim(makePlan(options), overrides);
}

describe('rollout order', () => {
  it.each([
    ['stacked', 'coordinator'],
    ['stacked', 'upload-certs'],
    ['external-etcd', 'coordinator'],
    ['external-etcd', 'upload-certs'],
  ] as const)(
    '%s / %s: LB → (etcd) → init → CNI → control planes one at a time, workers after the first control plane',
    (topology, distribution) => {
      const s = sim({ topology, distribution, workers: 4, workerParallelism: 2 }).enroll();
      const first = s.tick();
      const expectedFirst =
        topology === 'external-etcd'
          ? ['lb1/lb-check', 'lb2/lb-check', 'etcd1/etcd-start', 'etcd2/etcd-start', 'etcd3/etcd-start']
          : ['lb1/lb-check', 'lb2/lb-check'];
      expect(first.sort()).toEqual(expectedFirst.sort());
      expect(s.waiting.cp1).toBeDefined();
      expect(s.waiting.w1).toMatch(/cni-apply|init/);
      for (const id of first) s.succeed(id);
      expect(s.tick()).toEqual(['cp1/kubeadm-init']);
      s.succeed('cp1/kubeadm-init');
      expect(s.tick()).toEqual(['cp1/cni-apply']);
      s.succeed('cp1/cni-apply');
      // One control plane and up to workerParallelism workers at once.
      expect(s.tick().sort()).toEqual(['cp2/kubeadm-join-control-plane', 'w1/kubeadm-join-worker', 'w2/kubeadm-join-worker']);
      s.succeed('w1/kubeadm-join-worker');
      expect(s.tick()).toEqual(['w3/kubeadm-join-worker']);
      s.succeed('cp2/kubeadm-join-control-plane');
      expect(s.tick()).toEqual(['cp3/kubeadm-join-control-plane']);
      const rest = s.runToEnd();
      expect(rest.slice(-2)).toEqual(['cp1/label-nodes', 'cp1/verify']);
      for (const h of s.plan.hosts) expect(isHostDone(s.snapshot, s.plan, h.name), h.name).toBe(true);
      expect(s.snapshot.initLock).toMatchObject({ holder: 'cp1', succeeded: true });
    },
  );

  it('external etcd: members are released together only once every member enrolled', () => {
    const s = sim({ topology: 'external-etcd' }).enroll('lb1', 'lb2', 'etcd1', 'etcd2', 'cp1');
    expect(s.tick().sort()).toEqual(['lb1/lb-check', 'lb2/lb-check']);
    expect(s.waiting.etcd1).toMatch(/etcd3/);
    s.enroll('etcd3');
    expect(s.tick().sort()).toEqual(['etcd1/etcd-start', 'etcd2/etcd-start', 'etcd3/etcd-start']);
  });

  it('never releases a worker join before init succeeded, even if the plan forgot the edge', () => {
    const plan = makePlan({ workers: 2 });
    const loose: ClusterPlan = { ...plan, steps: plan.steps.map((st) => (st.kind === 'kubeadm-join-worker' ? { ...st, after: [] } : st)) };
    const s = new Sim(loose).enroll();
    const released = s.runToEnd();
    expect(released.indexOf('w1/kubeadm-join-worker')).toBeGreaterThan(released.indexOf('cp1/kubeadm-init'));
  });

  it('a host that has not enrolled blocks nobody else in its group', () => {
    const s = sim({ workers: 3, workerParallelism: 1 }).enroll('lb1', 'lb2', 'cp1', 'cp2', 'cp3', 'w2', 'w3');
    const released = s.runToEnd();
    expect(released).toContain('w2/kubeadm-join-worker');
    expect(released).toContain('w3/kubeadm-join-worker');
    expect(s.state('cp1/label-nodes')).toBe('pending');
  });
});

describe('control-plane joins', () => {
  it('stacked: a join counts as done only when the agent reports its etcd member a voter', () => {
    const s = sim().enroll();
    toFirstJoins(s);
    expect(s.state('cp2/kubeadm-join-control-plane')).toBe('released');
    s.report('cp2/kubeadm-join-control-plane', 'succeeded', { nodeRegistered: true });
    expect(s.state('cp2/kubeadm-join-control-plane')).toBe('running');
    expect(s.tick()).not.toContain('cp3/kubeadm-join-control-plane');
    expect(s.waiting.cp3).toMatch(/previous control plane/);
    s.report('cp2/kubeadm-join-control-plane', 'succeeded', { etcdVoter: true });
    expect(s.tick()).toContain('cp3/kubeadm-join-control-plane');
  });

  it('external: a join counts as done when the node is registered and its API server ready', () => {
    const s = sim({ topology: 'external-etcd' }).enroll();
    toFirstJoins(s);
    s.report('cp2/kubeadm-join-control-plane', 'succeeded', { etcdVoter: true });
    expect(s.state('cp2/kubeadm-join-control-plane')).toBe('running');
    s.report('cp2/kubeadm-join-control-plane', 'succeeded', { nodeRegistered: true, apiServerReady: true });
    expect(s.tick()).toContain('cp3/kubeadm-join-control-plane');
  });

  it.each([
    [37, 'stacked', 2, 2],
    [36, 'stacked', 2, 1],
    [36, 'external-etcd', 2, 2],
    [37, 'stacked', 1, 1],
  ] as const)('Kubernetes 1.%d %s controlPlaneParallelism %d → %d joins at once', (minor, topology, parallelism, expected) => {
    const s = sim({ kubernetesMinor: minor, topology, controlPlaneParallelism: parallelism, controlPlanes: 4, workers: 0 }).enroll();
    toFirstJoins(s);
    expect(s.active().filter((id) => id.includes('join-control-plane'))).toHaveLength(expected);
  });

  it('parallel stacked joins follow the version table row, not a minor written in the scheduler', async () => {
    const joins = () => {
      const s = sim({ kubernetesMinor: 37, topology: 'stacked', controlPlaneParallelism: 2, controlPlanes: 4, workers: 0 }).enroll();
      toFirstJoins(s);
      return s.active().filter((id) => id.includes('join-control-plane')).length;
    };
    expect(joins()).toBe(2);
    expect(await withVersionRow(37, { parallelStackedJoins: false }, joins)).toBe(1);
  });

  it('workerParallelism bounds concurrent worker joins', () => {
    const s = sim({ workers: 10, workerParallelism: 3 }).enroll();
    let max = 0;
    for (let i = 0; i < 100; i++) {
      s.tick();
      const active = s.active();
      max = Math.max(max, active.filter((id) => id.includes('join-worker')).length);
      if (active.length === 0) break;
      // Finish one step at a time to look at every intermediate state.
      s.succeed(active[0]!);
    }
    expect(max).toBe(3);
    expect(s.state('w10/kubeadm-join-worker')).toBe('succeeded');
  });
});

describe('init lock', () => {
  it('only the holder retries init, after a reset, and the lock survives', () => {
    const s = sim({ workers: 1 }).enroll();
    s.tick();
    for (const id of s.active()) s.succeed(id);
    expect(s.tick()).toEqual(['cp1/kubeadm-init']);
    expect(s.lastDecisions[0]).toMatchObject({ type: 'release', acquireInitLock: true, mintInitToken: true });
    s.report('cp1/kubeadm-init', 'failed');
    const released = s.tick();
    expect(released).toEqual([expect.stringMatching(/^cp1\/reset#/)]);
    s.succeed(released[0]!);
    expect(s.tick()).toEqual([]);
    s.now += 1000;
    expect(s.tick()).toEqual(['cp1/kubeadm-init']);
    expect(s.lastDecisions[0]).toMatchObject({ acquireInitLock: false });
    expect(s.snapshot.steps['cp1/kubeadm-init']!.attempt).toBe(2);
  });

  it('a lock held by another host keeps init closed', () => {
    const s = sim().enroll();
    s.snapshot.initLock = { holder: 'cp9', acquiredAt: T0, succeeded: false };
    s.snapshot.hosts.cp9 = {
      name: 'cp9',
      role: 'control-plane',
      credentialSpent: true,
      rebindAllowed: false,
      removed: false,
      awaitingApproval: false,
    };
    s.tick();
    for (const id of s.active()) s.succeed(id);
    expect(s.tick()).toEqual([]);
    expect(s.waiting.cp1).toMatch(/init lock \(held by cp9\)/);
    // The holder was removed before it succeeded: the lock is free again.
    s.snapshot.hosts.cp9 = { ...s.snapshot.hosts.cp9, removed: true };
    expect(s.tick()).toEqual(['cp1/kubeadm-init']);
  });
});

describe('failures and retries', () => {
  it('stacked control-plane join failure: member removed on a healthy CP, Node deleted, host reset, then retried with backoff', () => {
    const s = sim({ workers: 0 }).enroll();
    toFirstJoins(s);
    s.report('cp2/kubeadm-join-control-plane', 'failed');
    const record = s.snapshot.steps['cp2/kubeadm-join-control-plane']!;
    expect(record).toMatchObject({ state: 'retry-wait', failures: 1, retryAt: T0 + 1000, needsCleanup: true });
    const cleanup = s.tick();
    expect(cleanup.map((id) => id.replace(/#\d+$/, '')).sort()).toEqual(['cp1/etcd-member-remove', 'cp2/reset']);
    const memberRemove = Object.values(s.snapshot.steps).find((r) => r.kind === 'etcd-member-remove')!;
    expect(memberRemove.target).toBe('cp2');
    // cp3 must not start while cp2's half-added member may still exist.
    expect(cleanup).not.toContain('cp3/kubeadm-join-control-plane');
    for (const id of cleanup) s.succeed(id);
    // The Node is deleted once the reset stopped the kubelet.
    const deletion = s.tick();
    expect(deletion.map((id) => id.replace(/#\d+$/, ''))).toEqual(['@coordinator/delete-node']);
    expect(s.tick()).toEqual([]);
    s.succeed(deletion[0]!);
    // Once no half-added member is left, the next control plane may go; cp2 retries after backoff.
    expect(s.tick()).toEqual(['cp3/kubeadm-join-control-plane']);
    s.now = T0 + 1000;
    expect(s.tick()).toEqual([]);
    expect(s.waiting.cp2).toMatch(/previous control plane/);
    s.succeed('cp3/kubeadm-join-control-plane');
    expect(s.tick()).toEqual(['cp2/kubeadm-join-control-plane']);
    expect(s.snapshot.steps['cp2/kubeadm-join-control-plane']!.attempt).toBe(2);
  });

  it('worker join failure: Node deleted and host reset before the retry; exponential backoff; failed after maxAttempts', () => {
    const s = sim({ workers: 1, controlPlanes: 1 }).enroll();
    toFirstJoins(s);
    const id = 'w1/kubeadm-join-worker';
    const retryTimes: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(s.state(id)).toBe('released');
      s.report(id, 'failed');
      if (attempt === 3) break;
      const reset = s.tick();
      expect(reset.map((c) => c.split('#')[0])).toEqual(['w1/reset']);
      s.succeed(reset[0]!);
      const deletion = s.tick();
      expect(deletion.map((c) => c.split('#')[0])).toEqual([`${COORDINATOR_HOST}/delete-node`]);
      s.succeed(deletion[0]!);
      s.tick();
      retryTimes.push(s.nextWakeAt! - s.now);
      s.now = s.nextWakeAt!;
      s.tick();
    }
    expect(retryTimes).toEqual([1000, 2000]);
    expect(s.state(id)).toBe('failed');
    // Cleanup still runs so the slot frees; the step waits for `kubeseed retry`.
    for (let i = 0; i < 2; i++) for (const c of s.tick()) s.succeed(c);
    s.now += 60 * MIN;
    s.mint('api');
    expect(s.tick()).toEqual([]);
    const requeued = requeueFailed([s.snapshot.steps[id]!], s.now);
    s.snapshot.steps[id] = requeued[0]!;
    expect(s.tick()).toEqual([id]);
  });

  it('cleanup whose executor was removed is planned again on another control plane', () => {
    const s = sim({ workers: 0, controlPlanes: 4, controlPlaneParallelism: 1 }).enroll();
    toFirstJoins(s);
    s.succeed('cp2/kubeadm-join-control-plane');
    s.tick();
    s.report('cp3/kubeadm-join-control-plane', 'failed');
    const first = s.tick();
    const remove = first.find((id) => id.includes('etcd-member-remove'))!;
    const executor = remove.split('/')[0]!;
    // The executor goes away before it ran the removal.
    s.snapshot.hosts[executor] = { ...s.snapshot.hosts[executor]!, removed: true };
    const removal = planRemoval(s.snapshot, s.plan, executor, s.now, s.config);
    for (const c of removal.cancel) s.snapshot.steps[c.id] = c;
    const again = s.tick().filter((id) => id.includes('etcd-member-remove'));
    expect(again).toHaveLength(1);
    expect(again[0]!.split('/')[0]).not.toBe(executor);
    expect(s.snapshot.steps['cp3/kubeadm-join-control-plane']!.cleanup).toContain(again[0]);
  });

  it('a permanent failure does not retry by itself', () => {
    const s = sim({ workers: 0, controlPlanes: 1 }).enroll();
    s.tick();
    for (const id of s.active()) s.succeed(id);
    s.tick();
    s.report('cp1/kubeadm-init', 'failed', {}, true);
    expect(s.state('cp1/kubeadm-init')).toBe('failed');
    for (const id of s.tick()) s.succeed(id);
    s.now += 10 * MIN;
    expect(s.tick()).toEqual([]);
  });

  it('a transient failure of a step without cleanup (lb-check) is retried after backoff', () => {
    const s = sim().enroll('lb1');
    s.tick();
    s.report('lb1/lb-check', 'failed');
    expect(s.tick()).toEqual([]);
    s.now += 1000;
    expect(s.tick()).toEqual(['lb1/lb-check']);
  });
});

describe('upload-certs mode and the two-hour window', () => {
  it('joins inside the window go straight; outside it an upload-certs step runs first on a joined control plane', () => {
    const s = sim({ distribution: 'upload-certs', controlPlanes: 3, workers: 0 }).enroll();
    toFirstJoins(s);
    expect(s.active()).toEqual(['cp2/kubeadm-join-control-plane']);
    // The join takes long; the window (2 h − 20 min margin) passes.
    s.now += 101 * MIN;
    s.succeed('cp2/kubeadm-join-control-plane');
    s.mint('api');
    const released = s.tick();
    expect(released).toHaveLength(1);
    expect(released[0]).toMatch(/^(cp1|cp2)\/upload-certs#/);
    expect(s.waiting.cp3).toMatch(/kubeadm-certs upload/);
    s.succeed(released[0]!);
    expect(s.tick()).toEqual(['cp3/kubeadm-join-control-plane']);
  });

  it('coordinator mode never needs an upload', () => {
    const s = sim({ distribution: 'coordinator', workers: 0 }).enroll();
    toFirstJoins(s);
    s.now += 5 * 60 * MIN;
    s.snapshot.tokens.push({ id: 'fresh', token: 'fresh.x', createdAt: s.now, expiresAt: s.now + 60 * MIN, via: 'api' });
    s.succeed('cp2/kubeadm-join-control-plane');
    expect(s.tick()).toEqual(['cp3/kubeadm-join-control-plane']);
  });

  it('the window is a configurable input (scaled clock for end-to-end tests)', () => {
    const s = sim({ distribution: 'upload-certs', workers: 0 }, { uploadCertsWindowMs: 1000, uploadCertsMarginMs: 200 });
    s.enroll();
    toFirstJoins(s);
    s.now += 900;
    s.mint('api');
    s.succeed('cp2/kubeadm-join-control-plane');
    expect(s.tick()[0]).toMatch(/upload-certs#/);
  });
});

describe('bootstrap tokens', () => {
  it('the init token serves joins until renewBefore; then a new token is minted through the API and used', () => {
    const s = sim({ workers: 3, workerParallelism: 1, tokenTTL: 3600 });
    s.enroll();
    toFirstJoins(s);
    const initToken = s.snapshot.steps['cp1/kubeadm-init']!.tokenId!;
    expect(s.snapshot.steps['w1/kubeadm-join-worker']!.tokenId).toBe(initToken);
    // Renewal is planned for expiry − TTL/3.
    expect(s.nextWakeAt).toBe(T0 + 40 * MIN);
    s.now = T0 + 41 * MIN;
    s.succeed('w1/kubeadm-join-worker');
    expect(s.tick()).not.toContain('w2/kubeadm-join-worker');
    expect(s.mintRequests).toBeGreaterThan(0);
    expect(s.waiting.w2).toMatch(/bootstrap token/);
    const fresh = s.mint('api');
    expect(s.tick()).toContain('w2/kubeadm-join-worker');
    expect(s.snapshot.steps['w2/kubeadm-join-worker']!.tokenId).toBe(fresh);
  });

  it('no renewal once every join is done', () => {
    const s = sim({ workers: 1 }).enroll();
    s.runToEnd();
    s.now += 10 * 60 * MIN;
    s.mintRequests = 0;
    s.tick();
    expect(s.mintRequests).toBe(0);
  });
});

describe('late-added hosts and removal', () => {
  it('hosts added to the plan after the rollout finished get their joins, with a token minted through the API', () => {
    const s = sim({ workers: 1 }).enroll();
    s.runToEnd();
    s.now += 3 * 60 * MIN;
    s.plan = addWorkers(s.plan, ['w9', 'w10']);
    s.addPlanRecords();
    s.enroll('w9', 'w10');
    expect(s.tick()).toEqual([]);
    expect(s.mintRequests).toBe(1);
    s.mint('api');
    expect(s.tick().sort()).toEqual(['w10/kubeadm-join-worker', 'w9/kubeadm-join-worker']);
  });

  it('remove: stacked control plane → etcd member removed on a healthy control plane and its Node deleted; its steps cancelled', () => {
    const s = sim({ workers: 1 }).enroll();
    s.runToEnd();
    const { cancel, create } = planRemoval(s.snapshot, s.plan, 'cp3', s.now, s.config);
    expect(cancel).toEqual([]);
    expect(create.map((c) => `${c.host}/${c.kind}:${c.target}`).sort()).toEqual([
      '@coordinator/delete-node:cp3',
      'cp1/etcd-member-remove:cp3',
    ]);
    const pending = sim({ workers: 1 }).enroll();
    pending.tick();
    const removal = planRemoval(pending.snapshot, pending.plan, 'w1', pending.now, pending.config);
    expect(removal.cancel.map((c) => c.id)).toEqual(['w1/kubeadm-join-worker']);
    expect(removal.create).toEqual([]);
  });

  it('steps of a removed host no longer gate anyone', () => {
    const s = sim({ workers: 2 }).enroll();
    s.snapshot.hosts.w2 = { ...s.snapshot.hosts.w2!, removed: true };
    s.runToEnd();
    expect(s.state('cp1/verify')).toBe('succeeded');
  });
});
