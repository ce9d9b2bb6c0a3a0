/**
 * A real 3-member etcd cluster (Debian's etcd 3.4) started with the generated member
 * certificates, one member per network namespace on a bridge that lives in its own namespace
 * (tooling.md §4). It must answer `etcdctl endpoint health` over TLS with the generated
 * healthcheck-client certificate and refuse a client without one. Every namespace IP is
 * addressed only from inside a namespace; processes are SIGKILLed by PID and namespaces deleted
 * in afterAll. One run with RSA-2048, one with ECDSA-P256.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '../../../generator/spec/types.ts';
import { ensureState } from '../../../generator/state/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeHost, makeSpec } from '../../unit/pki/fixtures.ts';

const skip = skipUnless('validators', { root: true, commands: ['etcd', 'etcdctl', 'ip'] });

const PREFIX = `ks-${process.pid}-`;
const namespaces: string[] = [];
const processes: ChildProcess[] = [];
const workDirs: string[] = [];

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A bridge in its own namespace and one namespace per member, on `subnet`.0/24. Nothing in the root namespace. */
function createNetwork(tag: string, subnet: string, count: number): string[] {
  const bridge = `${PREFIX}${tag}-br`;
  ip(['netns', 'add', bridge]);
  namespaces.push(bridge);
  ip(['-n', bridge, 'link', 'add', 'br0', 'type', 'bridge']);
  ip(['-n', bridge, 'link', 'set', 'br0', 'up']);
  const members: string[] = [];
  for (let i = 1; i <= count; i++) {
    const ns = `${PREFIX}${tag}-m${i}`;
    ip(['netns', 'add', ns]);
    namespaces.push(ns);
    const veth = `ks${process.pid % 100000}${tag}${i}`.slice(0, 15);
    ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', veth]);
    ip(['-n', ns, 'link', 'set', veth, 'netns', bridge]);
    ip(['-n', bridge, 'link', 'set', veth, 'master', 'br0', 'up']);
    ip(['-n', ns, 'addr', 'add', `${subnet}.${10 + i}/24`, 'dev', 'eth0']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    members.push(ns);
  }
  return members;
}

function etcdctl(ns: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'etcdctl', '--dial-timeout=1s', '--command-timeout=2s', ...args], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function startCluster(keyAlgorithm: KeyAlgorithm, tag: string, subnet: string) {
  const work = tempDir(`ks-pki-etcd-${tag}-`);
  workDirs.push(work);
  const hosts = [1, 2, 3].map((i) => makeHost(`etcd${i}`, 'etcd', `${subnet}.${10 + i}`));
  const spec = makeSpec({ keyAlgorithm, hosts: [...hosts, makeHost('master1', 'control-plane', `${subnet}.101`)] });
  const { state } = await ensureState({ outDir: work, spec, now: new Date() });
  const pki = join(work, 'coordinator', 'pki', 'etcd');
  const members = createNetwork(tag, subnet, 3);
  const cluster = hosts.map((h) => `${h.name}=https://${h.address!.ip}:2380`).join(',');
  for (const [i, host] of hosts.entries()) {
    const dir = join(pki, 'members', host.name);
    const data = join(work, 'data', host.name);
    await mkdir(data, { recursive: true, mode: 0o700 });
    const log = await open(join(work, `${host.name}.log`), 'w');
    const address = host.address!.ip;
    // `ip netns exec` execs etcd, so the child's PID is etcd's own.
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        members[i]!,
        'etcd',
        '--name',
        host.name,
        '--data-dir',
        data,
        '--listen-client-urls',
        `https://${address}:2379,https://127.0.0.1:2379`,
        '--advertise-client-urls',
        `https://${address}:2379`,
        '--listen-peer-urls',
        `https://${address}:2380`,
        '--initial-advertise-peer-urls',
        `https://${address}:2380`,
        '--initial-cluster',
        cluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        `${PREFIX}${tag}`,
        '--client-cert-auth',
        '--trusted-ca-file',
        join(pki, 'ca.crt'),
        '--cert-file',
        join(dir, 'server.crt'),
        '--key-file',
        join(dir, 'server.key'),
        '--peer-client-cert-auth',
        '--peer-trusted-ca-file',
        join(pki, 'ca.crt'),
        '--peer-cert-file',
        join(dir, 'peer.crt'),
        '--peer-key-file',
        join(dir, 'peer.key'),
      ],
      { stdio: ['ignore', log.fd, log.fd] },
    );
    processes.push(child);
    await log.close();
  }
  const endpoints = hosts.map((h) => `https://${h.address!.ip}:2379`).join(',');
  const client = join(pki, 'members', 'etcd1');
  const tlsArgs = [
    '--cacert',
    join(pki, 'ca.crt'),
    '--cert',
    join(client, 'healthcheck-client.crt'),
    '--key',
    join(client, 'healthcheck-client.key'),
  ];
  return { work, state, pki, members, endpoints, tlsArgs };
}

async function waitHealthy(ns: string, args: string[]): Promise<{ status: number | null; out: string }> {
  let last = { status: null as number | null, out: '' };
  for (let attempt = 0; attempt < 60; attempt++) {
    last = etcdctl(ns, args);
    if (last.status === 0) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}

afterAll(async () => {
  for (const child of processes) if (child.pid && child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(
    processes.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
  );
  for (const ns of namespaces.reverse()) spawnSync('ip', ['netns', 'delete', ns]);
  for (const dir of workDirs) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skip)('generated etcd certificates run a real 3-member TLS cluster', () => {
  it.each([
    ['ECDSA-P256', 'e', '10.88.1'],
    ['RSA-2048', 'r', '10.88.2'],
  ] as const)(
    '%s: healthy over TLS with the healthcheck client, refused without a client certificate',
    async (keyAlgorithm, tag, subnet) => {
      const { members, endpoints, tlsArgs, pki, work } = await startCluster(keyAlgorithm, tag, subnet);
      const health = await waitHealthy(members[0]!, [`--endpoints=${endpoints}`, ...tlsArgs, 'endpoint', 'health']);
      if (health.status !== 0) {
        const logs = await Promise.all(['etcd1', 'etcd2', 'etcd3'].map((h) => readFile(join(work, `${h}.log`), 'utf8').catch(() => '')));
        expect.fail(`cluster never became healthy:\n${health.out}\n${logs.map((l) => l.slice(-2000)).join('\n---\n')}`);
      }
      for (const n of [11, 12, 13]) expect(health.out).toContain(`https://${subnet}.${n}:2379 is healthy`);

      const list = etcdctl(members[1]!, [`--endpoints=${endpoints}`, ...tlsArgs, 'member', 'list']);
      expect(list.status, list.out).toBe(0);
      for (const name of ['etcd1', 'etcd2', 'etcd3']) expect(list.out).toContain(`, started, ${name}, https://`);

      // The server certificate's SANs cover localhost / 127.0.0.1 too (kubeadm's own health checks dial them).
      const local = etcdctl(members[2]!, ['--endpoints=https://localhost:2379,https://127.0.0.1:2379', ...tlsArgs, 'endpoint', 'health']);
      expect(local.status, local.out).toBe(0);

      // Without a client certificate the cluster refuses.
      const anonymous = etcdctl(members[0]!, [
        `--endpoints=https://${subnet}.11:2379`,
        '--cacert',
        join(pki, 'ca.crt'),
        'endpoint',
        'health',
      ]);
      expect(anonymous.status).not.toBe(0);
      expect(anonymous.out).toMatch(/unhealthy|bad certificate|certificate required/);
    },
  );
});
