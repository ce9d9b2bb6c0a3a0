/**
 * `kubeseed demo --ha`: the demo's coordinator as two replicas of `kubeseed serve` on a real etcd
 * (issue 20, ADR 0036). Starts the `etcd` binary on loopback ports (plain HTTP, a throwaway data
 * directory), two `kubeseed serve` processes on their own copies of the state directory, both with
 * `--store etcd://…`, lease 10 s; the agents' user-data names both (spec.coordinator.replicaUrls).
 * Once the first control-plane join is released it SIGKILLs whichever replica leads; the standby
 * takes over and finishes. The failover record: which replica was killed, which took over, when,
 * and the gap from the kill to the next step the new leader released.
 *
 * Runtime contract: every process it starts is killed in `close()`; every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { OPERATOR_TOKEN_FILE } from '../generator/state/index.ts';
import { packageRoot } from '../generator/util/package-root.ts';
import type { RolloutStatus } from '../server/coordinator.ts';

const ROOT = packageRoot(import.meta.dirname);
const ETCD_PACKAGE_HINT = 'install it with `apt-get install etcd-server` (Debian, Ubuntu) or put an etcd ≥ 3.4 binary on PATH';
/**
 * The leader lease: a killed leader is replaced within about this, plus the standby's campaign
 * interval. `serve`'s default (10 s) rather than the 2 s of the tests: the demo runs a dozen
 * processes on one machine, and a leader that cannot renew in time steps down (and is restarted,
 * below) — measured here: 2 s and 5 s lost leads on a loaded 2-core machine.
 */
const LEASE_SECONDS = 10;

export interface Failover {
  /** The replica that was leading and was SIGKILLed. */
  killed: string;
  /** The replica that led next (null: none did before the demo ended). */
  tookOverBy: string | null;
  /** The kill, in ms since the demo started. */
  atMs: number;
  /** The kill → the first step released after it (by the new leader); null when none was. */
  gapMs: number | null;
  /** The kill → the first status answer of the other replica as leader (lease expiry + its next campaign). */
  takeoverMs: number | null;
}

export interface HaCoordinators {
  /** Replicas that stopped on their own (a lost lead) and were started again, as a service manager would. */
  restarts(): number;
  url: string;
  operatorToken: string;
  status(): Promise<RolloutStatus>;
  /** Kills the leader once the first control-plane join is released (called with every status read). */
  tick(last: RolloutStatus): Promise<void>;
  failover(last: RolloutStatus): Failover | null;
  close(): Promise<void>;
}

interface Replica {
  name: string;
  url: string;
  child: ChildProcess;
  output: string;
  start(): Promise<void>;
}

/** Resolves when `check` is true, polling every `everyMs`, or rejects with `what` after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: () => string, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(what());
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function startEtcd(work: string, clientPort: number, peerPort: number): Promise<ChildProcess> {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    'etcd',
    [
      '--name',
      'demo',
      '--data-dir',
      join(work, 'etcd-data'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `demo=${peer}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d) => {
    log = (log + String(d)).slice(-4000);
  });
  const missing = new Promise<never>((_, reject) =>
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'ENOENT' ? `kubeseed demo --ha needs the etcd binary: ${ETCD_PACKAGE_HINT}` : `etcd: ${e.message}`)),
    ),
  );
  const healthy = until(
    async () => (await request(`${client}/health`, { headersTimeout: 1000, bodyTimeout: 1000 })).statusCode === 200,
    20_000,
    () => `etcd did not answer on ${client}/health within 20 s:\n${log}`,
  );
  await Promise.race([healthy, missing]);
  return child;
}

async function startReplica(name: string, stateDir: string, port: number, store: string): Promise<Replica> {
  const url = `https://127.0.0.1:${port}`;
  const replica = { name, url, output: '' } as Replica;
  replica.start = () => spawnReplica(replica, stateDir, port, store);
  await replica.start();
  return replica;
}

function spawnReplica(replica: Replica, stateDir: string, port: number, store: string): Promise<void> {
  const { name, url } = replica;
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin', 'kubeseed.mjs'),
      'serve',
      '--state',
      stateDir,
      '--store',
      store,
      '--listen',
      `127.0.0.1:${port}`,
      '--advertise',
      url,
      '--lease',
      String(LEASE_SECONDS),
      '--log-format',
      'json',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT },
  );
  replica.child = child;
  const from = replica.output.length;
  const collect = (d: Buffer) => {
    replica.output = (replica.output + String(d)).slice(-8000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return until(
    async () => {
      if (child.exitCode !== null) throw new Error('exited');
      return replica.output.slice(from).includes('listening on');
    },
    30_000,
    () => `replica ${name} (kubeseed serve on ${url}) did not start:\n${replica.output}`,
  );
}

/** The demo's two replicas on one etcd; `out` is what `kubeseed generate` wrote (state in out/coordinator). */
export async function startHaCoordinators(
  work: string,
  out: string,
  ports: { a: number; b: number; etcdClient: number; etcdPeer: number },
  started: number,
): Promise<HaCoordinators> {
  const children: ChildProcess[] = [];
  const close = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) =>
        c.exitCode === null && c.signalCode === null
          ? Promise.race([new Promise((r) => c.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]).then(() => {
              if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
            })
          : undefined,
      ),
    );
  };
  try {
    children.push(await startEtcd(work, ports.etcdClient, ports.etcdPeer));
    const store = `etcd://127.0.0.1:${ports.etcdClient}?prefix=kubeseed/demo/`;
    const stateA = join(out, 'coordinator');
    const stateB = join(out, 'coordinator-b');
    await cp(stateA, stateB, { recursive: true });
    const a = await startReplica('a', stateA, ports.a, store);
    children.push(a.child);
    // One operator token for both replicas: the page and the CLI work against either.
    await copyFile(join(stateA, OPERATOR_TOKEN_FILE), join(stateB, OPERATOR_TOKEN_FILE));
    const b = await startReplica('b', stateB, ports.b, store);
    children.push(b.child);
    const replicas = [a, b];
    let restarts = 0;
    // The service manager's part (Restart=on-failure): a replica that exits on its own — it lost
    // the lead — is started again and rejoins as a standby. The replica the demo kills stays dead.
    const supervise = (r: Replica) =>
      r.child.once('exit', () => {
        if (r === killed?.replica || closing) return;
        restarts++;
        r.output += `\n[demo] ${r.name} exited on its own; starting it again\n`;
        void r.start().then(
          () => {
            children.push(r.child);
            supervise(r);
          },
          () => {},
        );
      });
    let closing = false;
    for (const r of replicas) supervise(r);
    const operatorToken = (await readFile(join(stateA, OPERATOR_TOKEN_FILE), 'utf8')).trim();
    const dispatcher = new Agent({ connect: { ca: await readFile(join(stateA, 'tls', 'ca.crt'), 'utf8') } });
    let killed: { replica: Replica; id: string; at: number } | undefined;
    let tookOverBy: string | null = null;
    let tookOverAt = 0;

    const statusOf = async (replica: Replica): Promise<RolloutStatus> => {
      const res = await request(`${replica.url}/v1/status`, {
        dispatcher,
        headers: { authorization: `Bearer ${operatorToken}` },
        headersTimeout: 3000,
        bodyTimeout: 3000,
      });
      if (res.statusCode !== 200) throw new Error(`${replica.url}: ${res.statusCode} ${await res.body.text()}`);
      return (await res.body.json()) as RolloutStatus;
    };
    let previous: RolloutStatus | undefined;
    const status = async (): Promise<RolloutStatus> => {
      const alive = replicas.filter((r) => r !== killed?.replica);
      let lastError: unknown;
      // Prefer the leader's answer; a standby's is a watch behind at most.
      const answers: RolloutStatus[] = [];
      for (const r of alive) {
        try {
          answers.push(await statusOf(r));
        } catch (error) {
          lastError = error;
        }
      }
      const leading = answers.find((s) => s.coordinator?.role === 'leader');
      if (killed && leading && !tookOverBy) {
        tookOverBy = leading.coordinator!.id;
        tookOverAt = Date.now();
      }
      const answer = leading ?? answers[0] ?? previous;
      // None answering for a moment (one killed, the other restarting) shows the last picture again.
      if (!answer) throw lastError instanceof Error ? lastError : new Error('no replica answered');
      previous = answer;
      return answer;
    };
    return {
      url: a.url,
      operatorToken,
      restarts: () => restarts,
      status,
      async tick(last) {
        if (killed) return;
        const joining = last.hosts.some((h) => h.steps.some((s) => s.kind === 'kubeadm-join-control-plane' && s.releasedAt !== undefined));
        const leaderId = last.coordinator?.role === 'leader' ? last.coordinator.id : undefined;
        if (!joining || !leaderId) return;
        // The answer came from the leader (status() prefers it): find which child that is.
        for (const r of replicas) {
          const s = await statusOf(r).catch(() => undefined);
          if (s?.coordinator?.id === leaderId) {
            r.child.kill('SIGKILL');
            killed = { replica: r, id: leaderId, at: Date.now() };
            return;
          }
        }
      },
      failover(last) {
        if (!killed) return null;
        const after = last.hosts
          .flatMap((h) => h.steps.map((s) => s.releasedAt ?? Number.POSITIVE_INFINITY))
          .concat(last.coordinatorSteps.map((s) => s.releasedAt ?? Number.POSITIVE_INFINITY))
          .filter((t) => t > killed!.at);
        const next = Math.min(...after, Number.POSITIVE_INFINITY);
        return {
          killed: killed.id,
          tookOverBy,
          atMs: killed.at - started,
          gapMs: Number.isFinite(next) ? next - killed.at : null,
          takeoverMs: tookOverBy ? tookOverAt - killed.at : null,
        };
      },
      close: async () => {
        closing = true;
        await dispatcher.close();
        await close();
        // Their output stays beside the agents' logs (kept with --keep).
        for (const r of replicas) await writeFile(join(work, `replica-${r.name}.log`), r.output).catch(() => {});
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}
