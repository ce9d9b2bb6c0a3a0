/**
 * The harness's own look at external etcd (scenario 2): a client certificate signed with the
 * generated etcd CA (openssl, on the test machine), and `etcdctl endpoint health` / `member list`
 * over TLS, run inside an etcd host's network namespace.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { E2eCluster } from './cluster.ts';
import { run } from './exec.ts';
import type { TestHost } from './host.ts';
import { type E2eHost, hostIp } from './spec.ts';

/** prepareImage of the external-etcd scenarios: the image has Debian's etcd where the generated unit expects it. */
export async function linkDebianEtcd(host: TestHost, spec: E2eHost): Promise<void> {
  if (spec.role === 'etcd') await host.exec(['ln', '-sf', '/usr/bin/etcd', '/usr/local/bin/etcd']);
}

export interface EtcdClient {
  ca: string;
  cert: string;
  key: string;
}

/** A client certificate (clientAuth) from out/coordinator/pki/etcd/ca.{crt,key}. */
export async function createEtcdClient(cluster: E2eCluster): Promise<EtcdClient> {
  const dir = join(cluster.workDir, 'etcd-client');
  mkdirSync(dir, { recursive: true });
  const ca = join(cluster.stateDir, 'pki/etcd/ca.crt');
  const caKey = join(cluster.stateDir, 'pki/etcd/ca.key');
  const key = join(dir, 'client.key');
  const csr = join(dir, 'client.csr');
  const cert = join(dir, 'client.crt');
  writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  await run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    '/CN=kubeseed-e2e',
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-CAserial',
    join(dir, 'ca.srl'),
    '-days',
    '1',
    '-extfile',
    join(dir, 'ext'),
    '-out',
    cert,
  ]);
  return { ca, cert, key };
}

export function etcdEndpoints(cluster: E2eCluster): string[] {
  return cluster.spec.hosts.filter((h) => h.role === 'etcd').map((h) => `https://${hostIp(cluster.spec, h)}:2379`);
}

/** `etcdctl endpoint health` of every member over TLS, from inside the first etcd host's namespace. */
export async function etcdHealth(cluster: E2eCluster, client: EtcdClient): Promise<{ ok: boolean; output: string }> {
  const first = cluster.spec.hosts.find((h) => h.role === 'etcd')!;
  const r = await run(
    'ip',
    [
      'netns',
      'exec',
      cluster.get(first.name).host.netns,
      'etcdctl',
      `--endpoints=${etcdEndpoints(cluster).join(',')}`,
      '--cacert',
      client.ca,
      '--cert',
      client.cert,
      '--key',
      client.key,
      '--dial-timeout=2s',
      '--command-timeout=4s',
      'endpoint',
      'health',
    ],
    { allowFail: true, timeoutMs: 20_000, env: { ...process.env, ETCDCTL_API: '3' } as Record<string, string> },
  );
  const output = `${r.stdout}${r.stderr}`;
  return { ok: r.code === 0 && (output.match(/is healthy/g) ?? []).length === etcdEndpoints(cluster).length, output };
}

/** Member names from `etcdctl member list` over TLS. */
export async function etcdMembers(cluster: E2eCluster, client: EtcdClient): Promise<string[]> {
  const first = cluster.spec.hosts.find((h) => h.role === 'etcd')!;
  const r = await run(
    'ip',
    [
      'netns',
      'exec',
      cluster.get(first.name).host.netns,
      'etcdctl',
      `--endpoints=${etcdEndpoints(cluster)[0]}`,
      '--cacert',
      client.ca,
      '--cert',
      client.cert,
      '--key',
      client.key,
      '--dial-timeout=2s',
      'member',
      'list',
      '-w',
      'simple',
    ],
    { timeoutMs: 20_000, env: { ...process.env, ETCDCTL_API: '3' } as Record<string, string> },
  );
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(',')[2]?.trim() ?? '')
    .sort();
}
