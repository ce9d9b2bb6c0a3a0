/**
 * One end-to-end cluster run: `kubeseed generate` from an E2eSpec, the test network, the
 * coordinator (`kubeseed serve`, TLS) in a namespace of its own, and every host booted the way a
 * real machine is — the real cloud-init runs its generated user-data from a NoCloud seed (meta-data,
 * network-config), which prepares the host and installs the agent downloaded from the coordinator.
 * Where systemd would act, the harness does: it starts the agent unit's ExecStart (restarting it
 * on failure like Restart=on-failure), HAProxy and keepalived on load balancers (HAProxy in the
 * foreground, its log on stdout), the etcd-gateway TEST DOUBLE as the stacked etcd, and units the
 * systemctl TEST DOUBLE was asked to start (etcd in binary mode).
 */

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DoubleCall, packageFiles, readDoubleLog } from '../../../doubles/index.ts';
import { killPid, registerCleanup, sweepStale } from './cleanup.ts';
import { run, sleep, spawnLogged, waitFor } from './exec.ts';
import { type HostProcess, hiddenInHost, TestHost } from './host.ts';
import { TestNetwork } from './network.ts';
import { API_HOST, COORDINATOR_PORT, coordinatorIp, type E2eHost, type E2eSpec, hostIp, renderSpec, vip } from './spec.ts';
import { parseExecStart, SUPERVISED_UNITS, superviseUnits } from './units.ts';

export const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
export const DOUBLES_BIN = join(REPO, 'doubles/bin');
export const DIST = join(REPO, 'dist');
/**
 * The checkout seen inside every host: the doubles, bin/kubeseed.mjs and dist are used from there.
 * A checkout under /tmp (or /run) would be hidden by the host's own tmpfs, so it is bind-mounted.
 */
export const REPO_BINDS = hiddenInHost(REPO) ? [REPO] : [];

/** Doubles put on PATH (/usr/local/bin) of a preinstalled image; kubeadm is the network-facing wrapper. */
const PREINSTALLED = { kubeadm: 'kubeadm-api', kubectl: 'kubectl', kubelet: 'kubelet', containerd: 'containerd', runc: 'runc' };

const CLOUD_CFG = `# kubeseed e2e: cloud-init in a chroot (tooling.md §1). growpart/resizefs would act on the real disk.
datasource_list: [ NoCloud, None ]
growpart: {mode: 'off'}
resize_rootfs: false
cloud_init_modules: [bootcmd, write-files, set_hostname, update_hostname, update_etc_hosts, users-groups]
cloud_config_modules: [runcmd]
cloud_final_modules: [scripts-per-once, scripts-user, final-message]
`;

export interface ClusterOptions {
  spec: E2eSpec;
  /** Unique prefix for namespaces, e.g. `ks-<pid>-1-`. */
  prefix: string;
  /** Extra environment for the TEST DOUBLES (sleeps, failures, TTLs). */
  doubleEnv?: Record<string, string>;
  /** Hosts whose first boot waits (not booted by `start`); boot them with `bootHost`. */
  deferBoot?: string[];
  /** Extra host directories bind-mounted into every host (apt repository etc.). */
  binds?: string[];
  /** A plain-HTTP package mirror in a namespace of its own at `<subnet>.6:<port>`, serving `dir`. */
  mirror?: { dir: string; port: number };
  /** The mirror's namespace exists but nothing listens (connections refused) until `startMirror`. */
  mirrorDown?: boolean;
  /** Scheduler settings of the coordinator (e.g. fewer, faster automatic retries). */
  scheduler?: { maxAttempts?: number; backoffBaseMs?: number };
  /** Scaled kubeadm-certs window of the coordinator (upload-certs mode), instead of 2 h / 20 min margin. */
  uploadCertsWindow?: { windowMs: number; marginMs: number };
  /** Hosts that are not namespaces of the harness (a qemu VM, harness/vm.ts): no overlay, not booted by `start`. */
  vmHosts?: string[];
  /** Called on each host's overlay before cloud-init runs (an image's preinstalled files). */
  prepareImage?: (host: TestHost, spec: E2eHost) => Promise<void> | void;
}

export interface ClusterHost {
  spec: E2eHost;
  host: TestHost;
  bridgePort: string;
  agent?: AgentSupervisor;
  services: Map<string, HostProcess>;
  bootedAt?: number;
  cloudInitMs?: number;
  /** When the harness first started the agent (the host could ask for work from then on). */
  agentStartedAt?: number;
  /** Each (re)start of a supervised unit by the harness: the process id, when it started, when the old one was told to stop. */
  unitStarts: Array<{ unit: string; pid: number | null; at: number; stoppingAt?: number }>;
}

export interface CoordinatorStatus {
  serverTime: number;
  done: boolean;
  counts: { hosts: number; enrolled: number; done: number; failed: number };
  /** The replica that answered (issue 20). */
  coordinator?: { id: string; role: 'leader' | 'standby'; store: string; leader?: { id: string; url?: string } };
  hosts: Array<{
    name: string;
    role: string;
    done: boolean;
    failed: boolean;
    failure?: string;
    currentStep: string | null;
    waitingFor: string | null;
    /** The agent's last heartbeat phase (`done` once it has cleaned up). */
    phase: string | null;
    message: string | null;
    /** The earliest-expiring certificate the host holds, kubeadm's included (issue 22). */
    certificateExpiry?: { file: string; notAfter: number };
    steps: StepStatus[];
  }>;
  coordinatorSteps: StepStatus[];
}

export interface StepStatus {
  id: string;
  kind: string;
  host: string;
  state: string;
  attempt: number;
  failures: number;
  releasedAt?: number;
  finishedAt?: number;
  lastReport?: { outcome: string; reason?: string; logTail?: string; at: number };
}

export class E2eCluster {
  readonly workDir: string;
  readonly outDir: string;
  readonly sharedDir: string;
  net!: TestNetwork;
  coordinatorHost!: TestHost;
  coordinator?: HostProcess;
  readonly hosts = new Map<string, ClusterHost>();
  protected operatorToken = '';
  private watchers: NodeJS.Timeout[] = [];

  constructor(readonly options: ClusterOptions) {
    const swept = sweepStale();
    if (swept.length > 0) console.warn(`[e2e] removed leftovers of dead runs: ${swept.join(', ')}`);
    mkdirSync('/tmp/kubeseed-e2e', { recursive: true });
    this.workDir = mkdtempSync(`/tmp/kubeseed-e2e/${options.prefix}`);
    this.outDir = join(this.workDir, 'out');
    this.sharedDir = join(this.workDir, 'shared');
    mkdirSync(this.sharedDir, { recursive: true });
    // cni.plugin is none (the CNI manifests are upstream URLs, out of reach here): the harness stands in
    // for the operator who installs a CNI, so the kubectl TEST DOUBLE reports nodes Ready once registered.
    writeFileSync(join(this.sharedDir, 'cluster.json'), JSON.stringify({ cniApplied: true }));
    registerCleanup('watchers', () => {
      for (const w of this.watchers) clearInterval(w);
    });
  }

  get spec(): E2eSpec {
    return this.options.spec;
  }

  get doubleLog(): string {
    return join(this.sharedDir, 'doubles.log');
  }

  get stateDir(): string {
    return join(this.outDir, 'coordinator');
  }

  /** Generates, builds the network and the coordinator, and boots every host not deferred. */
  async start(): Promise<void> {
    const specFile = join(this.workDir, 'cluster.yaml');
    writeFileSync(specFile, renderSpec(this.spec));
    await run(process.execPath, [join(REPO, 'bin/kubeseed.mjs'), 'generate', specFile, '--out', this.outDir], { timeoutMs: 120_000 });
    this.net = await TestNetwork.create(this.options.prefix);
    const coord = await this.net.addHost('coord', `${coordinatorIp(this.spec)}/24`);
    this.coordinatorHost = await TestHost.create({
      name: 'coordinator',
      netns: coord.netns,
      workDir: this.workDir,
      sharedDir: this.sharedDir,
      binds: [this.workDir, ...REPO_BINDS],
    });
    // The coordinator reaches the API (Node deletion, tokens) through the VIP like everyone else.
    const hostsFile = this.coordinatorHost.readFile('/etc/hosts') ?? '';
    this.coordinatorHost.writeFile('/etc/hosts', `${hostsFile}\n${vip(this.spec)} ${API_HOST}\n`);
    await this.startCoordinator();
    if (this.options.mirror && this.options.mirrorDown) await this.addMirrorHost();
    else if (this.options.mirror) await this.startMirror(this.options.mirror);
    const vms = new Set(this.options.vmHosts ?? []);
    await Promise.all(
      this.spec.hosts
        .filter((h) => !vms.has(h.name))
        .map(async (h) => {
          const { netns, bridgePort } = await this.net.addHost(h.name, `${hostIp(this.spec, h)}/24`, h.mac);
          const host = await TestHost.create({
            name: h.name,
            netns,
            workDir: this.workDir,
            sharedDir: this.sharedDir,
            binds: [...REPO_BINDS, ...(this.options.binds ?? [])],
          });
          this.hosts.set(h.name, { spec: h, host, bridgePort, services: new Map(), unitStarts: [] });
        }),
    );
    const deferred = new Set(this.options.deferBoot ?? []);
    await Promise.all(this.spec.hosts.filter((h) => !deferred.has(h.name) && !vms.has(h.name)).map((h) => this.bootHost(h.name)));
  }

  /**
   * `kubeseed serve` in the coordinator's namespace; waits until it answers over TLS. With
   * `uploadCertsWindow` the harness entry serve-scaled.mjs runs it instead, on a scaled clock.
   */
  async startCoordinator(): Promise<void> {
    const scaled = this.options.uploadCertsWindow;
    const scheduler = this.options.scheduler;
    const argv =
      scaled || scheduler
        ? [
            'node',
            join(REPO, 'test/e2e/harness/serve-scaled.mjs'),
            '--state',
            this.stateDir,
            '--dist',
            DIST,
            ...(scaled ? ['--window-ms', String(scaled.windowMs), '--margin-ms', String(scaled.marginMs)] : []),
            ...(scheduler?.maxAttempts ? ['--max-attempts', String(scheduler.maxAttempts)] : []),
            ...(scheduler?.backoffBaseMs ? ['--backoff-ms', String(scheduler.backoffBaseMs)] : []),
          ]
        : ['node', join(REPO, 'bin/kubeseed.mjs'), 'serve', '--state', this.stateDir, '--dist', DIST];
    this.coordinator = this.coordinatorHost.spawn('coordinator', argv, { HOME: '/root' });
    await waitFor(
      'the coordinator to answer',
      60_000,
      async () => {
        this.operatorToken = readFileSync(join(this.stateDir, 'operator-token'), 'utf8').trim();
        return (await this.status()) !== null;
      },
      300,
    );
  }

  get mirrorUrl(): string {
    return `http://${this.spec.subnet}.6:${this.options.mirror?.port ?? 8080}`;
  }

  private mirrorNetns?: string;

  /** The mirror's namespace and address, nothing listening yet. */
  async addMirrorHost(): Promise<string> {
    if (!this.mirrorNetns) this.mirrorNetns = (await this.net.addHost('mirror', `${this.spec.subnet}.6/24`)).netns;
    return this.mirrorNetns;
  }

  /** `python3 -m http.server` in namespace `<prefix>mirror` (read-only view of a host directory). */
  async startMirror(m: { dir: string; port: number }): Promise<void> {
    const netns = await this.addMirrorHost();
    mkdirSync(join(this.workDir, 'logs'), { recursive: true });
    const server = spawnLogged(
      'ip',
      ['netns', 'exec', netns, 'python3', '-m', 'http.server', String(m.port), '--bind', `${this.spec.subnet}.6`, '--directory', m.dir],
      join(this.workDir, 'logs', 'mirror.log'),
    );
    registerCleanup('package mirror', () => killPid(server.pid));
    await waitFor('the package mirror', 20_000, async () => {
      const r = await run('ip', ['netns', 'exec', netns, 'curl', '-sf', '-o', '/dev/null', `${this.mirrorUrl}/`], { allowFail: true });
      return r.code === 0;
    });
  }

  /** A `kubeseed` command as the operator runs it beside the coordinator (its namespace, `--state`). */
  async kubeseed(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const r = await this.coordinatorHost.execNet(['node', join(REPO, 'bin/kubeseed.mjs'), ...args, '--state', this.stateDir], {
      allowFail: true,
      timeoutMs: 60_000,
    });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  /** SIGKILLs the coordinator process (by id). */
  async killCoordinator(): Promise<void> {
    this.coordinator?.kill('SIGKILL');
    await this.coordinator?.exited;
  }

  /** GET /v1/status from inside the coordinator's namespace; null when it does not answer. */
  async status(): Promise<CoordinatorStatus | null> {
    const r = await this.coordinatorHost.execNet(
      [
        'curl',
        '-sS',
        '--fail',
        '--max-time',
        '5',
        '--cacert',
        join(this.stateDir, 'tls/ca.crt'),
        '-H',
        `authorization: Bearer ${this.operatorToken}`,
        `https://${coordinatorIp(this.spec)}:${COORDINATOR_PORT}/v1/status`,
      ],
      { allowFail: true, timeoutMs: 10_000 },
    );
    if (r.code !== 0) return null;
    return JSON.parse(r.stdout) as CoordinatorStatus;
  }

  async waitForRollout(timeoutMs: number, onTick?: (s: CoordinatorStatus) => Promise<void> | void): Promise<CoordinatorStatus> {
    let last: CoordinatorStatus | null = null;
    try {
      return await waitFor(
        'every host done',
        timeoutMs,
        async () => {
          const s = await this.status();
          if (s) {
            last = s;
            await onTick?.(s);
          }
          return s?.done && s.hosts.every((h) => h.done) ? s : null;
        },
        500,
      );
    } catch (error) {
      const summary = (last as CoordinatorStatus | null)?.hosts.map(
        (h) => `${h.name}: done=${h.done} failed=${h.failed} step=${h.currentStep} waiting=${h.waitingFor} ${h.message ?? ''}`,
      );
      throw new Error(`${(error as Error).message}\n${summary?.join('\n') ?? 'no status'}\nlogs in ${this.workDir}/logs`);
    }
  }

  get(name: string): ClusterHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** The doubles' environment inside a host (paths are inside the overlay). */
  doubleEnv(h: ClusterHost): Record<string, string> {
    return {
      KUBESEED_TEST_ROOT: '/.ksroot',
      KUBESEED_DOUBLE_LOG: '/run/ks-shared/doubles.log',
      KUBESEED_DOUBLE_CLUSTER_STATE: '/run/ks-shared/cluster.json',
      KUBESEED_DOUBLE_SUPERVISED: SUPERVISED_UNITS.join(','),
      ...(h.spec.role === 'load-balancer' ? { KUBESEED_DOUBLE_ACTIVE: 'haproxy,keepalived' } : {}),
      ...this.options.doubleEnv,
    };
  }

  /** First boot of one host: seed, cloud-init's four stages, then what systemd would start. */
  async bootHost(name: string): Promise<void> {
    const h = this.get(name);
    const { host } = h;
    h.bootedAt = Date.now();
    if (this.spec.packages === 'preinstalled') {
      for (const [bin, target] of Object.entries(PREINSTALLED)) {
        await host.exec(['ln', '-sf', join(DOUBLES_BIN, target), `/usr/local/bin/${bin}`]);
      }
      // What the kubelet and kubeadm packages put beside their binaries (units, manifests/.kubelet-keep).
      for (const f of [...packageFiles('kubelet'), ...packageFiles('kubeadm')]) host.writeFile(f.path, f.content, f.mode);
    }
    // systemctl is always the TEST DOUBLE: no systemd runs in a host.
    await host.exec(['ln', '-sf', join(DOUBLES_BIN, 'systemctl'), '/usr/local/bin/systemctl']);
    await host.exec(['ln', '-sf', join(DOUBLES_BIN, 'etcd-gateway'), '/usr/local/bin/etcd-gateway']);
    host.writeFile('/etc/machine-id', `${createMachineId(this.spec.id, name)}\n`);
    await this.options.prepareImage?.(host, h.spec);
    await host.exec(['rm', '-rf', '/var/lib/cloud', '/var/log/cloud-init.log', '/var/log/cloud-init-output.log']);
    const seed = join(this.outDir, 'hosts', name);
    for (const f of ['user-data', 'meta-data', 'network-config']) {
      host.writeFile(`/var/lib/cloud/seed/nocloud/${f}`, readFileSync(join(seed, f), 'utf8'), 0o600);
    }
    host.writeFile('/etc/cloud/cloud.cfg.d/99-kubeseed-e2e.cfg', CLOUD_CFG);
    const env = { HOME: '/root', LANG: 'C.UTF-8', ...this.doubleEnv(h) };
    const started = Date.now();
    const stages: string[][] = [['init', '--local'], ['init'], ['modules', '--mode=config'], ['modules', '--mode=final']];
    const transcript: string[] = [];
    for (const stage of stages) {
      const r = await host.exec(['cloud-init', ...stage], { env, allowFail: true, timeoutMs: 300_000 });
      transcript.push(`== cloud-init ${stage.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
      if (r.code !== 0) {
        writeFileSync(join(host.logDir, 'cloud-init-stages.log'), transcript.join('\n'));
        throw new Error(
          `${name}: cloud-init ${stage.join(' ')} exited ${r.code}:\n${(host.readFile('/var/log/cloud-init-output.log') ?? '').slice(-3000)}`,
        );
      }
    }
    writeFileSync(join(host.logDir, 'cloud-init-stages.log'), transcript.join('\n'));
    writeFileSync(join(host.logDir, 'cloud-init-output.log'), host.readFile('/var/log/cloud-init-output.log') ?? '');
    h.cloudInitMs = Date.now() - started;
    const output = host.readFile('/var/log/cloud-init-output.log') ?? '';
    if (!output.includes('the caller must start /usr/local/bin/kubeseed-agent'))
      throw new Error(`${name}: install-agent did not finish as expected:\n${output.slice(-2000)}`);
    await this.startSystemServices(h);
    this.startAgent(h);
  }

  /** What systemd would run on this host after first boot, besides the agent. */
  async startSystemServices(h: ClusterHost): Promise<void> {
    const { host } = h;
    if (h.spec.role === 'load-balancer') {
      const cfg = host.readFile('/etc/haproxy/haproxy.cfg');
      if (!cfg) throw new Error(`${h.spec.name}: /etc/haproxy/haproxy.cfg was not written by the user-data`);
      // Foreground with the log on stdout, so the harness reads HAProxy's own connection log.
      host.writeFile('/etc/haproxy/haproxy-e2e.cfg', cfg.replace(/^(\s*)log \/dev\/log local0$/m, '$1log stdout format raw daemon'));
      // What systemd-tmpfiles does at boot from the package's /usr/lib/tmpfiles.d/haproxy.conf: /run (a tmpfs here)
      // gets /run/haproxy, setgid haproxy, where HAProxy creates its runtime API socket.
      const tmpfiles = await host.exec(['systemd-tmpfiles', '--create', 'haproxy.conf']);
      if (tmpfiles.code !== 0) throw new Error(`${h.spec.name}: systemd-tmpfiles --create haproxy.conf failed: ${tmpfiles.stderr}`);
      h.services.set('haproxy', host.spawn('haproxy', ['haproxy', '-db', '-f', '/etc/haproxy/haproxy-e2e.cfg']));
      this.startKeepalived(h);
    }
    if (h.spec.role === 'control-plane' && this.spec.topology === 'stacked') {
      // The stacked etcd "static pod": serves the member list from the doubles' cluster state once kubeadm wrote its certificates.
      h.services.set('etcd-gateway', host.spawn('etcd-gateway', ['etcd-gateway'], this.doubleEnv(h)));
    }
    this.watchers.push(superviseUnits(h));
  }

  startKeepalived(h: ClusterHost): void {
    h.services.set(
      'keepalived',
      h.host.spawn('keepalived', [
        'keepalived',
        '-n',
        '-l',
        '-D',
        '-f',
        '/etc/keepalived/keepalived.conf',
        '-p',
        '/run/keepalived.pid',
        '-r',
        '/run/keepalived-vrrp.pid',
        '-c',
        '/run/keepalived-checkers.pid',
      ]),
    );
  }

  /** Starts the agent unit's ExecStart and keeps it running like Restart=on-failure. */
  startAgent(h: ClusterHost): void {
    const unit = h.host.readFile('/etc/systemd/system/kubeseed-agent.service');
    if (!unit) throw new Error(`${h.spec.name}: the agent unit was not installed`);
    const exec = parseExecStart(unit);
    const stateDir = /^StateDirectory=(.+)$/m.exec(unit)?.[1]?.trim();
    if (stateDir) h.host.writeFile(`/var/lib/${stateDir}/.keep`, '', 0o600);
    h.agentStartedAt = Date.now();
    h.agent = new AgentSupervisor(h, exec.argv, { ...exec.env, ...this.doubleEnv(h) });
    h.agent.start();
  }

  /** Calls recorded by the TEST DOUBLES so far. */
  calls(): DoubleCall[] {
    return readDoubleLog(this.doubleLog);
  }

  async waitForCall(what: string, timeoutMs: number, match: (c: DoubleCall) => boolean): Promise<DoubleCall> {
    return waitFor(what, timeoutMs, async () => this.calls().find(match) ?? null, 100);
  }

  /** The load balancer whose eth0 holds the VIP (asked inside its namespace), or null. */
  async vipHolder(): Promise<string | null> {
    for (const h of this.hosts.values()) {
      if (h.spec.role !== 'load-balancer') continue;
      const r = await run('ip', ['-n', h.host.netns, '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { allowFail: true });
      if (r.stdout.includes(` ${vip(this.spec)}/`)) return h.spec.name;
    }
    return null;
  }

  /** Takes a host's link down or up at the bridge. */
  async setLink(name: string, up: boolean): Promise<void> {
    await this.net.setPort(this.get(name).bridgePort, up);
  }

  /** Stops everything of this run (also registered for cleanup). */
  async stop(): Promise<void> {
    for (const w of this.watchers) clearInterval(w);
    for (const h of this.hosts.values()) h.agent?.stop();
  }
}

/** Runs the agent like systemd's Restart=on-failure (RestartSec capped at 1 s to keep the tier fast). */
export class AgentSupervisor {
  process?: HostProcess;
  starts = 0;
  exits: number[] = [];
  private stopped = false;
  done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    readonly h: ClusterHost,
    readonly argv: string[],
    readonly env: Record<string, string>,
  ) {
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  start(): void {
    void (async () => {
      while (!this.stopped) {
        this.starts++;
        this.process = this.h.host.spawn('agent', this.argv, this.env);
        const code = await this.process.exited;
        this.exits.push(code);
        if (code === 0) break;
        await sleep(1000);
      }
      this.resolveDone();
    })();
  }

  /** SIGKILLs the running agent and its children (kubeadm …) by id; the supervisor restarts it. */
  kill(): number[] {
    return this.process?.killTree() ?? [];
  }

  stop(): void {
    this.stopped = true;
    this.process?.kill();
  }
}

function createMachineId(id: string, name: string): string {
  let h = 0n;
  for (const ch of `${id}/${name}`) h = (h * 131n + BigInt(ch.charCodeAt(0))) % (1n << 128n);
  return h.toString(16).padStart(32, '0').slice(-32);
}
