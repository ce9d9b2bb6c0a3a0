/**
 * The agent's native etcd client against a real etcd (Debian's 3.4) on 127.0.0.1 with TLS and
 * client-certificate auth: etcd-start's health check of every endpoint, the JSON-gateway member
 * list the stacked-join voter check reads, and etcd-member-remove of an unstarted learner — the
 * member a failed control-plane join leaves behind.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeExec, createNodeNet, createRootFs, systemClock } from '../../agent/node-io.ts';
import { listEtcdMembers } from '../../agent/steps/etcd.ts';
import { DEFAULT_STEP_TIMING, executeStep, type StepContext, StepRun } from '../../agent/steps/index.ts';
import { doubleEnv, readDoubleLog } from '../../doubles/index.ts';
import { Redactor } from '../../protocol/redact.ts';
import type { ReleasedStep } from '../../protocol/wire.ts';
import { skipUnless } from '../support/requirements.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

function makePki(dir: string): void {
  const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  sh([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=etcd-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  const leaf = (name: string, ext: string) => {
    sh([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    ]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    sh([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ]);
  };
  leaf(
    'server',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n',
  );
  leaf('healthcheck-client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
}

let dir = '';
let etcd: ChildProcess | null = null;
let clientUrl = '';
const pem = (name: string) => readFileSync(join(dir, name), 'utf8');

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'ks-agent-etcd-'));
  makePki(dir);
  const [client, peer] = [await freePort(), await freePort()];
  clientUrl = `https://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  etcd = spawn(
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
      `--listen-metrics-urls=http://127.0.0.1:${await freePort()}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  etcd.stderr?.on('data', (c: Buffer) => {
    log += c;
  });
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
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy:\n${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}, 30_000);

afterAll(() => {
  if (etcd?.pid) etcd.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function context(root: string, log: string): StepContext {
  return {
    fs: createRootFs(root),
    exec: createNodeExec({ env: doubleEnv({ root, log }) }),
    net: createNodeNet(),
    clock: systemClock,
    log: () => undefined,
    stateDir: '/var/lib/kubeseed',
    timing: { ...DEFAULT_STEP_TIMING, pollMs: 100, etcdHealthTimeoutMs: 3_000 },
  };
}

const clientFiles = () => [
  { path: '/etc/kubernetes/pki/etcd/ca.crt', content: pem('ca.crt'), mode: 0o644, secret: false },
  { path: '/etc/kubernetes/pki/etcd/healthcheck-client.crt', content: pem('healthcheck-client.crt'), mode: 0o644, secret: false },
  { path: '/etc/kubernetes/pki/etcd/healthcheck-client.key', content: pem('healthcheck-client.key'), mode: 0o600, secret: true },
];

describe.skipIf(skip)('agent × real etcd 3.4 (TLS, client certificates)', () => {
  it('etcd-start: the native /health check passes against a healthy member and fails against a dead one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ks-agent-etcd-root-'));
    try {
      // The user-data writes the member's unit (generator/plan/host-files.ts); the systemctl double needs it like systemd.
      mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
      writeFileSync(join(root, 'etc/systemd/system/etcd.service'), '[Service]\nExecStart=/usr/local/bin/etcd\n');
      const step: ReleasedStep = {
        id: 'e1/etcd-start',
        kind: 'etcd-start',
        host: 'e1',
        attempt: 1,
        files: clientFiles(),
        params: { etcdMode: 'binary', etcdEndpoints: [clientUrl] },
        redact: [],
      };
      const ok = await executeStep(step, context(root, join(root, 'calls.log')));
      expect(ok, ok.logTail).toMatchObject({ outcome: 'succeeded', results: { etcdHealthy: true } });
      expect(readDoubleLog(join(root, 'calls.log')).map((c) => c.argv)).toEqual([['daemon-reload'], ['enable', '--now', 'etcd']]);
      const dead = await executeStep(
        { ...step, id: 'e1/etcd-start#2', params: { ...step.params, etcdEndpoints: [clientUrl, `https://127.0.0.1:${await freePort()}`] } },
        context(root, join(root, 'calls.log')),
      );
      expect(dead).toMatchObject({ outcome: 'failed', reason: 'etcd-unhealthy' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('member list through the JSON gateway, and removal of an unstarted learner', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ks-agent-etcd-root-'));
    try {
      const ctl = (...args: string[]) =>
        execFileSync(
          'etcdctl',
          [
            `--endpoints=${clientUrl}`,
            `--cacert=${join(dir, 'ca.crt')}`,
            `--cert=${join(dir, 'healthcheck-client.crt')}`,
            `--key=${join(dir, 'healthcheck-client.key')}`,
            ...args,
          ],
          { encoding: 'utf8' },
        );
      ctl('member', 'add', 'cp-9', '--learner', `--peer-urls=http://127.0.0.1:${await freePort()}`);
      const ctx = context(root, join(root, 'calls.log'));
      const step: ReleasedStep = {
        id: 'cp1/etcd-member-remove',
        kind: 'etcd-member-remove',
        host: 'cp1',
        attempt: 1,
        files: clientFiles(),
        params: { memberName: 'cp-9', etcdEndpoints: [clientUrl] },
        redact: [],
      };
      const run = new StepRun(step, ctx, new Redactor());
      await run.writeFiles();
      const tls = { ca: pem('ca.crt'), cert: pem('healthcheck-client.crt'), key: pem('healthcheck-client.key') };
      const before = await listEtcdMembers(run, clientUrl, tls);
      expect(before.map((m) => [m.name, m.isLearner])).toEqual(
        expect.arrayContaining([
          ['m1', false],
          ['', true],
        ]),
      );
      expect(before.every((m) => /^\d+$/.test(m.ID))).toBe(true);
      const report = await executeStep(step, ctx);
      expect(report, report.logTail).toMatchObject({ outcome: 'succeeded' });
      expect(report.logTail).toMatch(/removed etcd member \(unstarted learner\)/);
      const after = await listEtcdMembers(run, clientUrl, tls);
      expect(after.map((m) => m.name)).toEqual(['m1']);
      expect(ctl('member', 'list')).not.toContain('cp-9');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
