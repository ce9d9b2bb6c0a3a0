/**
 * etcd-member-upgrade against a REAL three-member etcd cluster (Debian's etcd 3.4) on 127.0.0.1,
 * TLS with client certificates: the "new" release is a tarball made from the machine's own etcd and
 * etcdctl, served over loopback HTTP and pinned by its SHA-256 as the coordinator pins it. Each
 * member's `systemctl restart etcd` stops that member's process and starts it again from the
 * executable the step installed below the member's root (systemd is not PID 1 here). The checks are
 * etcd's own: /version's `etcdserver`, /health, and keys written and read with the real etcdctl.
 * Debian ships one etcd release, so the version change itself cannot be real: the step is run at
 * the version the binary reports (passes) and at another one (refused with what /version says).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exec } from '../../agent/io.ts';
import { createNodeNet, createRootFs, systemClock } from '../../agent/node-io.ts';
import { DEFAULT_STEP_TIMING, executeStep, type StepContext } from '../../agent/steps/index.ts';
import type { ReportRequest } from '../../protocol/wire.ts';
import { freePort, makePki } from '../support/etcd-server.ts';
import { skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';
import { wireStep } from '../support/wire-step.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl', 'tar'] });
const RELEASE = 'etcd-v3.4.23-linux-amd64';

interface Member {
  name: string;
  root: string;
  clientUrl: string;
  peerUrl: string;
  proc?: ChildProcess;
}

let dir = '';
let members: Member[] = [];
let server: Server | undefined;
let tarballUrl = '';
let tarballSha = '';
let installedVersion = '';

const ctlArgs = () => [
  `--cacert=${join(dir, 'ca.crt')}`,
  `--cert=${join(dir, 'healthcheck-client.crt')}`,
  `--key=${join(dir, 'healthcheck-client.key')}`,
  '--dial-timeout=2s',
  '--command-timeout=5s',
];
const ctl = (endpoints: string[], ...args: string[]) =>
  execFileSync('etcdctl', [`--endpoints=${endpoints.join(',')}`, ...ctlArgs(), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 15_000,
  });

function startMember(m: Member, state: 'new' | 'existing'): void {
  const cluster = members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
  // The executable the step installs (the root's /usr/local/bin/etcd), as the unit's ExecStart names it.
  m.proc = spawn(
    join(m.root, 'usr/local/bin/etcd'),
    [
      `--name=${m.name}`,
      `--data-dir=${join(m.root, 'var/lib/etcd')}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${cluster}`,
      `--initial-cluster-state=${state}`,
      '--initial-cluster-token=ks-upgrade',
      `--cert-file=${join(dir, 'server.crt')}`,
      `--key-file=${join(dir, 'server.key')}`,
      `--trusted-ca-file=${join(dir, 'ca.crt')}`,
      '--client-cert-auth',
      `--listen-metrics-urls=http://127.0.0.1:0`,
    ],
    { stdio: 'ignore' },
  );
}

function stopMember(m: Member): Promise<void> {
  const proc = m.proc;
  if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    proc.kill('SIGTERM');
  });
}

async function waitHealthy(endpoints: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      ctl(endpoints, 'endpoint', 'health');
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** systemd's part: `systemctl restart etcd` restarts this member's process; nothing else is run. */
function memberExec(m: Member, calls: string[][]): Exec {
  return {
    async run(argv) {
      calls.push([...argv]);
      if (argv.join(' ') !== 'systemctl restart etcd')
        return { code: 127, output: `${argv[0]}: not here`, notFound: true, timedOut: false };
      await stopMember(m);
      startMember(m, 'existing');
      return { code: 0, output: '', notFound: false, timedOut: false };
    },
  };
}

function context(m: Member, calls: string[][], healthTimeoutMs = 20_000): StepContext {
  return {
    fs: createRootFs(m.root),
    exec: memberExec(m, calls),
    net: createNodeNet(),
    clock: systemClock,
    log: () => undefined,
    stateDir: '/var/lib/kubeseed',
    timing: { ...DEFAULT_STEP_TIMING, pollMs: 200, etcdHealthTimeoutMs: healthTimeoutMs },
  };
}

const pem = (name: string) => readFileSync(join(dir, name), 'utf8');

function upgradeStep(m: Member, version: string, sha256 = tarballSha, attempt = 1) {
  return wireStep({
    // One operation per attempt here: a sentinel would answer a repeated id without running it.
    id: `${m.name}/upgrade-test-${attempt}/etcd-member-upgrade`,
    kind: 'etcd-member-upgrade',
    host: m.name,
    attempt,
    files: [
      { path: '/etc/kubernetes/pki/etcd/ca.crt', content: pem('ca.crt'), mode: 0o644, secret: false },
      { path: '/etc/kubernetes/pki/etcd/healthcheck-client.crt', content: pem('healthcheck-client.crt'), mode: 0o644, secret: false },
      { path: '/etc/kubernetes/pki/etcd/healthcheck-client.key', content: pem('healthcheck-client.key'), mode: 0o600, secret: true },
    ],
    params: {
      nodeName: m.name,
      version,
      etcdMode: 'binary',
      downloads: ['etcd', 'etcdctl'].map((tool) => ({
        url: tarballUrl,
        sha256,
        member: `${RELEASE}/${tool}`,
        path: `/usr/local/bin/${tool}`,
      })),
      etcdEndpoints: members.map((x) => x.clientUrl),
      localEndpoint: m.clientUrl,
      etcdClient: {
        caFile: '/etc/kubernetes/pki/etcd/ca.crt',
        certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
        keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
      },
    },
    redact: [],
  });
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

beforeAll(async () => {
  if (skip) return;
  dir = tempDir('ks-etcd-upgrade-');
  makePki(dir);
  // The "new" release: the machine's etcd and etcdctl in upstream's tarball layout.
  mkdirSync(join(dir, 'release', RELEASE), { recursive: true });
  for (const tool of ['etcd', 'etcdctl']) copyFileSync(`/usr/bin/${tool}`, join(dir, 'release', RELEASE, tool));
  execFileSync('tar', ['-C', join(dir, 'release'), '-czf', join(dir, `${RELEASE}.tar.gz`), RELEASE]);
  const tarball = readFileSync(join(dir, `${RELEASE}.tar.gz`));
  tarballSha = createHash('sha256').update(tarball).digest('hex');
  server = createServer((req, res) => {
    if (req.url === `/v3.4.23/${RELEASE}.tar.gz`) res.writeHead(200, { 'content-length': tarball.length }).end(tarball);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  tarballUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/v3.4.23/${RELEASE}.tar.gz`;
  installedVersion = /etcd Version: (\S+)/.exec(execFileSync('etcd', ['--version'], { encoding: 'utf8' }))?.[1] ?? '';

  members = [];
  for (const name of ['e1', 'e2', 'e3']) {
    const root = join(dir, name);
    // The "old" executable where the prepare script put it: other bytes than the release's, so the test sees it replaced.
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/local/bin/etcd'), '#!/bin/sh\nexec /usr/bin/etcd "$@"\n', { mode: 0o755 });
    members.push({ name, root, clientUrl: `https://127.0.0.1:${await freePort()}`, peerUrl: `http://127.0.0.1:${await freePort()}` });
  }
  for (const m of members) startMember(m, 'new');
  await waitHealthy(members.map((m) => m.clientUrl));
}, 60_000);

afterAll(async () => {
  for (const m of members) await stopMember(m);
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const expectOutcome = (r: ReportRequest, outcome: 'succeeded' | 'failed') => expect(r.outcome, r.logTail).toBe(outcome);

describe.skipIf(skip)('etcd-member-upgrade × a real 3-member etcd (TLS, client certificates)', () => {
  it('upgrades the members one at a time: pinned tarball installed, member restarted, /version at the target, quorum kept', async () => {
    const all = members.map((m) => m.clientUrl);
    ctl(all, 'put', 'before-upgrade', 'kept');
    for (const [i, m] of members.entries()) {
      const pidsBefore = members.map((x) => x.proc?.pid);
      const calls: string[][] = [];
      const r = await executeStep(upgradeStep(m, installedVersion), context(m, calls));
      expectOutcome(r, 'succeeded');
      expect(r.results).toEqual({ etcdHealthy: true });
      expect(calls).toEqual([['systemctl', 'restart', 'etcd']]);
      // Only this member restarted; the others kept serving.
      const restarted = members.map((x, j) => x.proc?.pid !== pidsBefore[j]);
      expect(restarted).toEqual(members.map((_, j) => j === i));
      expect(sha(join(m.root, 'usr/local/bin/etcd'))).toBe(sha('/usr/bin/etcd'));
      expect(sha(join(m.root, 'usr/local/bin/etcdctl'))).toBe(sha('/usr/bin/etcdctl'));
      expect(readFileSync(join(m.root, 'var/lib/kubeseed/downloads/usr/local/bin/etcd.sha256'), 'utf8').trim()).toBe(tarballSha);
      expect(r.logTail).toContain(`etcd ${m.clientUrl} runs ${installedVersion}`);
      // etcd's own view: the member is healthy and the data is there, read through this member alone.
      expect(ctl([m.clientUrl], 'get', 'before-upgrade', '--print-value-only').trim()).toBe('kept');
      ctl(all, 'put', `after-${m.name}`, 'written');
    }
    const version = JSON.parse(
      execFileSync(
        'curl',
        [
          '-sS',
          '--cacert',
          join(dir, 'ca.crt'),
          '--cert',
          join(dir, 'healthcheck-client.crt'),
          '--key',
          join(dir, 'healthcheck-client.key'),
          `${members[0]!.clientUrl}/version`,
        ],
        { encoding: 'utf8' },
      ),
    ) as { etcdserver: string };
    expect(version.etcdserver).toBe(installedVersion);
  }, 120_000);

  it('refuses to succeed when /version reports another release than the target', async () => {
    const m = members[0]!;
    const other = installedVersion.replace(/\d+$/, (p) => String(Number(p) + 1));
    const r = await executeStep(upgradeStep(m, other, tarballSha, 2), context(m, [], 3_000));
    expectOutcome(r, 'failed');
    expect(r.reason).toBe('etcd-version-mismatch');
    expect(r.logTail).toContain(`reports etcdserver ${installedVersion} on /version, the upgrade wants ${other}`);
    await waitHealthy([m.clientUrl]);
  }, 60_000);

  it('refuses a tarball whose SHA-256 is not the pinned one, before the member stops', async () => {
    const m = members[1]!;
    const pid = m.proc?.pid;
    const calls: string[][] = [];
    const r = await executeStep(upgradeStep(m, installedVersion, '0'.repeat(64), 3), context(m, calls));
    expectOutcome(r, 'failed');
    expect(r.reason).toBe('download-sha256-mismatch');
    expect(calls).toEqual([]);
    expect(m.proc?.pid).toBe(pid);
  }, 60_000);

  it('does not restart a member when the others cannot hold a quorum without it', async () => {
    const [m, ...others] = members as [Member, Member, Member];
    await stopMember(others[0]);
    await stopMember(others[1]);
    const pid = m.proc?.pid;
    const calls: string[][] = [];
    const r = await executeStep(upgradeStep(m, installedVersion, tarballSha, 4), context(m, calls));
    expectOutcome(r, 'failed');
    expect(r.reason).toBe('etcd-no-quorum-without-member');
    expect(r.logTail).toContain('only 0 of the other 2 members answer /health');
    expect(calls).toEqual([]);
    expect(m.proc?.pid).toBe(pid);
  }, 60_000);
});
