/**
 * The TypeScript seed ISO read by `isoinfo` (genisoimage package): volume label `cidata`, Joliet
 * and Rock Ridge detected, real names listed in both trees, and every file extracted byte-exactly.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeIso9660, writeNoCloudSeed } from '../../../generator/render/iso9660.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

const skip = skipUnless('validators', { commands: ['isoinfo', 'blkid'] });

const seed = {
  userData: '#cloud-config\nhostname: k8s1master1\nwrite_files:\n  - path: /etc/x\n    content: "ünïcode ✓"\n',
  metaData: 'instance-id: iid-k8s1master1\nlocal-hostname: k8s1master1\n',
  networkConfig: 'version: 2\nethernets:\n  eth0:\n    match: {macaddress: "52:54:00:12:34:56"}\n    set-name: eth0\n',
  timestamp: new Date('2026-03-04T05:06:07Z'),
};

function isoinfo(args: string[]): Buffer {
  return execFileSync('isoinfo', args, { maxBuffer: 64 << 20 });
}

function listedNames(listing: string): string[] {
  return listing
    .split('\n')
    .filter((l) => /^[-d]/.test(l))
    .map((l) => l.trim().split(/\s+/).at(-1) ?? '')
    .filter((n) => n !== '.' && n !== '..');
}

describe.skipIf(skip)('seed ISO read by isoinfo', () => {
  let dir = '';
  beforeAll(() => {
    dir = tempDir('ks-iso-');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the cidata label, Joliet and Rock Ridge', () => {
    const path = join(dir, 'seed.iso');
    writeFileSync(path, writeNoCloudSeed(seed));
    const d = isoinfo(['-d', '-i', path]).toString();
    expect(d).toContain('Volume id: cidata\n');
    expect(d).toContain('Joliet with UCS level 3 found');
    expect(d).toContain('Rock Ridge signatures version 1 found');
    expect(d).toContain('Logical block size is: 2048');
    // What udev/cloud-init's device probe sees (util-linux blkid, low-level probe of the file).
    expect(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'LABEL', path]).toString()).toBe('cidata\n');
    expect(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', path]).toString()).toBe('iso9660\n');
  });

  it('lists the real names with -R and -J and extracts the exact bytes', () => {
    const path = join(dir, 'seed-list.iso');
    writeFileSync(path, writeNoCloudSeed(seed));
    const expected = ['meta-data', 'network-config', 'user-data'];
    expect(listedNames(isoinfo(['-R', '-l', '-i', path]).toString())).toEqual(expected);
    expect(listedNames(isoinfo(['-J', '-l', '-i', path]).toString())).toEqual(expected);
    expect(listedNames(isoinfo(['-l', '-i', path]).toString())).toEqual(['META_DAT.;1', 'NETWORK_.;1', 'USER_DAT.;1']);
    const rr = isoinfo(['-R', '-l', '-i', path]).toString();
    expect(rr).toMatch(/-r--r--r--\s+1\s+0\s+0\s+\d+ Mar {2}4 2026 .* user-data/);
    for (const [name, text] of [
      ['user-data', seed.userData],
      ['meta-data', seed.metaData],
      ['network-config', seed.networkConfig],
    ] as const) {
      expect(isoinfo(['-R', '-x', `/${name}`, '-i', path]).equals(Buffer.from(text))).toBe(true);
      expect(isoinfo(['-J', '-x', `/${name}`, '-i', path]).equals(Buffer.from(text))).toBe(true);
    }
  });

  it('reads a root directory spanning several sectors and a multi-sector file', () => {
    const path = join(dir, 'big.iso');
    const big = Buffer.concat(Array.from({ length: 4000 }, (_, i) => createHash('sha256').update(String(i)).digest()));
    const parts = Array.from({ length: 60 }, (_, i) => ({
      name: `part-${String(i).padStart(2, '0')}.yaml`,
      content: Buffer.from(`n: ${i}\n`),
    }));
    writeFileSync(
      path,
      writeIso9660({ volumeId: 'cidata', files: [{ name: 'user-data', content: big }, ...parts], timestamp: seed.timestamp }),
    );
    const names = listedNames(isoinfo(['-R', '-l', '-i', path]).toString());
    expect(names).toHaveLength(61);
    expect(names).toContain('part-59.yaml');
    expect(isoinfo(['-R', '-x', '/user-data', '-i', path]).equals(big)).toBe(true);
    expect(isoinfo(['-J', '-x', '/part-42.yaml', '-i', path]).toString()).toBe('n: 42\n');
  });
});
