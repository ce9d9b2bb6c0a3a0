/**
 * A scheduled etcd snapshot end to end (spec.etcd.backup, ADR 0044): the coordinator as serve
 * builds it (startCoordinator on loopback, the real buildStep, the vault in <state>/backups) holds
 * a finished rollout; cp1's agent enrolls over HTTPS and asks `GET /v1/next` as an idle agent
 * does — and nobody inserts a step: the scheduler finds a snapshot due (none taken yet) and
 * releases `cp1/snapshot-<UTC stamp>` to it. The agent's etcd-snapshot step runs the real
 * `etcdctl snapshot save` against a real etcd (Debian's 3.4, TLS with kubeadm's healthcheck-client
 * paths) and streams the file to `POST /v1/backups`; its report finishes the step, the snapshot is
 * listed by `kubeseed backups`, audited, and the host is done again with nothing more due.
 * The one deviation from a host: the step's etcd endpoint is the test etcd's port, not 2379.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPinnedHttp } from '../../agent/http.ts';
import { createNodeExec, createNodeNet, createRootFs, cryptoRandom, systemClock } from '../../agent/node-io.ts';
import { generateAgentKey, signRequest } from '../../agent/signing.ts';
import { signedSnapshotUpload } from '../../agent/snapshot-upload.ts';
import { DEFAULT_STEP_TIMING, executeStep } from '../../agent/steps/index.ts';
import { buildStep } from '../../generator/plan/build-step.ts';
import { ETCD_HEALTHCHECK_CLIENT } from '../../protocol/host-paths.ts';
import type { NextResponse, ReleasedStep } from '../../protocol/index.ts';
import { BackupVault } from '../../server/backup/vault.ts';
import { createStepRecord } from '../../server/model.ts';
import { listAudit } from '../../server/rollout/audit.ts';
import { type RunningCoordinator, startCoordinator } from '../../server/serve.ts';
import { MemoryStore } from '../../server/store/index.ts';
import { startTestEtcd, type TestEtcd } from '../support/etcd-server.ts';
import { skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';
import { runMain } from '../unit/cli/run-main.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { createTestTls, credentialOf, FakeKubernetes, makeInputs } from '../unit/server/support.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });
const PASSPHRASE = 'scheduled backup test passphrase';

let etcd: TestEtcd | undefined;
let coordinator: RunningCoordinator | undefined;
const dirs: string[] = [];
const tmp = (prefix: string) => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
};

afterAll(async () => {
  await coordinator?.close();
  etcd?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(skip)('a scheduled etcd snapshot, released by the coordinator itself', () => {
  let agentRoot = '';
  beforeAll(async () => {
    etcd = await startTestEtcd('ks-backup-sched-');
    agentRoot = tmp('ks-backup-sched-host-');
    mkdirSync(join(agentRoot, 'etc/kubernetes/pki/etcd'), { recursive: true });
    mkdirSync(join(agentRoot, 'var/lib/kubeseed'), { recursive: true });
    copyFileSync(join(etcd.dir, 'ca.crt'), join(agentRoot, ETCD_HEALTHCHECK_CLIENT.caFile));
    copyFileSync(join(etcd.dir, 'healthcheck-client.crt'), join(agentRoot, ETCD_HEALTHCHECK_CLIENT.certFile));
    copyFileSync(join(etcd.dir, 'healthcheck-client.key'), join(agentRoot, ETCD_HEALTHCHECK_CLIENT.keyFile));
  }, 30_000);

  it('due at once after the rollout: released to the idle agent, taken with etcdctl, uploaded, listed', async () => {
    const stateDir = tmp('ks-backup-sched-state-');
    const plan = makePlan({ workers: 0 });
    plan.spec.etcd.backup = { schedule: '6h', intervalSeconds: 21_600, retention: 3 };
    // The rollout finished before this coordinator started: every plan step succeeded.
    const store = new MemoryStore();
    const puts = plan.steps.map((s) => ({
      key: `step/${s.id}`,
      value: { ...createStepRecord(s.id, s.host, s.kind, 'plan', 0), state: 'succeeded', attempt: 1, finishedAt: Date.now() - 3_600_000 },
    }));
    await store.commit({ puts });
    const tls = createTestTls();
    coordinator = await startCoordinator(makeInputs(plan, { tls, buildStep }), {
      store,
      kubernetes: new FakeKubernetes(),
      listen: { host: '127.0.0.1', port: 0 },
      logger: false,
      backupVault: await BackupVault.open(stateDir, PASSPHRASE),
    });

    const key = generateAgentKey();
    const http = createPinnedHttp([coordinator.url], tls.ca);
    const signed = (method: 'GET' | 'POST', path: string, body?: unknown) => {
      const payload = body === undefined ? '' : JSON.stringify(body);
      const headers = signRequest({
        key,
        host: 'cp1',
        method,
        pathWithQuery: path,
        body: payload,
        now: Date.now(),
        nonce: cryptoRandom.hex(16),
      });
      return http.request({ method, path, headers, timeoutMs: 20_000, ...(body === undefined ? {} : { body: payload }) });
    };
    try {
      const enrolled = await http.request({
        method: 'POST',
        path: '/v1/enroll',
        timeoutMs: 10_000,
        body: {
          protocol: 1,
          credential: credentialOf('cp1'),
          host: 'cp1',
          publicKey: key.publicKeyPem,
          facts: {
            machineId: 'b'.repeat(32),
            smbiosUuid: '',
            macs: [],
            hostname: 'cp1',
            arch: 'amd64',
            os: 'debian-12',
            clock: Date.now(),
            agentVersion: 'test',
          },
        },
      });
      expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(200);

      // The idle agent's poll: the scheduler releases the snapshot it finds due.
      const next = await signed('GET', '/v1/next?wait=5000');
      expect(next.status, JSON.stringify(next.body)).toBe(200);
      const released = (next.body as NextResponse).step!;
      expect(released).toMatchObject({ kind: 'etcd-snapshot', host: 'cp1', attempt: 1 });
      expect(released.id).toMatch(/^cp1\/snapshot-\d{8}T\d{6}Z$/);
      expect(released.params).toMatchObject({ etcdEndpoint: 'https://127.0.0.1:2379', etcdClient: ETCD_HEALTHCHECK_CLIENT });

      const step = { ...released, params: { ...released.params, etcdEndpoint: etcd!.clientUrl } } as ReleasedStep;
      const report = await executeStep(step, {
        fs: createRootFs(agentRoot),
        exec: createNodeExec(),
        net: createNodeNet(),
        clock: systemClock,
        log: () => {},
        stateDir: '/var/lib/kubeseed',
        timing: DEFAULT_STEP_TIMING,
        uploadSnapshot: signedSnapshotUpload(http, { key, host: 'cp1' }, systemClock, cryptoRandom),
      });
      expect(report.outcome, report.logTail).toBe('succeeded');
      const answered = await signed('POST', '/v1/report', { ...report, stepId: step.id, attempt: step.attempt });
      expect(answered.status, JSON.stringify(answered.body)).toBe(200);

      // Finished like any step, done again, and nothing more due for 6 h.
      const status = coordinator.app.coordinator.status();
      const cp1 = status.hosts.find((h) => h.name === 'cp1')!;
      expect(cp1).toMatchObject({ done: true, failed: false, currentStep: null });
      expect(coordinator.app.coordinator.stepRecord(step.id)).toMatchObject({ state: 'succeeded', origin: 'snapshot' });
      const again = await signed('GET', '/v1/next?wait=0');
      expect(again.body).toMatchObject({ step: null, done: true });

      const listed = await runMain(['backups', '--state', stateDir, '-o', 'json'], { cwd: stateDir });
      expect(listed.code, listed.err).toBe(0);
      const backups = JSON.parse(listed.out).backups as Array<{ id: string; host: string; step: string; verified: boolean }>;
      expect(backups).toEqual([expect.objectContaining({ host: 'cp1', step: step.id, verified: true })]);
      expect(
        listAudit(store)
          .filter((e) => e.backup)
          .map((e) => e.step),
      ).toEqual([step.id]);
    } finally {
      await http.close();
    }
  }, 90_000);
});
