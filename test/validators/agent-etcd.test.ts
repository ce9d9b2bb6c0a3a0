/**
 * The agent's native etcd client against a real etcd (Debian's 3.4) on 127.0.0.1 with TLS and
 * client-certificate auth: etcd-start's health check of every endpoint, the JSON-gateway member
 * list the stacked-join voter check reads, and etcd-member-remove of an unstarted learner — the
 * member a failed control-plane join leaves behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeExec, createNodeNet, createRootFs, systemClock } from '../../agent/node-io.ts';
import { listEtcdMembers } from '../../agent/steps/etcd.ts';
import { DEFAULT_STEP_TIMING, executeStep as executeReleasedStep, type StepContext, StepRun } from '../../agent/steps/index.ts';
import { doubleEnv, readDoubleLog } from '../../doubles/index.ts';
import { Redactor } from '../../protocol/redact.ts';
import type { ReleasedStep } from '../../protocol/wire.ts';
import { freePort, startTestEtcd, type TestEtcd } from '../support/etcd-server.ts';
import { skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';
import { type WireStep, wireStep } from '../support/wire-step.ts';

/** Steps as tests write them (loose params, see test/support/wire-step.ts). */
const executeStep = (step: WireStep | ReleasedStep, ctx: StepContext) => executeReleasedStep(wireStep(step as WireStep), ctx);

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });

let server: TestEtcd | undefined;
let dir = '';
let clientUrl = '';
const pem = (name: string) => server!.pem(name);

beforeAll(async () => {
  if (skip) return;
  server = await startTestEtcd('ks-agent-etcd-');
  ({ dir, clientUrl } = server);
}, 30_000);

afterAll(() => server?.stop());

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
    const root = tempDir('ks-agent-etcd-root-');
    try {
      // The user-data writes the member's unit (generator/plan/host-files.ts); the systemctl double needs it like systemd.
      mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
      writeFileSync(join(root, 'etc/systemd/system/etcd.service'), '[Service]\nExecStart=/usr/local/bin/etcd\n');
      const step: WireStep = {
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
    const root = tempDir('ks-agent-etcd-root-');
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
      const step: WireStep = {
        id: 'cp1/etcd-member-remove',
        kind: 'etcd-member-remove',
        host: 'cp1',
        attempt: 1,
        files: clientFiles(),
        params: { memberName: 'cp-9', etcdEndpoints: [clientUrl] },
        redact: [],
      };
      const run = new StepRun(wireStep(step), ctx, new Redactor());
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
