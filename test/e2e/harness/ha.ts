/**
 * A highly available coordinator for an e2e cluster (issue 20): a real 3-member etcd (Debian's
 * etcd-server, TLS with client certificates) with one member per network namespace on a store
 * network of its own, and two `kubeseed serve` replicas on it, each in its own namespace with two
 * links — `eth0` on the cluster network (agents reach it there) and `eth1` on the store network.
 * Taking a replica's store link down partitions it from etcd while agents still reach it.
 *
 * Each replica runs under a supervisor like systemd's `Restart=on-failure` (1 s between starts):
 * a replica that lost the lead exits 1 (ADR 0036) and comes back as a standby. The harness can
 * hold a replica down (a SIGKILLed leader stays dead until `resume`).
 *
 * Runtime contract: every namespace and process is registered for cleanup by name/id; every wait
 * is bounded; etcd and the replicas are addressed only from inside namespaces.
 */
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki } from '../../support/etcd-server.ts';
import { killPid, registerCleanup } from './cleanup.ts';
import { type ClusterOptions, type CoordinatorStatus, DIST, E2eCluster, REPO, REPO_BINDS } from './cluster.ts';
import { run, sleep, spawnLogged, waitFor } from './exec.ts';
import { type HostProcess, TestHost } from './host.ts';
import { TestNetwork } from './network.ts';
import { API_HOST, COORDINATOR_PORT, coordinatorIp, vip } from './spec.ts';

export interface HaOptions extends ClusterOptions {
  /** First three octets of the store network (etcd members at .11–.13, replicas at .5 and .7). */
  storeSubnet: string;
  /** `serve --lease`. */
  leaseSeconds: number;
}

export interface ReplicaExit {
  code: number;
  at: number;
}

/** One `kubeseed serve` replica, restarted when it exits unless held. */
export class ReplicaSupervisor {
  process?: HostProcess;
  readonly exits: ReplicaExit[] = [];
  starts = 0;
  private held = false;
  private stopped = false;
  private wake?: () => void;

  constructor(
    readonly name: string,
    readonly host: TestHost,
    readonly url: string,
    readonly stateDir: string,
    readonly storeBridgePort: string,
    private readonly argv: string[],
  ) {}

  /** Runs the replica until `stop`, restarting it 1 s after it exits while not held. */
  start(): void {
    void (async () => {
      while (!this.stopped) {
        if (this.held) {
          await new Promise<void>((r) => {
            this.wake = r;
          });
          continue;
        }
        this.starts++;
        this.process = this.host.spawn('serve', this.argv, { HOME: '/root' });
        const code = await this.process.exited;
        this.exits.push({ code, at: Date.now() });
        await sleep(1000);
      }
    })();
  }

  /** SIGKILLs the replica (by id) and keeps it down until `resume`. */
  async killAndHold(): Promise<void> {
    this.held = true;
    this.process?.kill('SIGKILL');
    await this.process?.exited;
  }

  resume(): void {
    this.held = false;
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.held = false;
    this.process?.kill('SIGKILL');
    this.wake?.();
  }
}

export class HaCluster extends E2eCluster {
  readonly replicas: ReplicaSupervisor[] = [];
  storeNet!: TestNetwork;
  private storeEndpoints: string[] = [];

  constructor(readonly ha: HaOptions) {
    super(ha);
  }

  get storeDir(): string {
    return join(this.workDir, 'store');
  }

  /** The store's etcd, then replica a (the generated coordinator's namespace) and replica b. */
  override async startCoordinator(): Promise<void> {
    await this.startStore();
    const a = await this.addReplica('a', this.coordinatorHost, coordinatorIp(this.spec), this.stateDir, 5);
    await this.waitForAnswer(a);
    this.operatorToken = readFileSync(join(this.stateDir, 'operator-token'), 'utf8').trim();
    // Replica b: its own copy of the state directory (PKI, secrets, the same operator token).
    const stateB = `${this.stateDir}-b`;
    cpSync(this.stateDir, stateB, { recursive: true, filter: (src) => !src.endsWith('/serve.lock') });
    const bNet = await this.net.addHost('coordb', `${this.spec.subnet}.7/24`);
    const hostB = await TestHost.create({
      name: 'coordinator-b',
      netns: bNet.netns,
      workDir: this.workDir,
      sharedDir: this.sharedDir,
      binds: [this.workDir, ...REPO_BINDS],
    });
    hostB.writeFile('/etc/hosts', `${hostB.readFile('/etc/hosts') ?? ''}\n${vip(this.spec)} ${API_HOST}\n`);
    const b = await this.addReplica('b', hostB, `${this.spec.subnet}.7`, stateB, 7);
    await this.waitForAnswer(b);
  }

  /** Three etcd members, one per namespace on the store network, TLS for clients and peers. */
  private async startStore(): Promise<void> {
    this.storeNet = await TestNetwork.create(`${this.options.prefix}s`);
    mkdirSync(this.storeDir, { recursive: true });
    const ips = [1, 2, 3].map((i) => `${this.ha.storeSubnet}.${10 + i}`);
    makePki(this.storeDir, ['DNS:localhost', 'IP:127.0.0.1', ...ips.map((ip) => `IP:${ip}`)].join(','));
    const cluster = ips.map((ip, i) => `store${i + 1}=https://${ip}:2380`).join(',');
    const tls = (kind: '' | 'peer-') => [
      `--${kind}cert-file=${join(this.storeDir, 'server.crt')}`,
      `--${kind}key-file=${join(this.storeDir, 'server.key')}`,
      `--${kind}trusted-ca-file=${join(this.storeDir, 'ca.crt')}`,
      `--${kind}client-cert-auth`,
    ];
    const namespaces: string[] = [];
    for (const [i, ip] of ips.entries()) {
      const name = `store${i + 1}`;
      const { netns } = await this.storeNet.addHost(name, `${ip}/24`);
      namespaces.push(netns);
      mkdirSync(join(this.workDir, 'logs'), { recursive: true });
      const etcd = spawnLogged(
        'ip',
        [
          'netns',
          'exec',
          netns,
          'etcd',
          `--name=${name}`,
          `--data-dir=${join(this.storeDir, name)}`,
          `--listen-client-urls=https://${ip}:2379`,
          `--advertise-client-urls=https://${ip}:2379`,
          `--listen-peer-urls=https://${ip}:2380`,
          `--initial-advertise-peer-urls=https://${ip}:2380`,
          `--initial-cluster=${cluster}`,
          '--initial-cluster-state=new',
          `--initial-cluster-token=${this.options.prefix}store`,
          ...tls(''),
          ...tls('peer-'),
        ],
        join(this.workDir, 'logs', `${name}.log`),
      );
      registerCleanup(`etcd ${name}`, () => killPid(etcd.pid));
    }
    this.storeEndpoints = ips.map((ip) => `${ip}:2379`);
    await waitFor(
      'the store etcd (3 members) to be healthy',
      30_000,
      async () => {
        const r = await run('ip', ['netns', 'exec', namespaces[0]!, 'etcdctl', ...this.etcdctlTls(), 'endpoint', 'health'], {
          allowFail: true,
          timeoutMs: 10_000,
          env: { ...process.env, ETCDCTL_API: '3' } as Record<string, string>,
        });
        return r.code === 0 && (r.stdout + r.stderr).match(/is healthy/g)?.length === 3;
      },
      300,
    );
  }

  private etcdctlTls(): string[] {
    return [
      `--endpoints=${this.storeEndpoints.map((e) => `https://${e}`).join(',')}`,
      `--cacert=${join(this.storeDir, 'ca.crt')}`,
      `--cert=${join(this.storeDir, 'healthcheck-client.crt')}`,
      `--key=${join(this.storeDir, 'healthcheck-client.key')}`,
      '--dial-timeout=2s',
      '--command-timeout=4s',
    ];
  }

  private async addReplica(name: string, host: TestHost, ip: string, stateDir: string, storeOctet: number): Promise<ReplicaSupervisor> {
    const storeBridgePort = await this.storeNet.attach(host.netns, `${this.ha.storeSubnet}.${storeOctet}/24`, 'eth1');
    const url = `https://${ip}:${COORDINATOR_PORT}`;
    const argv = [
      'node',
      join(REPO, 'bin/kubeseed.mjs'),
      'serve',
      '--state',
      stateDir,
      '--dist',
      DIST,
      '--store',
      `etcd://${this.storeEndpoints.join(',')}?prefix=kubeseed/${this.spec.id}/`,
      '--etcd-ca',
      join(this.storeDir, 'ca.crt'),
      '--etcd-cert',
      join(this.storeDir, 'healthcheck-client.crt'),
      '--etcd-key',
      join(this.storeDir, 'healthcheck-client.key'),
      '--advertise',
      url,
      '--lease',
      String(this.ha.leaseSeconds),
    ];
    const replica = new ReplicaSupervisor(name, host, url, stateDir, storeBridgePort, argv);
    registerCleanup(`replica ${name}`, () => replica.stop());
    this.replicas.push(replica);
    replica.start();
    return replica;
  }

  private async waitForAnswer(replica: ReplicaSupervisor): Promise<void> {
    await waitFor(
      `replica ${replica.name} to answer`,
      60_000,
      async () => {
        try {
          this.operatorToken ||= readFileSync(join(this.stateDir, 'operator-token'), 'utf8').trim();
        } catch {
          return false;
        }
        return (await this.replicaStatus(replica)) !== null;
      },
      300,
    );
  }

  /** GET /v1/status of one replica, asked from inside its own namespace; null when it does not answer. */
  async replicaStatus(replica: ReplicaSupervisor): Promise<CoordinatorStatus | null> {
    const r = await replica.host.execNet(
      [
        'curl',
        '-sS',
        '--fail',
        '--max-time',
        '3',
        '--cacert',
        join(replica.stateDir, 'tls/ca.crt'),
        '-H',
        `authorization: Bearer ${this.operatorToken}`,
        `${replica.url}/v1/status`,
      ],
      { allowFail: true, timeoutMs: 8_000 },
    );
    if (r.code !== 0) return null;
    try {
      return JSON.parse(r.stdout) as CoordinatorStatus;
    } catch {
      return null;
    }
  }

  /** The replica that says it leads, with its status; null while none does. */
  async leader(): Promise<{ replica: ReplicaSupervisor; status: CoordinatorStatus } | null> {
    for (const replica of this.replicas) {
      const status = await this.replicaStatus(replica);
      if (status?.coordinator?.role === 'leader') return { replica, status };
    }
    return null;
  }

  /** The leader's status, or a standby's (a watch behind at most) while no replica leads. */
  override async status(): Promise<CoordinatorStatus | null> {
    let any: CoordinatorStatus | null = null;
    for (const replica of this.replicas) {
      const status = await this.replicaStatus(replica);
      if (status?.coordinator?.role === 'leader') return status;
      any ??= status;
    }
    return any;
  }

  /** Takes a replica's link to the store network down (etcd unreachable; agents still reach it) or up. */
  async setStoreLink(replica: ReplicaSupervisor, up: boolean): Promise<void> {
    await this.storeNet.setPort(replica.storeBridgePort, up);
  }

  override async stop(): Promise<void> {
    for (const r of this.replicas) r.stop();
    await super.stop();
  }
}
