/** `POST /v1/backups` through `app.inject()`: signed over the declared hash, tied to a released etcd-snapshot step, audited. */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKUP_UPLOAD_PATH, HEADER_SNAPSHOT_STATUS } from '../../../protocol/index.ts';
import { buildApp } from '../../../server/app.ts';
import { BackupVault } from '../../../server/backup/vault.ts';
import type { StepRecord } from '../../../server/model.ts';
import { listAudit } from '../../../server/rollout/audit.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { fakeSnapshot, sha256Hex, uploadHeaders } from './backup-fixtures.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, enrollBody, FakeClock, FakeKubernetes, makeInputs } from './support.ts';

const apps: FastifyInstance[] = [];
const dirs: string[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const STEP = 'cp1/etcd-snapshot-1';

async function setup(options: { backup?: boolean; stepState?: StepRecord['state']; stepHost?: string; maxRetention?: number } = {}) {
  const plan = makePlan({ workers: 1 });
  if (options.backup !== false) plan.spec.etcd.backup = { schedule: '1d', intervalSeconds: 86_400, retention: options.maxRetention ?? 2 };
  const clock = new FakeClock(Date.UTC(2026, 11, 6, 5, 0, 0));
  const store = new MemoryStore();
  const dir = tempDir('kubeseed-backup-route-');
  dirs.push(dir);
  const backupVault = await BackupVault.open(dir, 'p', { N: 1024, r: 8, p: 1 });
  const app = buildApp(makeInputs(plan, { clock }), { store, kubernetes: new FakeKubernetes(), defaultWaitMs: 50, backupVault });
  apps.push(app);
  await app.ready();
  const agent = createAgent('cp1');
  expect((await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(agent) })).statusCode).toBe(200);
  const step: StepRecord = {
    id: STEP,
    host: options.stepHost ?? 'cp1',
    kind: 'etcd-snapshot',
    origin: 'plan',
    state: options.stepState ?? 'released',
    attempt: 1,
    failures: 0,
    results: {},
    seq: 0,
  };
  await store.commit({ puts: [{ key: `step/${STEP}`, value: step }] });
  const send = (bytes: Buffer, extra: Record<string, string> = {}, signedSha = sha256Hex(bytes)) =>
    app.inject({
      method: 'POST',
      url: BACKUP_UPLOAD_PATH,
      headers: { ...uploadHeaders(agent, BACKUP_UPLOAD_PATH, signedSha, STEP, clock.now()), ...extra },
      payload: bytes,
    });
  return { app, store, clock, backupVault, dir, send };
}

describe('POST /v1/backups', () => {
  it('stores the snapshot of a released etcd-snapshot step, prunes to the retention, audits it', async () => {
    const { send, backupVault, store, clock } = await setup({ maxRetention: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const snap = fakeSnapshot();
      const status = JSON.stringify({ tool: 'etcdctl', revision: 7 + i, totalKey: 5, hash: 12 });
      const res = await send(snap, { [HEADER_SNAPSHOT_STATUS]: status });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ id: expect.stringMatching(/-cp1$/), bytes: snap.length, sha256: sha256Hex(snap) });
      ids.push(res.json().id);
      clock.advance(3_600_000);
    }
    const kept = await backupVault.list();
    expect(kept.map((r) => r.id)).toEqual(ids.slice(1));
    expect(kept[1]!.status).toEqual({ tool: 'etcdctl', revision: 9, totalKey: 5, hash: 12 });
    const audit = listAudit(store).filter((e) => e.backup);
    expect(audit.map((e) => [e.host, e.step, e.backup!.id, e.backup!.pruned])).toEqual([
      ['cp1', STEP, ids[0], []],
      ['cp1', STEP, ids[1], []],
      ['cp1', STEP, ids[2], [ids[0]]],
    ]);
  });

  it('refuses bytes other than the signed ones (400) and keeps nothing', async () => {
    const { send, dir } = await setup();
    const res = await send(fakeSnapshot(), {}, sha256Hex(fakeSnapshot()));
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/not the signed/);
    expect(readdirSync(join(dir, 'backups'))).toEqual(['key.json']);
  });

  it('refuses a damaged snapshot (400) with etcd’s reason', async () => {
    const { send } = await setup();
    const snap = fakeSnapshot();
    snap[6000] = (snap[6000] ?? 0) ^ 1;
    const res = await send(snap);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/^integrity hash differs/);
  });

  it('401 when the signature does not cover the declared hash', async () => {
    const { send } = await setup();
    const snap = fakeSnapshot();
    const res = await send(snap, { 'x-kubeseed-content-sha256': sha256Hex(Buffer.from('other')) });
    expect(res.statusCode).toBe(401);
  });

  it('409 when no etcd-snapshot step of this host is released', async () => {
    for (const options of [{ stepState: 'succeeded' as const }, { stepHost: 'cp2' }]) {
      const { send } = await setup(options);
      const res = await send(fakeSnapshot());
      expect(res.statusCode).toBe(409);
      expect(res.json().message).toContain(`${STEP} is not an etcd-snapshot step released to cp1`);
      await apps.pop()!.close();
    }
  });

  it('409 when spec.etcd.backup is not set', async () => {
    const { send } = await setup({ backup: false });
    const res = await send(fakeSnapshot());
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toBe('spec.etcd.backup is not set: this coordinator keeps no etcd snapshots');
  });

  it('400 on a malformed status header', async () => {
    const { send } = await setup();
    const res = await send(fakeSnapshot(), { [HEADER_SNAPSHOT_STATUS]: '{"tool":"rm -rf"}' });
    expect(res.statusCode).toBe(400);
  });
});
