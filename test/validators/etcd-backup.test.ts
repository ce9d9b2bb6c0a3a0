/**
 * Backup → restore with the real programs (issue 22, "Prove it"): keys written to a real etcd
 * (Debian's 3.4, TLS with client certificates, on 127.0.0.1); the agent's etcd-snapshot step runs
 * the real `etcdctl snapshot save` and `snapshot status` with kubeadm's healthcheck-client paths
 * and streams the file over HTTPS to the REAL coordinator endpoint (startCoordinator on loopback,
 * the agent's pinned undici client, the signed upload); the coordinator checks and seals it; the
 * operator's `kubeseed backups export` decrypts it; `etcdctl snapshot restore` makes a fresh data
 * directory and a fresh etcd started on it serves every key intact. The restore is the procedure
 * docs/day2.md gives ("Backing up and restoring etcd"), step for step.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPinnedHttp } from '../../agent/http.ts';
import { createNodeExec, createNodeNet, createRootFs, cryptoRandom, systemClock } from '../../agent/node-io.ts';
import { generateAgentKey } from '../../agent/signing.ts';
import { signedSnapshotUpload } from '../../agent/snapshot-upload.ts';
import { DEFAULT_STEP_TIMING, executeStep } from '../../agent/steps/index.ts';
import { ETCD_HEALTHCHECK_CLIENT } from '../../protocol/host-paths.ts';
import type { ReleasedStep } from '../../protocol/index.ts';
import { BackupVault } from '../../server/backup/vault.ts';
import type { StepRecord } from '../../server/model.ts';
import { listAudit } from '../../server/rollout/audit.ts';
import { type RunningCoordinator, startCoordinator } from '../../server/serve.ts';
import { MemoryStore } from '../../server/store/index.ts';
import { freePort, startTestEtcd, type TestEtcd } from '../support/etcd-server.ts';
import { skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';
import { runMain } from '../unit/cli/run-main.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { createTestTls, credentialOf, FakeKubernetes, makeInputs } from '../unit/server/support.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });
const PASSPHRASE = 'backup test passphrase';
const STEP_ID = 'cp1/etcd-snapshot-1';
/** Keys as Kubernetes writes them, and values with bytes a careless copy would mangle. */
const KEYS: Record<string, string> = {
  '/registry/secrets/kube-system/bootstrap-token-abcdef': 'token-secret-0123456789abcdef',
  '/registry/configmaps/default/kube-root-ca.crt': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  '/registry/namespaces/default': 'ünïcödé \t tab',
};

let source: TestEtcd | undefined;
let coordinator: RunningCoordinator | undefined;
let restored: ChildProcess | undefined;
const dirs: string[] = [];

afterAll(async () => {
  if (restored?.pid && restored.exitCode === null) restored.kill('SIGKILL');
  await coordinator?.close();
  source?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const tmp = (prefix: string) => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
};

/** etcdctl against the source member, with its client certificate. */
function etcdctl(args: string[]): string {
  const d = source!.dir;
  return execFileSync(
    'etcdctl',
    [
      `--endpoints=${source!.clientUrl}`,
      `--cacert=${join(d, 'ca.crt')}`,
      `--cert=${join(d, 'healthcheck-client.crt')}`,
      `--key=${join(d, 'healthcheck-client.key')}`,
      ...args,
    ],
    { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' },
  );
}

describe.skipIf(skip)('etcd backup → restore with the real etcd, etcdctl and coordinator', () => {
  let stateDir = '';
  let agentRoot = '';

  beforeAll(async () => {
    source = await startTestEtcd('ks-backup-src-');
    for (const [key, value] of Object.entries(KEYS)) etcdctl(['put', '--', key, value]);
    // The host: kubeadm's healthcheck client where the step's params say, below the agent's root.
    agentRoot = tmp('ks-backup-host-');
    mkdirSync(join(agentRoot, 'etc/kubernetes/pki/etcd'), { recursive: true });
    mkdirSync(join(agentRoot, 'var/lib/kubeseed'), { recursive: true });
    copyFileSync(join(source.dir, 'ca.crt'), join(agentRoot, ETCD_HEALTHCHECK_CLIENT.caFile));
    copyFileSync(join(source.dir, 'healthcheck-client.crt'), join(agentRoot, ETCD_HEALTHCHECK_CLIENT.certFile));
    copyFileSync(join(source.dir, 'healthcheck-client.key'), join(agentRoot, ETCD_HEALTHCHECK_CLIENT.keyFile));
    stateDir = tmp('ks-backup-state-');
  }, 30_000);

  it('takes, uploads, exports and restores a snapshot with every key intact', async () => {
    // The coordinator, as serve builds it: spec.etcd.backup set, the vault in <state>/backups.
    const plan = makePlan({ workers: 0 });
    plan.spec.etcd.backup = { schedule: '6h', intervalSeconds: 21_600, retention: 3 };
    const store = new MemoryStore();
    const tls = createTestTls();
    coordinator = await startCoordinator(makeInputs(plan, { tls }), {
      store,
      kubernetes: new FakeKubernetes(),
      listen: { host: '127.0.0.1', port: 0 },
      logger: false,
      backupVault: await BackupVault.open(stateDir, PASSPHRASE),
    });
    // cp1 enrolls as the agent does, then holds a released etcd-snapshot step (the day-2 scheduler's part).
    const key = generateAgentKey();
    const http = createPinnedHttp([coordinator.url], tls.ca);
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
          machineId: 'a'.repeat(32),
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
    const record: StepRecord = {
      id: STEP_ID,
      host: 'cp1',
      kind: 'etcd-snapshot',
      origin: 'plan',
      state: 'released',
      attempt: 1,
      failures: 0,
      results: {},
      seq: 0,
    };
    await store.commit({ puts: [{ key: `step/${STEP_ID}`, value: record }] });

    // The agent's step, real etcdctl, real upload.
    const step = {
      id: STEP_ID,
      kind: 'etcd-snapshot',
      host: 'cp1',
      attempt: 1,
      files: [],
      params: { nodeName: 'cp1', etcdEndpoint: source!.clientUrl, etcdClient: ETCD_HEALTHCHECK_CLIENT },
      redact: [],
    } as ReleasedStep;
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
    await http.close();
    expect(report.outcome, report.logTail).toBe('succeeded');
    expect(report.logTail).toMatch(/snapshot status: etcd(ctl|utl)/);
    expect(existsSync(join(agentRoot, 'var/lib/kubeseed/etcd-snapshot.db'))).toBe(false);

    // Stored: listed with the revision `snapshot status` gave on the host, audited.
    const listed = await runMain(['backups', '--state', stateDir, '-o', 'json'], { cwd: stateDir });
    expect(listed.code, listed.err).toBe(0);
    const [backup] = JSON.parse(listed.out).backups as Array<{ id: string; host: string; status: { revision: number; totalKey: number } }>;
    expect(backup).toMatchObject({ host: 'cp1', verified: true });
    const revision = Number(/"revision":(\d+)/.exec(etcdctl(['get', '/registry/namespaces/default', '-w', 'json']))![1]);
    expect(backup!.status.revision).toBe(revision);
    expect(
      listAudit(store)
        .filter((e) => e.backup)
        .map((e) => e.backup!.id),
    ).toEqual([backup!.id]);

    // Export as the operator does (the real etcdctl runs `snapshot status` on it).
    const exported = await runMain(['backups', 'export', backup!.id, '--state', stateDir, '--out', 'snapshot.db'], {
      cwd: stateDir,
      env: { KUBESEED_PASSPHRASE: PASSPHRASE, PATH: process.env.PATH },
    });
    expect(exported.code, exported.err).toBe(0);
    expect(exported.out).toMatch(new RegExp(`etcd(ctl|utl) snapshot status: revision ${revision}, `));

    // Restore into a fresh data directory and start a fresh etcd on it (docs/day2.md, the same flags).
    const fresh = tmp('ks-backup-fresh-');
    const [client, peer] = [await freePort(), await freePort()];
    const peerUrl = `http://127.0.0.1:${peer}`;
    const clientUrl = `http://127.0.0.1:${client}`;
    execFileSync(
      'etcdctl',
      [
        'snapshot',
        'restore',
        join(stateDir, 'snapshot.db'),
        '--name=restored',
        `--data-dir=${join(fresh, 'data')}`,
        `--initial-cluster=restored=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        '--initial-cluster-token=restored-from-backup',
      ],
      { env: { ...process.env, ETCDCTL_API: '3' }, stdio: 'pipe' },
    );
    restored = spawn(
      'etcd',
      [
        '--name=restored',
        `--data-dir=${join(fresh, 'data')}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--listen-metrics-urls=http://127.0.0.1:${await freePort()}`,
      ],
      { stdio: 'ignore' },
    );
    const read = (key: string) =>
      execFileSync('etcdctl', [`--endpoints=${clientUrl}`, '--dial-timeout=1s', 'get', key, '--print-value-only'], {
        env: { ...process.env, ETCDCTL_API: '3' },
        encoding: 'utf8',
      });
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        execFileSync('etcdctl', [`--endpoints=${clientUrl}`, '--dial-timeout=1s', 'endpoint', 'health'], {
          env: { ...process.env, ETCDCTL_API: '3' },
          stdio: 'ignore',
        });
        break;
      } catch {
        if (Date.now() > deadline || restored.exitCode !== null) throw new Error('the restored etcd did not become healthy');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    for (const [key, value] of Object.entries(KEYS)) expect(read(key)).toBe(`${value}\n`);
    // Nothing of the source cluster's membership came along: one member, the restored one.
    const members = execFileSync('etcdctl', [`--endpoints=${clientUrl}`, 'member', 'list'], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    });
    expect(members.trim().split('\n')).toEqual([expect.stringContaining(', started, restored, ')]);
    // The sealed file in the state directory holds none of the values in the clear.
    const sealed = readFileSync(join(stateDir, 'backups', `${backup!.id}.snapshot`));
    expect(sealed.includes(Buffer.from(KEYS['/registry/secrets/kube-system/bootstrap-token-abcdef']!))).toBe(false);
    expect(
      readFileSync(join(stateDir, 'snapshot.db')).includes(Buffer.from(KEYS['/registry/secrets/kube-system/bootstrap-token-abcdef']!)),
    ).toBe(true);
  }, 90_000);
});
