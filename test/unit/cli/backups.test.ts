/**
 * `kubeseed backups` lists the snapshots from their metadata (no passphrase), `backups export`
 * decrypts one with KUBESEED_PASSPHRASE to the exact bytes uploaded, refuses without it or with
 * another, and never overwrites a file unasked.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupVault } from '../../../server/backup/vault.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { fakeSnapshot, sha256Hex } from '../server/backup-fixtures.ts';
import { runMain } from './run-main.ts';

const onPath = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

let dir = '';
const snap = fakeSnapshot(8);
const ID = '20261206T050000Z-etcd1';

beforeAll(async () => {
  dir = tempDir('ks-backups-');
  const vault = await BackupVault.open(join(dir, 'state'), 'secret', { N: 1024, r: 8, p: 1 });
  await vault.receive({
    host: 'etcd1',
    step: 'etcd1/etcd-snapshot-1',
    at: Date.UTC(2026, 11, 6, 5, 0, 0),
    body: Readable.from([snap]),
    sha256: sha256Hex(snap),
    maxBytes: 1 << 20,
    status: { tool: 'etcdctl', revision: 42, totalKey: 7, hash: 1 },
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kubeseed backups', () => {
  it('lists host, time, size, revision and verification without a passphrase', async () => {
    const r = await runMain(['backups', '--state', 'state', '-o', 'json'], { cwd: dir });
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).backups).toEqual([
      {
        id: ID,
        host: 'etcd1',
        step: 'etcd1/etcd-snapshot-1',
        takenAt: '2026-12-06T05:00:00.000Z',
        bytes: snap.length,
        sha256: sha256Hex(snap),
        verified: true,
        status: { tool: 'etcdctl', revision: 42, totalKey: 7, hash: 1 },
      },
    ]);
    const text = await runMain(['backups', '--state', 'state'], { cwd: dir });
    expect(text.out).toMatch(/^ID\s+HOST\s+TAKEN\s+SIZE\s+REVISION\s+KEYS\s+VERIFIED/);
    expect(text.out).toMatch(new RegExp(`${ID}\\s+etcd1\\s+2026-12-06T05:00:00.000Z\\s+0.0 MiB\\s+42\\s+7\\s+hash \\+ etcdctl status`));
  });

  it('an empty state says where it looked and what turns backups on', async () => {
    const r = await runMain(['backups', '--state', 'nowhere'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.out).toContain('spec.etcd.backup sets how often');
  });

  it('export writes the exact snapshot (0600), checked; says so when no etcdutl/etcdctl is here', async () => {
    const r = await runMain(['backups', 'export', ID, '--state', 'state', '--out', 'snap.db', '-o', 'json'], {
      cwd: dir,
      env: { KUBESEED_PASSPHRASE: 'secret', PATH: join(dir, 'no-tools') },
    });
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(dir, 'snap.db')).equals(snap)).toBe(true);
    expect(statSync(join(dir, 'snap.db')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(r.out)).toMatchObject({ id: ID, bytes: snap.length, sha256: sha256Hex(snap), status: { tool: null } });
  });

  it.skipIf(!onPath('etcdctl'))('export runs the real `snapshot status`: a file etcd cannot read is refused with its words', async () => {
    // The hand-built snapshot has etcd's hash but not a full bbolt meta page: the real etcdctl refuses it.
    const r = await runMain(['backups', 'export', ID, '--state', 'state', '--out', 'real.db'], {
      cwd: dir,
      env: { KUBESEED_PASSPHRASE: 'secret', PATH: process.env.PATH },
    });
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/etcd(ctl|utl) snapshot status .* failed: .*version mismatch/)]);
  });

  it('refuses: no passphrase, a wrong one, an unknown id, an existing file, no --out', async () => {
    const exportTo = (out: string, env: NodeJS.ProcessEnv, id = ID) =>
      runMain(['backups', 'export', id, '--state', 'state', '--out', out], { cwd: dir, env });
    let r = await exportTo('a.db', {});
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('set KUBESEED_PASSPHRASE')]);
    r = await exportTo('a.db', { KUBESEED_PASSPHRASE: 'other' });
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('cannot be decrypted with this KUBESEED_PASSPHRASE')]);
    r = await exportTo('a.db', { KUBESEED_PASSPHRASE: 'secret' }, '20990101T000000Z-x');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('`kubeseed backups` lists them')]);
    writeFileSync(join(dir, 'taken.db'), 'x');
    r = await exportTo('taken.db', { KUBESEED_PASSPHRASE: 'secret' });
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('exists; pass --force')]);
    r = await runMain(['backups', 'export', ID, '--state', 'state'], { cwd: dir, env: { KUBESEED_PASSPHRASE: 'secret' } });
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('needs --out FILE')]);
  });

  it('has a help page from the command table', async () => {
    const r = await runMain(['help', 'backups'], { cwd: dir });
    expect(r.out).toContain('Usage: kubeseed backups [export] [ID]');
    expect(r.out).toContain('--out FILE');
  });
});
