/**
 * The leading replica of the coordinator SIGKILLed at random instants during simulated rollouts on
 * a real etcd (Debian's 3.4, TLS with client certificates, 127.0.0.1; issue 20). Per trial two
 * replicas (child processes, each its own state directory, one etcd prefix per trial) and a
 * 20-host rollout whose agents send to whichever replica leads (on a 503 or a connection error
 * they move to the leader a standby names, or to the other replica). The test finds the leader by
 * asking both replicas' `GET /v1/status`, kills it, waits until the other reports `leader` (the
 * takeover gap: lease TTL 2 s), then restarts the killed one, which must come back a standby, so
 * there are two again. Trials run until KUBESEED_LEADER_KILLS (default 30) kills landed, up to 3
 * per trial. Every trial completes with the invariants of the journal trials (server-kill.test.ts,
 * same RolloutTracker): no violation, every host done, `kubeadm init` handed out once at attempt
 * 1, no step handed out again after its success was acknowledged; and no two replicas ever report
 * `leader` in the same look.
 */

import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEtcd, type TestEtcd } from '../support/etcd-server.ts';
import { skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';
import { RolloutTracker, SimAgent } from '../unit/server/agent-sim.ts';
import { bundleServeEntry, freePort, killHard, killLeftovers, startServer } from '../unit/server/child-server.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { createAgent, createTestTls } from '../unit/server/support.ts';

const KILLS = Number(process.env.KUBESEED_LEADER_KILLS ?? 30);
const KILLS_PER_TRIAL = 3;
/** Stacked: 2 LB + 3 CP + 15 workers = 20 hosts. */
const WORKERS = 15;
/** A rollout too quick for any kill would loop forever: trials are bounded too. */
const MAX_TRIALS = KILLS * 3;
const LEASE_SECONDS = 2;
/**
 * Mean simulated work per step (ms) until a trial's last kill. The rollout advances only while a
 * replica leads, so it must last a few replica restarts for three kills to land in one trial
 * (three kills per trial is cheaper than more trials, each of which starts two replicas); after
 * the last kill the work is quick (TAIL_WORK_MS), so the trial ends soon.
 */
const WORK_MS = Number(process.env.KUBESEED_LEADER_KILL_WORK_MS ?? 600);
const TAIL_WORK_MS = 30;

const skip = skipUnless('reliability', { commands: ['etcd', 'etcdctl', 'openssl'] });
let etcd: TestEtcd | undefined;
const dirs: string[] = [];
let dispatcher: Agent | undefined;
/** serve-entry.ts bundled once: a replica starts without tsx, which matters at ~50 starts. */
let entry: string | undefined;

beforeAll(async () => {
  if (skip) return;
  [etcd, entry] = await Promise.all([startTestEtcd('ks-leader-kill-etcd-'), bundleServeEntry()]);
}, 30_000);

afterAll(async () => {
  await killLeftovers();
  if (entry) rmSync(entry, { force: true });
  await dispatcher?.close();
  etcd?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface ReplicaView {
  id: string;
  role: 'leader' | 'standby';
  leader?: { id: string; url?: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One replica of serve: its state directory, port and (while it runs) its process. */
class Replica {
  child: ChildProcess | undefined;
  /** Times it exited without the test killing it (a leader that lost its term exits). */
  selfExits = 0;
  private killed = false;

  constructor(
    readonly dir: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.killed = false;
    this.child = await startServer(this.dir, this.port, WORKERS, 'stacked', this.env, entry);
    const child = this.child;
    child.once('exit', () => {
      if (!this.killed && this.child === child) this.selfExits++;
    });
  }

  async kill(): Promise<void> {
    this.killed = true;
    if (this.child) await killHard(this.child);
  }

  /** Its `coordinator` status, or undefined when it does not answer within 2 s. */
  async status(): Promise<ReplicaView | undefined> {
    if (!this.running()) return undefined;
    try {
      const token = readFileSync(join(this.dir, 'operator-token'), 'utf8').trim();
      const res = await request(`${this.url}/v1/status`, {
        dispatcher,
        headers: { authorization: `Bearer ${token}` },
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return undefined;
      }
      return ((await res.body.json()) as { coordinator: ReplicaView }).coordinator;
    } catch {
      return undefined;
    }
  }
}

/**
 * Asks every running replica for its role every 50 ms until one leads (bounded by `timeoutMs`);
 * two leaders in one look is a violation. Undefined when none leads in time.
 */
async function findLeader(replicas: readonly Replica[], timeoutMs: number, violations: string[]): Promise<Replica | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const views = await Promise.all(replicas.map((r) => r.status()));
    const leaders = replicas.filter((_, i) => views[i]?.role === 'leader');
    if (leaders.length > 1) violations.push(`two replicas report leader at once: ${leaders.map((r) => r.url).join(', ')}`);
    if (leaders.length >= 1) return leaders[0];
    await sleep(50);
  }
  return undefined;
}

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};

describe.skipIf(skip)('SIGKILL of the leading replica at random instants: etcd', () => {
  it(`${KILLS} SIGKILLs of whichever replica leads: every trial completes with the rollout invariants intact`, async () => {
    const tls = createTestTls();
    const http = new Agent({ connect: { ca: tls.ca }, connections: 64 });
    dispatcher = http;
    const gaps: number[] = [];
    let survived = 0;
    let kills = 0;
    let selfExits = 0;
    let trial = 0;
    /** Two replicas on a prefix of their own, started. */
    const startPair = async (n: number): Promise<Replica[]> => {
      const prefix = `kubeseed/leader-kill-${process.pid}-${n}/`;
      const pair: Replica[] = [];
      for (const name of ['a', 'b']) {
        const dir = tempDir(`ks-leader-kill-${name}-`);
        dirs.push(dir);
        writeFileSync(join(dir, 'tls.crt'), tls.cert);
        writeFileSync(join(dir, 'tls.key'), tls.key, { mode: 0o600 });
        const port = await freePort();
        pair.push(
          new Replica(dir, port, {
            KS_STORE: `etcd://${new URL(etcd!.clientUrl).host}?prefix=${prefix}`,
            KS_ETCD_TLS_DIR: etcd!.dir,
            KS_LEASE_SECONDS: String(LEASE_SECONDS),
            KS_ADVERTISE: `https://127.0.0.1:${port}`,
          }),
        );
      }
      await Promise.all(pair.map((r) => r.start()));
      return pair;
    };
    let nextPair = startPair(0);
    for (; kills < KILLS && trial < MAX_TRIALS; trial++) {
      const plan = makePlan({ workers: WORKERS, workerParallelism: 3 });
      expect(plan.hosts.length).toBe(20);
      const replicas = await nextPair;
      const leaderViolations: string[] = [];
      const tracker = new RolloutTracker();
      let killing = true;
      const agents = plan.hosts.map(
        (h, i) =>
          new SimAgent(createAgent(h.name, i), {
            replicas: replicas.map((r) => r.url),
            dispatcher: http,
            tracker,
            deadline: Date.now() + 60_000,
            waitMs: 2000,
            workMs: () => (killing ? WORK_MS : TAIL_WORK_MS) * (0.5 + Math.random()),
          }),
      );
      let finished = false;
      const run = Promise.all(agents.map((a) => a.run())).finally(() => {
        finished = true;
      });
      run.catch(() => {});
      // Up to three kills of the leader at random instants (while the rollout still runs).
      for (let k = 0; k < KILLS_PER_TRIAL && !finished && kills < KILLS; k++) {
        await sleep(30 + Math.random() * 500);
        // A replica that exited by itself (it lost its term) is restarted, as its service manager would.
        for (const r of replicas) if (!r.running()) await r.start();
        const leader = await findLeader(replicas, 10_000, leaderViolations);
        expect(leader, `trial ${trial}: no replica leads`).toBeDefined();
        if (finished) break;
        await leader!.kill();
        const killedAt = Date.now();
        kills++;
        const next = await findLeader(
          replicas.filter((r) => r !== leader),
          10_000,
          leaderViolations,
        );
        expect(next, `trial ${trial}: no replica took over within 10 s of the kill`).toBeDefined();
        gaps.push(Date.now() - killedAt);
        await leader!.start();
        expect((await leader!.status())?.role, `trial ${trial}: the restarted replica`).toBe('standby');
      }
      killing = false;
      // The next trial's replicas start while this rollout finishes.
      if (kills < KILLS && trial + 1 < MAX_TRIALS) {
        nextPair = startPair(trial + 1);
        nextPair.catch(() => {});
      }
      await run;
      expect(tracker.violations, `trial ${trial}`).toEqual([]);
      expect(leaderViolations, `trial ${trial}`).toEqual([]);
      expect(agents.every((a) => a.done)).toBe(true);
      const init = agents.find((a) => a.identity.host === 'cp1')!.steps.filter((s) => s.startsWith('cp1/kubeadm-init'));
      expect(new Set(init)).toEqual(new Set(['cp1/kubeadm-init@1']));
      expect(tracker.maxControlPlaneJoins).toBeLessThanOrEqual(1);
      for (const r of replicas) {
        selfExits += r.selfExits;
        await r.kill();
        rmSync(r.dir, { recursive: true, force: true });
      }
      survived++;
    }
    console.log(
      `[reliability] trials survived (etcd replicas): ${survived}/${trial}, ${kills} SIGKILLs of the leader; ` +
        `takeover (kill → a replica reports leader, lease TTL ${LEASE_SECONDS} s) median ${median(gaps)} ms, max ${Math.max(...gaps)} ms` +
        (selfExits ? `; ${selfExits} replica exits on a lost term, restarted` : ''),
    );
    expect(survived).toBe(trial);
    expect(kills).toBeGreaterThanOrEqual(KILLS);
  });
});
