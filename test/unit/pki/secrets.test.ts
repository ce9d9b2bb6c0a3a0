import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BOOTSTRAP_TOKEN_PATTERN,
  CERTIFICATE_KEY_PATTERN,
  ENROLLMENT_CREDENTIAL_PATTERN,
  generateBootstrapToken,
  generateCertificateKey,
  generateEnrollmentCredential,
  hashEnrollmentCredential,
  randomString,
  verifyEnrollmentCredential,
} from '../../../generator/pki/index.ts';

const NOW = new Date('2026-11-22T08:00:00Z');

describe('bootstrap tokens and certificate keys', () => {
  it('bootstrap tokens match kubeadm’s pattern and do not repeat', () => {
    const tokens = Array.from({ length: 2000 }, () => generateBootstrapToken());
    for (const t of tokens) expect(t).toMatch(BOOTSTRAP_TOKEN_PATTERN);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(new Set(tokens.map((t) => t.slice(0, 6))).size).toBeGreaterThan(1990);
  });

  it('uses every character of [a-z0-9] about equally (no modulo bias)', () => {
    const counts = new Map<string, number>();
    const text = Array.from({ length: 3000 }, () => generateBootstrapToken().replace('.', '')).join('');
    for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(36);
    const expected = text.length / 36;
    // chi-square with 35 degrees of freedom: p < 1e-6 above ~95
    const chi = [...counts.values()].reduce((acc, n) => acc + (n - expected) ** 2 / expected, 0);
    expect(chi).toBeLessThan(95);
  });

  it('drops random bytes that would bias the mapping', () => {
    // 252..255 must be skipped (36 × 7 = 252); 0 → 'a', 36 → 'a', 37 → 'b'.
    let call = 0;
    const source = (n: number) => {
      call++;
      return Buffer.from(Array.from({ length: n }, (_, i) => [252, 255, 0, 36, 37, 254][i % 6]!));
    };
    expect(randomString('abcdefghijklmnopqrstuvwxyz0123456789', 3, source)).toBe('aab');
    expect(call).toBe(1);
    // With 3 letters, 255 is rejected (limit 255): the mapping keeps asking until it has enough.
    let asked = 0;
    const stingy = (n: number) => (++asked < 5 ? Buffer.alloc(n, 255) : Buffer.alloc(n, 1));
    expect(randomString('abc', 2, stingy)).toBe('bb');
    expect(asked).toBe(5);
  });

  it('certificate keys are 32 random bytes in hex', () => {
    const keys = Array.from({ length: 200 }, () => generateCertificateKey());
    for (const k of keys) expect(k).toMatch(CERTIFICATE_KEY_PATTERN);
    expect(Buffer.from(keys[0]!, 'hex')).toHaveLength(32);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('enrollment credentials', () => {
  it('are prefixed and carry 32 random bytes', () => {
    const host = generateEnrollmentCredential('host');
    const fleet = generateEnrollmentCredential('fleet');
    expect(host).toMatch(/^ksenr_/);
    expect(fleet).toMatch(/^ksfleet_/);
    for (const c of [host, fleet]) expect(c).toMatch(ENROLLMENT_CREDENTIAL_PATTERN);
    expect(Buffer.from(host.slice('ksenr_'.length), 'base64url')).toHaveLength(32);
    expect(generateEnrollmentCredential('host')).not.toBe(host);
  });

  it('are kept as salted hashes that verify only the right credential', () => {
    const credential = generateEnrollmentCredential('host');
    const record = hashEnrollmentCredential(credential, NOW);
    expect(JSON.stringify(record)).not.toContain(credential.slice(6));
    expect(record.createdAt).toBe(NOW.toISOString());
    expect(verifyEnrollmentCredential(record, credential)).toBe(true);
    expect(verifyEnrollmentCredential(record, `${credential}x`)).toBe(false);
    expect(verifyEnrollmentCredential(record, credential.slice(0, -1))).toBe(false);
    expect(verifyEnrollmentCredential(record, generateEnrollmentCredential('host'))).toBe(false);
    expect(verifyEnrollmentCredential(record, '')).toBe(false);
    expect(verifyEnrollmentCredential(record, 42 as unknown as string)).toBe(false);
    expect(verifyEnrollmentCredential({ ...record, algorithm: 'md5' as 'hmac-sha256' }, credential)).toBe(false);
    // Same credential, different salt → different hash.
    const again = hashEnrollmentCredential(credential, NOW);
    expect(again.hash).not.toBe(record.hash);
    expect(verifyEnrollmentCredential(again, credential)).toBe(true);
  });

  it('takes randomness from the injected source', () => {
    const fixed = (n: number) => Buffer.alloc(n, 7);
    expect(generateEnrollmentCredential('host', fixed)).toBe(`ksenr_${Buffer.alloc(32, 7).toString('base64url')}`);
    expect(generateCertificateKey(fixed)).toBe('07'.repeat(32));
    expect(generateBootstrapToken(randomBytes)).toMatch(BOOTSTRAP_TOKEN_PATTERN);
  });
});
