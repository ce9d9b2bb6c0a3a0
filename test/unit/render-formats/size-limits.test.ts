import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AWS_USER_DATA_LIMIT, checkUserDataSize, OPENSTACK_USER_DATA_LIMIT } from '../../../generator/render/size-limits.ts';

/** Compressible text of exactly n bytes. */
function text(n: number): string {
  const line = '#cloud-config write_files content line\n';
  return line.repeat(Math.ceil(n / line.length)).slice(0, n);
}

/** Incompressible bytes of exactly n bytes. */
function noise(n: number): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0; chunks.length * 32 < n; i++) chunks.push(createHash('sha256').update(`n${i}`).digest());
  return Buffer.concat(chunks).subarray(0, n);
}

describe('checkUserDataSize', () => {
  it.each([
    // platform, format, size, ok, encoded, counted bytes
    ['aws', 'cloud-init', AWS_USER_DATA_LIMIT, true, 'plain', 16_384],
    ['aws', 'ignition', AWS_USER_DATA_LIMIT, true, 'plain', 16_384],
    ['openstack', 'cloud-init', 49_149, true, 'plain', 65_532], // largest raw size whose base64 fits 65,535
    ['openstack', 'ignition', 49_149, true, 'plain', 65_532],
    ['generic', 'cloud-init', 1_000_000, true, 'plain', 1_000_000],
    ['proxmox', 'ignition', 1_000_000, true, 'plain', 1_000_000],
    ['pxe', 'cloud-init', 1_000_000, true, 'plain', 1_000_000],
  ] as const)('%s %s at %i bytes is ok=%s %s', (platform, format, size, ok, encoded, counted) => {
    const r = checkUserDataSize('h1', text(size), platform, format);
    expect(r.ok).toBe(ok);
    expect(r.encoded).toBe(encoded);
    expect(r.bytes).toBe(counted);
    expect(r.message).toBeUndefined();
  });

  it('reports the limit per platform', () => {
    expect(checkUserDataSize('h', 'x', 'aws', 'cloud-init').limit).toBe(16_384);
    expect(checkUserDataSize('h', 'x', 'openstack', 'cloud-init').limit).toBe(OPENSTACK_USER_DATA_LIMIT);
    expect(checkUserDataSize('h', 'x', 'generic', 'cloud-init').limit).toBeNull();
  });

  it('gzips a cloud-init document one byte over the aws limit', () => {
    const doc = text(AWS_USER_DATA_LIMIT + 1);
    const r = checkUserDataSize('k8s1master1', doc, 'aws', 'cloud-init');
    expect(r).toMatchObject({ ok: true, encoded: 'gzip', limit: 16_384 });
    expect(r.bytes).toBe(r.payload.length);
    expect(gunzipSync(r.payload).toString()).toBe(doc);
    expect(r.message).toMatch(/k8s1master1: user-data is 16,385 bytes raw .* over the aws limit of 16,384; delivered gzip-compressed/);
  });

  it('counts openstack after base64: one raw byte more tips it over', () => {
    const r = checkUserDataSize('w1', noise(49_150), 'openstack', 'cloud-init');
    expect(r.ok).toBe(false);
    expect(r.message).toContain('w1: user-data is 65,536 bytes after base64');
    expect(r.message).toContain('over the openstack limit of 65,535');
    expect(checkUserDataSize('w1', noise(49_149), 'openstack', 'cloud-init').ok).toBe(true);
  });

  it('refuses an incompressible cloud-init document over the limit, naming host, size, limit and the fix', () => {
    const r = checkUserDataSize('k8s1worker7', noise(20_000), 'aws', 'cloud-init');
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/^host k8s1worker7: user-data is 20,000 bytes raw \(before base64\) \(\d{2},\d{3} gzip-compressed\)/);
    expect(r.message).toContain('limit of 16,384');
    expect(r.message).toContain('mirrors.agent');
    expect(r.message).toContain('os.sshAuthorizedKeys');
  });

  it('never gzips Ignition: over the limit is an error even when gzip would fit', () => {
    const r = checkUserDataSize('fc1', text(AWS_USER_DATA_LIMIT + 1), 'aws', 'ignition');
    expect(r).toMatchObject({ ok: false, encoded: 'plain', bytes: 16_385, limit: 16_384 });
    expect(r.message).toContain('cannot be gzipped as a whole');
  });

  it('is deterministic', () => {
    const a = checkUserDataSize('h', text(30_000), 'aws', 'cloud-init').payload;
    expect(checkUserDataSize('h', text(30_000), 'aws', 'cloud-init').payload.equals(a)).toBe(true);
  });
});
