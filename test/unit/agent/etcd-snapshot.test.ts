/**
 * The etcd-snapshot executor with a scripted exec (which etcdctl exists, what it prints): tool
 * detection, the argv it runs, the check before upload, and that the file is gone afterwards
 * whatever happened. test/validators/etcd-backup.test.ts runs it with the real etcdctl.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecResult, HttpResponse } from '../../../agent/io.ts';
import { createRootFs, systemClock } from '../../../agent/node-io.ts';
import type { SnapshotUploadInput } from '../../../agent/snapshot-upload.ts';
import { CONTAINER_SNAPSHOT_PATH, parseSnapshotStatus } from '../../../agent/steps/etcd-snapshot.ts';
import { DEFAULT_STEP_TIMING, executeStep } from '../../../agent/steps/index.ts';
import type { ReleasedStep } from '../../../protocol/index.ts';
import { fakeSnapshot } from '../server/backup-fixtures.ts';
import { makeTempRoot } from './support.ts';

const roots: ReturnType<typeof makeTempRoot>[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) r.cleanup();
});

const STEP: ReleasedStep = {
  id: 'cp1/etcd-snapshot-1',
  kind: 'etcd-snapshot',
  host: 'cp1',
  attempt: 1,
  files: [],
  params: {
    nodeName: 'cp1',
    etcdEndpoint: 'https://127.0.0.1:2379',
    etcdClient: {
      caFile: '/etc/kubernetes/pki/etcd/ca.crt',
      certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
      keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
    },
  },
  redact: [],
} as ReleasedStep;

const ok = (output = ''): ExecResult => ({ code: 0, output, notFound: false, timedOut: false });
const missing: ExecResult = { code: null, output: '', notFound: true, timedOut: false };
const STATUS = '{"hash":3786767692,"revision":42,"totalKey":5,"totalSize":20480}';

/** A host whose programs answer per `tools`; `snapshot save` writes `snapshot` to the path it is given (below the root). */
function host(tools: { hostEtcdctl: boolean; etcdutl: boolean; container?: string }, snapshot: Buffer, response: HttpResponse) {
  const root = makeTempRoot('ks-snap-');
  roots.push(root);
  for (const f of ['ca.crt', 'healthcheck-client.crt', 'healthcheck-client.key']) root.write(`/etc/kubernetes/pki/etcd/${f}`, 'pem');
  // The agent's state directory and etcd's data directory exist on a host that runs this step.
  for (const dir of ['var/lib/kubeseed', 'var/lib/etcd']) mkdirSync(join(root.root, dir), { recursive: true });
  const calls: string[][] = [];
  const uploads: SnapshotUploadInput[] = [];
  let uploadedExisted = false;
  const fs = createRootFs(root.root);
  const exec = {
    async run(argv: readonly string[]): Promise<ExecResult> {
      calls.push([...argv]);
      const inContainer = argv[0] === 'crictl' && argv[1] === 'exec';
      const cmd = inContainer ? argv.slice(3) : argv;
      if (argv[0] === 'crictl' && argv[1] === 'ps') return tools.container ? ok(`${tools.container}\n`) : ok('');
      if (!inContainer && cmd[0] === 'etcdctl' && !tools.hostEtcdctl) return missing;
      if (cmd[0] === 'etcdutl' && !tools.etcdutl) return missing;
      if (cmd.includes('save')) {
        const target = cmd.at(-1)!;
        writeFileSync(inContainer ? join(root.root, target) : target, snapshot);
        return ok('Snapshot saved');
      }
      if (cmd.includes('status')) return ok(`{"level":"info","msg":"x"}\n${STATUS}\n`);
      return ok('etcdctl version: 3.4.23');
    },
  };
  const ctx = {
    fs,
    exec,
    net: {} as never,
    clock: systemClock,
    log: () => {},
    stateDir: '/var/lib/kubeseed',
    timing: DEFAULT_STEP_TIMING,
    uploadSnapshot: async (input: SnapshotUploadInput) => {
      uploads.push(input);
      uploadedExisted = existsSync(input.file);
      return response;
    },
  };
  return { root, ctx, calls, uploads, uploadedExisted: () => uploadedExisted };
}

const accepted: HttpResponse = { status: 200, body: { id: '20261206T050000Z-cp1', bytes: 1, sha256: 'x' } };

describe('etcd-snapshot', () => {
  it("uses the host's etcdctl with kubeadm's healthcheck client, etcdutl for status, uploads the checked file, deletes it", async () => {
    const snap = fakeSnapshot();
    const h = host({ hostEtcdctl: true, etcdutl: true }, snap, accepted);
    const report = await executeStep(STEP, h.ctx);
    expect(report.outcome, report.logTail).toBe('succeeded');
    const file = join(h.root.root, 'var/lib/kubeseed/etcd-snapshot.db');
    const pki = join(h.root.root, 'etc/kubernetes/pki/etcd');
    expect(h.calls.find((c) => c.includes('save'))).toEqual([
      'etcdctl',
      '--endpoints=https://127.0.0.1:2379',
      `--cacert=${pki}/ca.crt`,
      `--cert=${pki}/healthcheck-client.crt`,
      `--key=${pki}/healthcheck-client.key`,
      'snapshot',
      'save',
      file,
    ]);
    expect(h.calls.find((c) => c.includes('status'))).toEqual(['etcdutl', 'snapshot', 'status', file, '-w', 'json']);
    expect(h.uploads).toEqual([
      {
        file,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        stepId: STEP.id,
        status: { tool: 'etcdutl', revision: 42, totalKey: 5, hash: 3786767692 },
      },
    ]);
    expect(h.uploadedExisted()).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(report.logTail).toContain('uploaded: the coordinator keeps it as 20261206T050000Z-cp1');
  });

  it('Debian 12 (etcd 3.4): etcdctl answers status when there is no etcdutl', async () => {
    const h = host({ hostEtcdctl: true, etcdutl: false }, fakeSnapshot(), accepted);
    expect((await executeStep(STEP, h.ctx)).outcome).toBe('succeeded');
    expect(h.calls.find((c) => c.includes('status'))?.[0]).toBe('etcdctl');
    expect(h.uploads[0]?.status?.tool).toBe('etcdctl');
  });

  it("a kubeadm host without etcdctl: runs it in the etcd container, the file in etcd's data directory", async () => {
    const id = 'a1b2c3d4e5f60718293a4b5c';
    const h = host({ hostEtcdctl: false, etcdutl: true, container: id }, fakeSnapshot(), accepted);
    const report = await executeStep(STEP, h.ctx);
    expect(report.outcome, report.logTail).toBe('succeeded');
    expect(h.calls.find((c) => c.includes('save'))).toEqual([
      'crictl',
      'exec',
      id,
      'etcdctl',
      '--endpoints=https://127.0.0.1:2379',
      '--cacert=/etc/kubernetes/pki/etcd/ca.crt',
      '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt',
      '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key',
      'snapshot',
      'save',
      CONTAINER_SNAPSHOT_PATH,
    ]);
    expect(h.uploads[0]?.file).toBe(join(h.root.root, CONTAINER_SNAPSHOT_PATH));
    expect(existsSync(join(h.root.root, CONTAINER_SNAPSHOT_PATH))).toBe(false);
  });

  it('neither etcdctl nor an etcd container: a permanent failure that says what to install', async () => {
    const h = host({ hostEtcdctl: false, etcdutl: false }, fakeSnapshot(), accepted);
    const report = await executeStep(STEP, h.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'etcdctl-not-found', permanent: true });
    expect(report.logTail).toContain('apt-get install etcd-client');
  });

  it('a damaged snapshot is not uploaded, and is deleted', async () => {
    const snap = fakeSnapshot();
    snap[5000] = (snap[5000] ?? 0) ^ 1;
    const h = host({ hostEtcdctl: true, etcdutl: false }, snap, accepted);
    expect(await executeStep(STEP, h.ctx)).toMatchObject({ outcome: 'failed', reason: 'snapshot-damaged' });
    expect(h.uploads).toEqual([]);
    expect(existsSync(join(h.root.root, 'var/lib/kubeseed/etcd-snapshot.db'))).toBe(false);
  });

  it('a refusal by the coordinator fails the step with its message; 409 is permanent, 503 is retried', async () => {
    const refused = host({ hostEtcdctl: true, etcdutl: false }, fakeSnapshot(), {
      status: 409,
      body: { message: 'spec.etcd.backup is not set: this coordinator keeps no etcd snapshots' },
    });
    const report = await executeStep(STEP, refused.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'upload-409', permanent: true });
    expect(report.logTail).toContain('spec.etcd.backup is not set');
    expect(existsSync(join(refused.root.root, 'var/lib/kubeseed/etcd-snapshot.db'))).toBe(false);
    const busy = host({ hostEtcdctl: true, etcdutl: false }, fakeSnapshot(), { status: 503, body: { message: 'retry shortly' } });
    const retried = await executeStep(STEP, busy.ctx);
    expect(retried).toMatchObject({ outcome: 'failed', reason: 'upload-503' });
    expect(retried.permanent).toBeUndefined();
  });

  it('parses status output with log lines around it', () => {
    expect(parseSnapshotStatus(`{"level":"info"}\n${STATUS}`, 'etcdctl')).toEqual({
      tool: 'etcdctl',
      revision: 42,
      totalKey: 5,
      hash: 3786767692,
    });
    expect(parseSnapshotStatus('Error: snapshot file not found', 'etcdutl')).toBeUndefined();
  });
});
