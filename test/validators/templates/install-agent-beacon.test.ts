/**
 * The install-failed beacon end to end: the REAL rendered install-agent.sh runs with bash against
 * the REAL coordinator app (`buildApp`, HTTPS on loopback with its test CA pinned) and a plain-HTTP
 * mirror, with the host's credential file and the agent configuration `buildAgentConfig` writes.
 * Each failure — the agent 404 at the mirror or the coordinator, bytes that do not match the
 * published SHA-256, an executable that does not run, a full disk (a 16 KiB tmpfs), a machine
 * that is neither amd64 nor arm64 (`setarch i686`), systemctl that cannot reach systemd — ends in
 * exit 1 and in the coordinator's record of `install failed: <reason>` with curl's or systemctl's
 * own words in the tail. The credential appears in no command line the script starts.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentConfig } from '../../../generator/plan/provision.ts';
import { buildApp } from '../../../server/app.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { renderAgentUnit, renderInstallAgentScript } from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { makePlan } from '../../unit/server/fixtures.ts';
import { createTestTls, credentialOf, makeInputs } from '../../unit/server/support.ts';
import { makeTempDir, writeFile } from './helpers.ts';

const STAND_IN = '#!/bin/sh\necho "kubeseed agent stand-in"\n';

function runBash(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', no_proxy: '127.0.0.1', NO_PROXY: '127.0.0.1' };
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env: { ...base, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

/** Runs `script` (bash, with `args` as $1…) in a private mount namespace: its mounts vanish with it. */
function inPrivateMounts(script: string, ...args: string[]): Promise<{ code: number; out: string }> {
  return runBash(['unshare', '--mount', '--propagation', 'private', 'bash', '-c', script, 'sh', ...args]);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe.skipIf(
  skipUnless('validators/templates install-agent beacon', { root: true, commands: ['curl', 'sha256sum', 'gzip', 'unshare', 'setarch'] }),
)('install-agent tells the coordinator why it failed', () => {
  const dir = makeTempDir('beacon');
  const plan = makePlan({ workers: 4 });
  let app: FastifyInstance;
  let coordinatorUrl = '';
  let mirrorUrl = '';
  let mirror: Server;
  let standby: Server;
  let standbyUrl = '';
  const standbyHits: string[] = [];
  let mirrorBody: Buffer | null = null;
  const dist = join(dir, 'dist');
  const unit = writeFile(dir, 'kubeseed-agent.service', renderAgentUnit({ configPath: '/etc/kubeseed/agent.json' }));
  const ca = join(dir, 'coordinator-ca.pem');

  beforeAll(async () => {
    mkdirSync(dist);
    // What the coordinator serves: linux-amd64 only (no arm64 build), a stand-in that runs `--version`.
    writeFile(dist, 'kubeseed-agent-linux-x64', STAND_IN, 0o755);
    const tls = createTestTls();
    writeFileSync(ca, tls.ca);
    app = buildApp(makeInputs(plan), { store: new MemoryStore(), distDir: dist, warmAgentCache: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    coordinatorUrl = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    mirror = createHttpServer((req, res) => {
      if (mirrorBody && /^\/kubeseed\/linux-amd64$/.test(req.url ?? '')) res.writeHead(200).end(mirrorBody);
      else res.writeHead(404).end('not here\n');
    });
    mirrorUrl = `http://127.0.0.1:${await listen(mirror)}/kubeseed`;
    // A standby replica (ADR 0036): every agent call answers 503 with Retry-After.
    standby = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      standbyHits.push(`${req.method} ${req.url}`);
      res.writeHead(503, { 'retry-after': '2' }).end('{"error":"this coordinator is a standby"}');
    });
    standbyUrl = `https://127.0.0.1:${await listen(standby)}`;
  });

  afterAll(async () => {
    await app?.close();
    await new Promise((r) => mirror?.close(r));
    await new Promise((r) => standby?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** One host's files as user-data writes them (credential 0600, agent.json from buildAgentConfig) and its script. */
  function hostScript(host: string, options: { agentBaseUrl?: string; coordinatorUrl?: string; replicaUrls?: string[] } = {}): string {
    const root = join(dir, host);
    mkdirSync(root, { recursive: true });
    const spec = plan.spec;
    const hostSpec = spec.hosts.find((h) => h.name === host)!;
    writeFile(root, 'credential', `${credentialOf(host)}\n`, 0o600);
    writeFile(root, 'agent.json', `${JSON.stringify(buildAgentConfig(spec, hostSpec), null, 2)}\n`);
    return writeFile(
      root,
      'install-agent.sh',
      renderInstallAgentScript({
        coordinatorUrl: options.coordinatorUrl ?? coordinatorUrl,
        ...(options.replicaUrls ? { replicaUrls: options.replicaUrls } : {}),
        coordinatorCaFile: ca,
        ...(options.agentBaseUrl ? { agentBaseUrl: options.agentBaseUrl } : {}),
        agentPath: join(root, 'bin/kubeseed-agent'),
        unitSourcePath: unit,
        unitDir: join(root, 'units'),
        credentialFile: join(root, 'credential'),
        agentConfigFile: join(root, 'agent.json'),
        maxAttempts: 2,
        maxDelaySeconds: 1,
        beaconAttempts: 2,
      }),
      0o755,
    );
  }

  function installFailed(host: string) {
    return app.coordinator.status().hosts.find((h) => h.name === host)?.installFailed;
  }

  it('the agent 404 at the mirror → agent-download-failed, with curl’s words', async () => {
    mirrorBody = null;
    const r = await runBash(['bash', hostScript('w1', { agentBaseUrl: mirrorUrl })]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('the coordinator was told: install failed: agent-download-failed');
    const mark = installFailed('w1');
    expect(mark?.reason).toBe('agent-download-failed');
    expect(mark?.logTail).toContain('The requested URL returned error: 404');
    expect(mark?.arch).toBe('x86_64');
    expect(mark?.logTail).not.toContain(credentialOf('w1'));
    expect(app.coordinator.status().securityEvents.some((e) => e.kind === 'install-failed' && e.host === 'w1')).toBe(true);
  });

  it('a standby first in the list answers 503: the next attempt tells the leader (issue 20)', async () => {
    mirrorBody = null;
    standbyHits.length = 0;
    const r = await runBash([
      'bash',
      hostScript('w4', { agentBaseUrl: mirrorUrl, coordinatorUrl: standbyUrl, replicaUrls: [coordinatorUrl] }),
    ]);
    expect(r.code, r.out).toBe(1);
    expect(standbyHits).toEqual(['POST /v1/install-failed']);
    expect(r.out).toContain('the coordinator was told: install failed: agent-download-failed');
    expect(installFailed('w4')?.reason).toBe('agent-download-failed');
  });

  it('a mirror serving other bytes → agent-checksum-mismatch (the SHA-256 from the coordinator decides)', async () => {
    mirrorBody = gzipSync(Buffer.from('#!/bin/sh\necho tampered\n'));
    const r = await runBash(['bash', hostScript('w2', { agentBaseUrl: mirrorUrl })]);
    expect(r.code, r.out).toBe(1);
    expect(installFailed('w2')?.reason).toBe('agent-checksum-mismatch');
    expect(installFailed('w2')?.logTail).toContain('the coordinator publishes');
  });

  it('an executable that does not run here → agent-not-runnable; nothing is left in place', async () => {
    const broken = '#!/bin/sh\necho "cannot execute: required file not found" >&2\nexit 126\n';
    writeFile(dist, 'kubeseed-agent-linux-x64', broken, 0o755);
    // A fresh app reads the new build (the executables are cached per app).
    const script = hostScript('w3');
    const fresh = buildApp(makeInputs(plan), {
      store: new MemoryStore(),
      distDir: dist,
      warmAgentCache: false,
    });
    await fresh.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `https://127.0.0.1:${(fresh.server.address() as AddressInfo).port}`;
      const text = renderInstallAgentScript({
        coordinatorUrl: url,
        coordinatorCaFile: ca,
        agentPath: join(dir, 'w3/bin/kubeseed-agent'),
        unitSourcePath: unit,
        unitDir: join(dir, 'w3/units'),
        credentialFile: join(dir, 'w3/credential'),
        agentConfigFile: join(dir, 'w3/agent.json'),
        maxAttempts: 2,
        maxDelaySeconds: 1,
      });
      writeFileSync(script, text);
      const r = await runBash(['bash', script]);
      expect(r.code, r.out).toBe(1);
      const mark = fresh.coordinator.status().hosts.find((h) => h.name === 'w3')?.installFailed;
      expect(mark?.reason).toBe('agent-not-runnable');
      expect(mark?.logTail).toContain('required file not found');
      expect(existsSync(join(dir, 'w3/bin/kubeseed-agent.new'))).toBe(false);
      expect(existsSync(join(dir, 'w3/bin/kubeseed-agent'))).toBe(false);
    } finally {
      await fresh.close();
      writeFile(dist, 'kubeseed-agent-linux-x64', STAND_IN, 0o755);
    }
  });

  it('a full disk → disk-full (curl says only "Failure writing output"; the script looks at the free space)', async () => {
    // An executable larger than the 16 KiB tmpfs that TMPDIR points to, in a private mount namespace.
    const big = `${STAND_IN}# ${randomBytes(48 * 1024).toString('base64')}\n`;
    mirrorBody = gzipSync(Buffer.from(big));
    const script = hostScript('cp1', { agentBaseUrl: mirrorUrl });
    const small = join(dir, 'small');
    mkdirSync(small);
    const r = await inPrivateMounts('mount -t tmpfs -o size=16k tmpfs "$1" && TMPDIR="$1" bash "$2"', small, script);
    expect(r.code, r.out).toBe(1);
    const mark = app.coordinator.status().hosts.find((h) => h.name === 'cp1')?.installFailed;
    expect(mark?.reason, r.out).toBe('disk-full');
    expect(mark?.logTail).toContain('Failure writing output');
  });

  it('a machine that is neither amd64 nor arm64 → unsupported-arch', async () => {
    const r = await runBash(['setarch', 'i686', 'bash', hostScript('w1')]);
    expect(r.code, r.out).toBe(1);
    expect(installFailed('w1')).toMatchObject({ reason: 'unsupported-arch', arch: 'i686' });
  });

  it('systemctl that cannot reach systemd → unit-start-failed, with systemctl’s own message', async () => {
    // /run/systemd/system present (what the script takes for "systemd is PID 1") in a private mount
    // namespace: the real systemctl then fails to reach the manager.
    const script = hostScript('w2');
    const r = await inPrivateMounts('mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && bash "$1"', script);
    expect(r.code, r.out).toBe(1);
    const mark = installFailed('w2');
    expect(mark?.reason).toBe('unit-start-failed');
    expect(mark?.logTail).toMatch(/Failed to connect to bus|Host is down|System has not been booted with systemd/);
  });

  it.skipIf(skipUnless('install-agent beacon argv', { commands: ['strace'] }))(
    'the credential is in no command line: every execve the script makes, traced',
    async () => {
      mirrorBody = null;
      const trace = join(dir, 'execve.trace');
      const r = await runBash([
        'strace',
        '-f',
        '-qq',
        '-e',
        'trace=execve',
        '-s',
        '4096',
        '-o',
        trace,
        'bash',
        hostScript('w4', { agentBaseUrl: mirrorUrl }),
      ]);
      expect(r.code, r.out).toBe(1);
      const execs = readFileSync(trace, 'utf8');
      expect(execs).toContain('/v1/install-failed');
      expect(execs).not.toContain(credentialOf('w4'));
      expect(installFailed('w4')?.reason).toBe('agent-download-failed');
    },
  );

  it('without a usable credential it cannot tell anyone and only exits 1', async () => {
    mirrorBody = null;
    const script = hostScript('w3', { agentBaseUrl: mirrorUrl });
    writeFile(join(dir, 'w3'), 'credential', 'not a credential; "quoted"\n', 0o600);
    const r = await runBash(['bash', script]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('no usable credential');
    expect(installFailed('w3')).toBeUndefined();
  });
});
