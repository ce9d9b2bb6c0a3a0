/**
 * A real single-member etcd (Debian's etcd-server, 3.4) on 127.0.0.1 for tests: TLS with a CA made
 * by the real openssl, client-certificate auth, free loopback ports, started healthy (checked with
 * the real etcdctl) and killed by its pid. Files in `dir`: ca.crt, server.{crt,key},
 * healthcheck-client.{crt,key}.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { opensslCa, opensslLeaf } from './openssl.ts';

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

/** CA, `server` (serverAuth+clientAuth, for `sans`) and `healthcheck-client` certificates, made with openssl. */
export function makePki(dir: string, sans = 'DNS:localhost,IP:127.0.0.1'): void {
  opensslCa(dir, 'ca', '/CN=etcd-ca', 1);
  const usage = 'keyUsage=critical,digitalSignature,keyEncipherment\n';
  opensslLeaf(dir, 'ca', 'server', '/CN=server', 1, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n${usage}`);
  opensslLeaf(dir, 'ca', 'healthcheck-client', '/CN=healthcheck-client', 1, `extendedKeyUsage=clientAuth\n${usage}`);
}

export interface TestEtcd {
  dir: string;
  clientUrl: string;
  pem: (name: string) => string;
  /** CA, client certificate and key, as a TLS client needs them. */
  clientTls: () => { ca: string; cert: string; key: string };
  stop: () => void;
}

/** The CLI's `--etcd-ca/--etcd-cert/--etcd-key` for this etcd (serve, store migrate, upgrade, renew). */
export function etcdTlsFlags(etcd: TestEtcd): string[] {
  return [
    '--etcd-ca',
    join(etcd.dir, 'ca.crt'),
    '--etcd-cert',
    join(etcd.dir, 'healthcheck-client.crt'),
    '--etcd-key',
    join(etcd.dir, 'healthcheck-client.key'),
  ];
}

/** Starts etcd (with `extraFlags`, e.g. `--max-txn-ops=4096`) and waits (≤ 15 s) until the real etcdctl finds it healthy. */
export async function startTestEtcd(prefix: string, extraFlags: readonly string[] = []): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  makePki(dir);
  const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()];
  const clientUrl = `https://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const etcd: ChildProcess = spawn(
    'etcd',
    [
      '--name=m1',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=m1=${peerUrl}`,
      '--initial-cluster-state=new',
      `--cert-file=${join(dir, 'server.crt')}`,
      `--key-file=${join(dir, 'server.key')}`,
      `--trusted-ca-file=${join(dir, 'ca.crt')}`,
      '--client-cert-auth',
      `--listen-metrics-urls=http://127.0.0.1:${metrics}`,
      ...extraFlags,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  etcd.stderr?.on('data', (c: Buffer) => {
    log += c;
  });
  const stop = () => {
    if (etcd.pid && etcd.exitCode === null) etcd.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      execFileSync(
        'etcdctl',
        [
          `--endpoints=${clientUrl}`,
          `--cacert=${join(dir, 'ca.crt')}`,
          `--cert=${join(dir, 'healthcheck-client.crt')}`,
          `--key=${join(dir, 'healthcheck-client.key')}`,
          '--dial-timeout=1s',
          'endpoint',
          'health',
        ],
        { stdio: 'ignore' },
      );
      break;
    } catch {
      if (Date.now() > deadline) {
        stop();
        throw new Error(`etcd did not become healthy:\n${log.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const pem = (name: string) => readFileSync(join(dir, name), 'utf8');
  return {
    dir,
    clientUrl,
    pem,
    clientTls: () => ({ ca: pem('ca.crt'), cert: pem('healthcheck-client.crt'), key: pem('healthcheck-client.key') }),
    stop,
  };
}
