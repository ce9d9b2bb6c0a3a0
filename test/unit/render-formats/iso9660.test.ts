import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toIsoLevel1Name, writeIso9660, writeNoCloudSeed } from '../../../generator/render/iso9660.ts';
import { readIso } from './iso-reader.ts';

const T = new Date('2026-03-04T05:06:07Z');
const seed = {
  userData: '#cloud-config\nhostname: k8s1master1\nruncmd:\n  - [echo, hi]\n',
  metaData: 'instance-id: iid-k8s1master1\nlocal-hostname: k8s1master1\n',
  networkConfig: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n',
  timestamp: T,
};

describe('writeIso9660', () => {
  it('writes a cidata volume whose three trees name the files correctly', () => {
    const img = writeNoCloudSeed(seed);
    expect(img.length % 2048).toBe(0);
    const iso = readIso(img);
    expect(iso.volumeId).toBe('cidata');
    expect(iso.jolietVolumeId).toBe('cidata');
    expect(iso.jolietEscape).toBe('%/E');
    expect(iso.totalSectors * 2048).toBe(img.length);
    expect(iso.rockRidgeExtension).toBe('RRIP_1991A');

    const files = iso.primary.filter((e) => !e.dir);
    expect(files.map((e) => e.id)).toEqual(['META_DAT.;1', 'NETWORK_.;1', 'USER_DAT.;1']);
    expect(files.map((e) => e.rrName)).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(files.every((e) => e.rrMode === 0o100444)).toBe(true);
    const dot = iso.primary[0];
    expect(dot?.id).toBe('.');
    expect(dot?.suspSignatures.slice(0, 1)).toEqual(['SP']);
    expect(dot?.suspSignatures).toContain('CE');
    expect(dot?.suspSignatures).toContain('ER');

    const jfiles = iso.joliet.filter((e) => !e.dir);
    expect(jfiles.map((e) => e.id)).toEqual(['meta-data', 'network-config', 'user-data']);

    const byName = (n: string) => files.find((e) => e.rrName === n);
    for (const [name, text] of [
      ['user-data', seed.userData],
      ['meta-data', seed.metaData],
      ['network-config', seed.networkConfig],
    ] as const) {
      const e = byName(name);
      expect(e && iso.read(e).toString('utf8')).toBe(text);
      const j = jfiles.find((x) => x.id === name);
      expect(j && iso.read(j).toString('utf8')).toBe(text);
    }
  });

  it('is deterministic and depends on the timestamp passed in', () => {
    const a = writeNoCloudSeed(seed);
    expect(writeNoCloudSeed(seed).equals(a)).toBe(true);
    expect(writeNoCloudSeed({ ...seed, timestamp: new Date('2027-01-01T00:00:00Z') }).equals(a)).toBe(false);
    // Recording date of the root record: years since 1900, month, day, h, m, s.
    expect([...a.subarray(23 * 2048 + 18, 23 * 2048 + 24)]).toEqual([126, 3, 4, 5, 6, 7]);
    expect(a.toString('ascii', 16 * 2048 + 813, 16 * 2048 + 829)).toBe('2026030405060700');
  });

  it('handles large files, many files and empty files', () => {
    const big = Buffer.concat(Array.from({ length: 3000 }, (_, i) => createHash('sha256').update(String(i)).digest()));
    const many = Array.from({ length: 40 }, (_, i) => ({
      name: `vendor-data-part-${String(i).padStart(2, '0')}`,
      content: Buffer.from(`part ${i}\n`),
    }));
    const img = writeIso9660({
      volumeId: 'cidata',
      files: [{ name: 'user-data', content: big }, { name: 'empty', content: Buffer.alloc(0) }, ...many],
    });
    const iso = readIso(img);
    const files = iso.primary.filter((e) => !e.dir);
    expect(files).toHaveLength(42);
    expect(new Set(files.map((e) => e.id)).size).toBe(42);
    const ud = files.find((e) => e.rrName === 'user-data');
    expect(ud && iso.read(ud).equals(big)).toBe(true);
    expect(files.find((e) => e.rrName === 'empty')?.size).toBe(0);
    const part = iso.joliet.find((e) => e.id === 'vendor-data-part-39');
    expect(part && iso.read(part).toString()).toBe('part 39\n');
  });

  it('makes unique level 1 names', () => {
    const used = new Set<string>();
    expect(toIsoLevel1Name('user-data', used)).toBe('USER_DAT.;1');
    expect(toIsoLevel1Name('user-data2', used)).toBe('USER_DA1.;1');
    expect(toIsoLevel1Name('config.yaml', used)).toBe('CONFIG.YAM;1');
  });

  it('refuses names and labels it cannot write', () => {
    expect(() => writeIso9660({ volumeId: 'ci data', files: [] })).toThrow(/volume id/);
    expect(() => writeIso9660({ volumeId: 'cidata', files: [{ name: 'a/b', content: Buffer.alloc(1) }] })).toThrow(/without '\/'/);
    const f = { name: 'user-data', content: Buffer.alloc(1) };
    expect(() => writeIso9660({ volumeId: 'cidata', files: [f, f] })).toThrow(/listed twice/);
  });
});
