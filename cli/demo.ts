/**
 * `kubeseed demo`: the newcomer's first command. Generates an example cluster into a temporary
 * directory, starts a real coordinator on loopback, and runs a simulated fleet: one real agent
 * process per host, each with its own temporary root (KUBESEED_AGENT_ROOT) and the TEST DOUBLES of
 * kubeadm, kubectl, systemctl, containerd, kubelet and cloud-init on its PATH (doubles: they
 * check what real kubeadm checks and sleep for scaled phase durations, but never touch the real
 * machine). Shows progress per host, then a summary. Needs no root and nothing beyond `npm ci`;
 * leaves nothing behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { doubleEnv } from '../doubles/index.ts';
import { PREPARE_SCRIPT } from '../generator/plan/host-files.ts';
import { CREDENTIAL_PATH } from '../generator/plan/provision.ts';
import { type CoordinatorState, loadState, OPERATOR_TOKEN_FILE } from '../generator/state/index.ts';
import { packageRoot } from '../generator/util/package-root.ts';
import type { HostStatus, RolloutStatus } from '../server/coordinator.ts';
import { loadCoordinatorState } from '../server/load-state.ts';
import { runServe, type ServeHandle } from '../server/serve.ts';
import { statusPagePlugin } from '../server/status-page/index.ts';
import { UsageError } from './args.ts';
import { type Io, parseCommand } from './commands.ts';
import { type HaCoordinators, startHaCoordinators } from './demo-ha.ts';
import { printUpgradeSummary, runDemoUpgrade } from './demo-upgrade.ts';
import { main as cliMain } from './main.ts';
import { printData } from './output.ts';

const ROOT = packageRoot(import.meta.dirname);

/** Scaled kubeadm durations (ms): enough to watch the order, short enough to finish in seconds. */
const PHASE_SLEEPS = 'kubeadm init=2500,kubeadm join-control-plane=2000,kubeadm join=1500,kubectl apply=400';

/** Members of the demo's external etcd: loopback addresses, each served by an etcd TEST DOUBLE. */
/**
 * Each demo takes its own 127.N.M.0/24 (N, M from its process id), so demos side by side (tests
 * in parallel) do not meet on the etcd members' fixed client port 2379.
 */
const NET = `127.${1 + (process.pid % 250)}.${Math.floor(process.pid / 250) % 250}`;
const ETCD_MEMBERS = [
  { name: 'etcd1', ip: `${NET}.11` },
  { name: 'etcd2', ip: `${NET}.12` },
  { name: 'etcd3', ip: `${NET}.13` },
];

function demoSpec(port: number, workers: number, replicaPort?: number): string {
  const hosts = [
    ...ETCD_MEMBERS.map((m) => `    - { name: ${m.name}, role: etcd, address: ${m.ip}/8 }`),
    `    - { name: cp1, role: control-plane, address: ${NET}.21/8 }`,
    `    - { name: cp2, role: control-plane, address: ${NET}.22/8 }`,
    `    - { name: cp3, role: control-plane, address: ${NET}.23/8 }`,
    ...Array.from(
      { length: workers },
      (_, i) => `    - { name: worker${i + 1}, role: worker, labels: { node-role.kubernetes.io/worker: "" } }`,
    ),
  ];
  return `# Written by \`kubeseed demo\`: external etcd + 3 control planes on loopback, rolled out by agents running TEST DOUBLES.
apiVersion: kubeseed.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
spec:
  kubernetesVersion: v1.37.0
  topology: external-etcd
  controlPlaneEndpoint: 127.0.0.1:16443
  networking: { podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/16 }
  cni: { plugin: calico }
  loadBalancer: { type: external }
  etcd: { mode: binary, version: v3.6.5 }
  certificates: { keyAlgorithm: ECDSA-P256 }
  os: { family: ubuntu, packages: preinstalled }
  coordinator: { url: "https://127.0.0.1:${port}", listen: "127.0.0.1:${port}"${replicaPort ? `, replicaUrls: ["https://127.0.0.1:${replicaPort}"]` : ''} }
  rollout: { workerParallelism: 2 }
  hosts:
${hosts.join('\n')}
`;
}

/**
 * An etcd TEST DOUBLE per member: HTTPS on the member's client URL with the member's real server
 * certificate from the coordinator state, client certificates required and checked against the
 * etcd CA — the TLS wiring is real, the database is not. It answers `/health` once the member's
 * agent has "started" etcd (the systemctl double records that) and the v3 member list.
 */
async function startEtcdDoubles(state: CoordinatorState, isStarted: (member: string) => Promise<boolean>): Promise<Server[]> {
  const servers: Server[] = [];
  for (const m of ETCD_MEMBERS) {
    const pki = state.pki.etcdMembers[m.name];
    if (!pki) throw new Error(`no etcd member certificates for ${m.name} in the demo state`);
    const server = createHttpsServer(
      { cert: pki.server.cert, key: pki.server.key, ca: state.pki.etcdCa.cert, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        void (async () => {
          const started = await isStarted(m.name);
          if (req.url === '/health' && started) {
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"health":"true","reason":""}');
          } else if (req.url === '/v3/cluster/member/list' && started) {
            const members = ETCD_MEMBERS.map((x, i) => ({
              ID: String(1000 + i),
              name: x.name,
              peerURLs: [`https://${x.ip}:2380`],
              clientURLs: [`https://${x.ip}:2379`],
            }));
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ members }));
          } else res.writeHead(503).end('{"health":"false"}');
        })();
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `the demo's etcd stand-in cannot listen on ${m.ip}:2379 (${e.code}): is another kubeseed demo or a real etcd listening there? One demo runs at a time`,
          ),
        ),
      );
      server.listen(2379, m.ip, resolve);
    });
    servers.push(server);
  }
  return servers;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A machine as first boot leaves it: what cloud-init wrote from the user-data, plus the facts a real host has. */
async function seedRoot(root: string, out: string, host: string, index: number): Promise<void> {
  const write = async (path: string, content: string | Buffer, mode = 0o644) => {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content, { mode });
  };
  // Every file the user-data carries, as cloud-init's write_files would leave it: the agent's
  // configuration, and the units a step starts (the systemctl double, like systemctl, refuses a unit
  // that no file defines).
  const userData = await readFile(join(out, 'hosts', host, 'user-data'), 'utf8');
  const { parse } = await import('yaml');
  const doc = parse(userData) as { write_files: { path: string; content: string; permissions: string; encoding?: string }[] };
  for (const f of doc.write_files) {
    const content = f.encoding === 'b64' || f.encoding === 'base64' ? Buffer.from(f.content, 'base64') : f.content;
    await write(f.path, content, Number.parseInt(f.permissions, 8));
  }
  // The demo's machines are directories on this one: their prepare-host step runs a stand-in, never
  // the real script (it would install packages and change kernel settings here).
  await write(
    PREPARE_SCRIPT,
    '#!/bin/bash\necho "kubeseed-prepare: demo host: the real prepare script runs on a real machine, not here"\necho "kubeseed-prepare: done"\n',
    0o755,
  );
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  await write('/etc/machine-id', `${'d'.repeat(24)}${index.toString(16).padStart(8, '0')}\n`);
  await write('/sys/class/dmi/id/product_uuid', `4c4c4544-0000-1000-8000-${index.toString(16).padStart(12, '0')}\n`);
  await write('/sys/class/net/eth0/address', `52:54:00:de:00:${hex(index)}\n`);
  await write('/sys/class/net/eth0/device/vendor', '0x1af4\n');
  await write('/proc/swaps', 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
  await write('/proc/sys/net/ipv4/ip_forward', '1\n');
  await write('/etc/hostname', `${host}\n`);
}

/** The agent from its sources: the demo needs no build, and a stale dist/ bundle can never be what runs. */
function agentCommand(): string[] {
  return [process.execPath, '--import', 'tsx', join(ROOT, 'agent', 'main.ts')];
}

function bar(done: number, total: number, width = 16): string {
  const filled = total ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function hostLine(h: HostStatus): string {
  const done = h.steps.filter((s) => s.state === 'succeeded').length;
  const state = h.failed
    ? 'FAILED'
    : h.done
      ? 'done'
      : h.currentStep
        ? `running ${h.currentStep.split('/')[1]}`
        : h.enrolled
          ? (h.waitingFor ?? 'waiting')
          : 'booting';
  return `${h.name.padEnd(9)} ${h.role.padEnd(14)} ${bar(done, h.steps.length)} ${state}`.slice(0, 118);
}

interface DemoSummaryStep {
  host: string;
  kind: string;
  order: number;
  startMs: number;
  endMs: number;
}

export async function cmdDemo(argv: string[], io: Io): Promise<number> {
  const { flags, output } = parseCommand('demo', argv);
  const workers = flags.workers === undefined ? 4 : Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 0 || workers > 50) throw new UsageError('--workers takes a whole number from 0 to 50');
  const say = (s: string) => (output !== 'text' ? io.stderr(s) : io.stdout(s));
  const ha = Boolean(flags.ha);
  if (ha && flags.upgrade) throw new UsageError('--upgrade runs with one coordinator; drop --ha');
  const work = await mkdtemp(join(tmpdir(), 'kubeseed-demo-'));
  const agents: ChildProcess[] = [];
  // Each agent's log is written when it exits; the work directory is removed only after them.
  const logWrites: Promise<void>[] = [];
  let server: ServeHandle | undefined;
  let replicas: HaCoordinators | undefined;
  let etcdServers: Server[] = [];
  const started = Date.now();
  try {
    const port = await freePort();
    const replicaPort = ha ? await freePort() : undefined;
    const specFile = join(work, 'cluster.yaml');
    await writeFile(specFile, demoSpec(port, workers, replicaPort));
    const out = join(work, 'out');
    say(`kubeseed demo — 3 external etcd members, 3 control planes and ${workers} workers on loopback\n`);
    say(
      `  (agents run TEST DOUBLES of kubeadm/kubectl/systemctl/containerd, etcd is a TLS test double: nothing on this machine is changed)\n\n`,
    );
    const silent = { ...io, stdout: () => {}, stderr: () => {} };
    if ((await cliMain(['generate', specFile, '--out', out], silent)) !== 0) throw new Error('generate failed for the demo spec');
    say(`generated ${out}/hosts/*/user-data and the coordinator state\n`);

    if (ha) {
      replicas = await startHaCoordinators(
        work,
        out,
        { a: port, b: replicaPort!, etcdClient: await freePort(), etcdPeer: await freePort() },
        started,
      );
      say(
        `two coordinator replicas on a real etcd (store etcd, lease 10 s): ${replicas.url} leads, https://127.0.0.1:${replicaPort} stands by; the leader is SIGKILLed when the first control-plane join is released\n`,
      );
    }
    server = ha
      ? undefined
      : await runServe({
          stateDir: join(out, 'coordinator'),
          loadState: loadCoordinatorState,
          handleSignals: false,
          print: () => {},
          logger: false,
          // No distDir: the demo's agents run from their sources, so it works before `npm run build`.
          extend: (app) => void app.register(statusPagePlugin),
        });
    const coordinatorUrl = replicas?.url ?? server!.url;
    const operatorToken = replicas?.operatorToken ?? server!.operatorToken;
    say(`coordinator listening on ${coordinatorUrl}\n`);
    say(`status page:    ${coordinatorUrl}/  (open it now: the rollout takes about 25 s; the certificate is the demo's own CA)\n`);
    // A throwaway coordinator on loopback: the token is shown to paste into the page, except with
    // -o json|yaml, whose stderr ends up in logs.
    say(
      output !== 'text'
        ? `operator token: in ${join(out, 'coordinator', OPERATOR_TOKEN_FILE)}\n\n`
        : `operator token: ${operatorToken}  (paste it when the page asks; valid while the demo runs)\n\n`,
    );

    const state = await loadState(join(out, 'coordinator'));
    etcdServers = await startEtcdDoubles(state, async (member) => {
      const calls = await readFile(join(work, `${member}.calls.jsonl`), 'utf8').catch(() => '');
      return calls.includes('"enable","--now","etcd"');
    });
    const hosts = [...ETCD_MEMBERS.map((m) => m.name), 'cp1', 'cp2', 'cp3', ...Array.from({ length: workers }, (_, i) => `worker${i + 1}`)];
    const clusterState = join(work, 'cluster-state.json');
    const [cmd, ...args] = agentCommand();
    /** One agent process per host; `kubernetesVersion`: the Kubernetes packages the machines carry. */
    const startAgents = (kubernetesVersion: string, run: string) =>
      hosts.map((host) => {
        const root = join(work, 'roots', host);
        const env = {
          ...process.env,
          ...doubleEnv({
            root,
            log: join(work, `${host}.calls.jsonl`),
            clusterState,
            sleepMs: PHASE_SLEEPS,
            kubernetesVersion,
            containerdVersion: '2.1.4',
          }),
          KUBESEED_AGENT_ROOT: root,
        };
        const child = spawn(cmd!, [...args, '--config', '/etc/kubeseed/agent.json'], {
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
          cwd: ROOT,
        });
        const logFile = join(work, `${host}.${run}agent.log`);
        const chunks: Buffer[] = [];
        child.stderr?.on('data', (d: Buffer) => chunks.push(d));
        child.on('exit', () => logWrites.push(writeFile(logFile, Buffer.concat(chunks)).catch(() => {})));
        agents.push(child);
        return child;
      });
    for (const [i, host] of hosts.entries()) await seedRoot(join(work, 'roots', host), out, host, i + 1);
    startAgents('v1.37.0', '');

    // Display only: the status API is read a few times a second (releases themselves are pushed).
    const status = async (): Promise<RolloutStatus> => {
      if (replicas) return replicas.status();
      const res = await server!.app.inject({ method: 'GET', url: '/v1/status', headers: { authorization: `Bearer ${operatorToken}` } });
      return res.json() as RolloutStatus;
    };
    // --ha: a failover costs the lease (2 s) and the agents' backoff on top.
    const deadline = Date.now() + (ha ? 90_000 : 55_000);
    let last: RolloutStatus = await status();
    let printed = '';
    let linesShown = 0;
    while (Date.now() < deadline) {
      last = await status();
      await replicas?.tick(last);
      const lines = last.hosts.map(hostLine);
      const text = lines.join('\n');
      if (output === 'text' && text !== printed) {
        if (io.isTTY && linesShown) io.stdout(`\x1b[${linesShown}A`);
        if (io.isTTY) io.stdout(`${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
        else
          for (const [i, l] of lines.entries())
            if (l !== printed.split('\n')[i]) io.stdout(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s ${l}\n`);
        linesShown = lines.length;
        printed = text;
      }
      if (last.done || last.hosts.some((h) => h.failed) || agents.every((a) => a.exitCode !== null)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // The rollout is done when the last step succeeds; each agent then still learns so, deletes its
    // spent credential and sends a `done` heartbeat (then idles for day 2, or exits 0 with
    // keepAgent false). Stop the agents only after that (bounded). Heartbeats live in the memory of
    // the replica that got them, so after a failover (--ha) the host itself says it: its credential is gone.
    const agentOf = new Map(hosts.map((name, i) => [name, agents[i]!]));
    const cleanedUp = (h: HostStatus) =>
      h.phase === 'done' || agentOf.get(h.name)?.exitCode === 0 || (h.done && !existsSync(join(work, 'roots', h.name, CREDENTIAL_PATH)));
    const cleanupDeadline = Date.now() + 15_000;
    while (last.done && !last.hosts.every(cleanedUp) && Date.now() < cleanupDeadline) {
      await new Promise((r) => setTimeout(r, 100));
      last = await status();
    }

    const t0 = Math.min(...last.hosts.flatMap((h) => h.steps.map((s) => s.releasedAt ?? Number.POSITIVE_INFINITY)));
    const steps: DemoSummaryStep[] = last.hosts
      .flatMap((h) =>
        h.steps
          .filter((s) => s.releasedAt !== undefined)
          .map((s) => ({ host: h.name, kind: s.kind, start: s.releasedAt!, end: s.finishedAt })),
      )
      .sort((a, b) => a.start - b.start)
      .map((s, i) => ({ host: s.host, kind: s.kind, order: i + 1, startMs: s.start - t0, endMs: (s.end ?? Number.NaN) - t0 }));
    const ok = last.done && !last.hosts.some((h) => h.failed) && last.hosts.every(cleanedUp);
    // --upgrade: serve stops, `kubeseed upgrade` plans v1.37.1, serve starts again, the machines
    // (rebooted with the new packages) find their day-2 steps (demo-upgrade.ts).
    const upgrade =
      ok && flags.upgrade
        ? await runDemoUpgrade({
            work,
            specFile,
            spec: demoSpec(port, workers, replicaPort),
            stateDir: join(out, 'coordinator'),
            say,
            agents,
            stopServer: async () => {
              await server?.close();
              server = undefined;
            },
            startServer: async () => {
              server = await runServe({
                stateDir: join(out, 'coordinator'),
                loadState: loadCoordinatorState,
                handleSignals: false,
                print: () => {},
                logger: false,
              });
              return async () => {
                const res = await server!.app.inject({
                  method: 'GET',
                  url: '/v1/status',
                  headers: { authorization: `Bearer ${server!.operatorToken}` },
                });
                return res.json() as RolloutStatus;
              };
            },
            startAgents: () => startAgents('v1.37.1', 'upgrade.'),
          })
        : null;
    const elapsed = (Date.now() - started) / 1000;
    const failover = replicas?.failover(last) ?? null;
    if (output !== 'text') {
      const hosts = last.hosts.map((h) => ({ name: h.name, role: h.role, done: h.done, failed: h.failed, cleanedUp: cleanedUp(h) }));
      printData(
        io,
        output,
        {
          ok: ok && (upgrade?.ok ?? true),
          elapsedSeconds: elapsed,
          hosts,
          steps,
          ...(ha ? { store: 'etcd', failover, replicaRestarts: replicas!.restarts() } : {}),
          ...(upgrade ? { upgrade } : {}),
        },
        () => {},
      );
    } else {
      if (failover)
        io.stdout(
          `\nfailover: ${failover.killed} was SIGKILLed at ${(failover.atMs / 1000).toFixed(1)}s; ${failover.tookOverBy ?? 'no replica'} took over; the next step was released ${failover.gapMs === null ? 'never' : `${(failover.gapMs / 1000).toFixed(1)}s`} after the kill\n`,
        );
      io.stdout(`\n${'ORDER'.padEnd(6)}${'HOST'.padEnd(10)}${'STEP'.padEnd(28)}${'START'.padStart(8)}${'END'.padStart(8)}\n`);
      for (const s of steps) {
        io.stdout(
          `${String(s.order).padEnd(6)}${s.host.padEnd(10)}${s.kind.padEnd(28)}${(s.startMs / 1000).toFixed(2).padStart(7)}s${Number.isNaN(s.endMs) ? '       -' : `${(s.endMs / 1000).toFixed(2).padStart(7)}s`}\n`,
        );
      }
      io.stdout(
        ok
          ? `\nrollout complete in ${elapsed.toFixed(1)}s: one kubeadm init, control planes joined one at a time, workers ${'in parallel'} after init.\n`
          : `\nrollout did not complete (${
              last.hosts
                .filter((h) => h.failed)
                .map((h) => h.name)
                .join(', ') ||
              (last.done
                ? `agents that did not clean up: ${last.hosts
                    .filter((h) => !cleanedUp(h))
                    .map((h) => h.name)
                    .join(', ')}`
                : 'timeout')
            }); agent logs: ${work}${flags.keep ? '' : ' (removed at exit: run again with --keep to read them)'}\n`,
      );
      if (upgrade) printUpgradeSummary(io, upgrade);
      io.stdout(
        `next: your own cluster — kubeseed init --out cluster.yaml, then validate, plan, generate and serve (README, Quick start)${
          flags.keep ? `; this rollout again in the status page: kubeseed serve --state ${join(out, 'coordinator')}` : ''
        }\n`,
      );
    }
    return ok && (upgrade?.ok ?? true) ? 0 : 1;
  } finally {
    for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL');
    await Promise.all(
      agents.map((a) => (a.exitCode === null && a.signalCode === null ? new Promise((r) => a.once('exit', r)) : undefined)),
    );
    await Promise.all(logWrites);
    await server?.close();
    await replicas?.close();
    await Promise.all(etcdServers.map((e) => new Promise((r) => e.close(r))));
    // Retries: a kubeadm/kubectl double started by a killed agent may still write for a moment (bounded sleeps).
    if (!flags.keep) await rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
    else io.stderr(`kept ${work} (agent logs *.agent.log, out/hosts/*/user-data, out/plan/, state out/coordinator/)\n`);
  }
}
