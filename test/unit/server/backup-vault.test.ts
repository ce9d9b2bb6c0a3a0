import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { SnapshotIntegrity } from '../../../protocol/snapshot-integrity.ts';
import { BackupRefused, BackupVault } from '../../../server/backup/vault.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { fakeSnapshot, sha256Hex } from './backup-fixtures.ts';

const FAST_KDF = { N: 1024, r: 8, p: 1 };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const stateDir = () => {
  const d = tempDir('kubeseed-vault-');
  dirs.push(d);
  return d;
};

/** Feeds `bytes` in chunks of `size` (the trailer straddles chunk edges). */
function check(bytes: Buffer, size = 1000) {
  const integrity = new SnapshotIntegrity();
  for (let i = 0; i < bytes.length; i += size) integrity.update(bytes.subarray(i, i + size));
  return integrity.result();
}

const T0 = Date.UTC(2026, 11, 6, 5, 0, 0);
const upload = (vault: BackupVault, bytes: Buffer, at = T0, host = 'cp1') =>
  vault.receive({ host, step: `${host}/etcd-snapshot-1`, at, body: Readable.from([bytes]), sha256: sha256Hex(bytes), maxBytes: 1 << 20 });

describe('SnapshotIntegrity: etcd’s appended SHA-256 and the bbolt header, checked while streaming', () => {
  it('accepts an intact snapshot in any chunking', () => {
    const snap = fakeSnapshot();
    for (const size of [1, 31, 32, 33, 4096, snap.length])
      expect(check(snap, size)).toEqual({ bytes: snap.length, sha256: sha256Hex(snap) });
  });
  it('refuses one flipped byte in the database', () => {
    const snap = fakeSnapshot();
    snap[5000] = (snap[5000] ?? 0) ^ 1;
    expect(check(snap).problem).toMatch(/^integrity hash differs/);
  });
  it('refuses a file without the hash (copied from member/snap/db)', () => {
    expect(check(fakeSnapshot().subarray(0, 4 * 4096)).problem).toMatch(/^no integrity hash/);
  });
  it('refuses a cut-short snapshot', () => {
    expect(check(fakeSnapshot().subarray(0, 4 * 4096 + 20)).problem).toMatch(/^no integrity hash/);
  });
  it('refuses bytes that are not a bbolt database', () => {
    const snap = fakeSnapshot();
    snap.writeUInt32LE(0, 16);
    expect(check(snap).problem).toBe('not an etcd snapshot: no bbolt database header');
  });
});

describe('BackupVault', () => {
  it('stores a snapshot sealed (no plaintext on disk), lists it, exports the same bytes', async () => {
    const dir = stateDir();
    const vault = await BackupVault.open(dir, 'pass phrase', FAST_KDF);
    const snap = fakeSnapshot();
    const record = await upload(vault, snap);
    expect(record).toMatchObject({ id: '20261206T050000Z-cp1', host: 'cp1', bytes: snap.length, sha256: sha256Hex(snap), verified: true });
    const stored = readFileSync(join(dir, 'backups', `${record.id}.snapshot`));
    expect(stored.includes(snap.subarray(100, 200))).toBe(false);
    expect(await vault.list()).toEqual([record]);
    const out = join(dir, 'restored.db');
    await vault.export(record.id, out);
    expect(readFileSync(out).equals(snap)).toBe(true);
    // Another process with the same passphrase opens it; without one it can list but not export.
    const again = await BackupVault.open(dir, 'pass phrase', FAST_KDF);
    await again.export(record.id, join(dir, 'again.db'));
    await expect(BackupVault.open(dir, undefined)).rejects.toThrow(/set KUBESEED_PASSPHRASE/);
    await expect(BackupVault.open(dir, 'wrong', FAST_KDF)).rejects.toThrow(/cannot be decrypted with this KUBESEED_PASSPHRASE/);
  });

  it('refuses to store without a passphrase', async () => {
    const vault = await BackupVault.open(stateDir(), undefined);
    await expect(upload(vault, fakeSnapshot())).rejects.toMatchObject({ reason: 'no-passphrase' });
  });

  it('keeps nothing of a refused upload: altered, over the limit, or not the signed bytes', async () => {
    const dir = stateDir();
    const vault = await BackupVault.open(dir, 'p', FAST_KDF);
    const bad = fakeSnapshot();
    bad[9000] = (bad[9000] ?? 0) ^ 0xff;
    await expect(upload(vault, bad)).rejects.toMatchObject({ reason: 'not-a-snapshot' });
    const big = fakeSnapshot(300);
    await expect(
      vault.receive({ host: 'cp1', step: 's', at: T0, body: Readable.from([big]), sha256: sha256Hex(big), maxBytes: 100_000 }),
    ).rejects.toMatchObject({ reason: 'too-large' });
    const snap = fakeSnapshot();
    await expect(
      vault.receive({ host: 'cp1', step: 's', at: T0, body: Readable.from([snap]), sha256: sha256Hex(bad), maxBytes: 1 << 20 }),
    ).rejects.toMatchObject({ reason: 'hash-mismatch' });
    expect(readdirSync(join(dir, 'backups')).sort()).toEqual(['key.json']);
  });

  it('an altered or renamed sealed file does not export, and leaves no output', async () => {
    const dir = stateDir();
    const vault = await BackupVault.open(dir, 'p', FAST_KDF);
    const record = await upload(vault, fakeSnapshot());
    const path = join(dir, 'backups', `${record.id}.snapshot`);
    const bytes = readFileSync(path);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 1;
    writeFileSync(path, bytes);
    const out = join(dir, 'out.db');
    await expect(vault.export(record.id, out)).rejects.toThrow(BackupRefused);
    expect(readdirSync(dir)).not.toContain('out.db');
    expect(readdirSync(dir)).not.toContain('out.db.partial');
    await expect(vault.export('20990101T000000Z-nope', out)).rejects.toMatchObject({ reason: 'unknown-id' });
  });

  it('retention deletes the oldest beyond the count', async () => {
    const vault = await BackupVault.open(stateDir(), 'p', FAST_KDF);
    for (let i = 0; i < 4; i++) await upload(vault, fakeSnapshot(1), T0 + i * 3_600_000);
    expect(await vault.prune(2)).toEqual(['20261206T050000Z-cp1', '20261206T060000Z-cp1']);
    expect((await vault.list()).map((r) => r.id)).toEqual(['20261206T070000Z-cp1', '20261206T080000Z-cp1']);
  });

  it('a second upload from one host in the same second is refused, not overwritten', async () => {
    const vault = await BackupVault.open(stateDir(), 'p', FAST_KDF);
    await upload(vault, fakeSnapshot(1));
    await expect(upload(vault, fakeSnapshot(1))).rejects.toMatchObject({ reason: 'exists' });
  });
});
