/**
 * Bootstrap tokens, certificate keys and enrollment credentials: every value comes from
 * crypto.randomBytes (never from anything predictable), mapped onto alphabets without bias.
 * Enrollment credentials are stored only as salted HMAC-SHA256 records and verified in
 * constant time: they carry 256 random bits, so a slow KDF would add cost without adding safety.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type RandomSource = (size: number) => Buffer;

/** kubeadm's BootstrapTokenPattern (cluster-bootstrap token/api/types.go). */
export const BOOTSTRAP_TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
export const CERTIFICATE_KEY_PATTERN = /^[0-9a-f]{64}$/;
export const HOST_CREDENTIAL_PREFIX = 'ksenr_';
export const FLEET_CREDENTIAL_PREFIX = 'ksfleet_';
/** A credential: its prefix and 32 random bytes in base64url (43 characters). */
export const ENROLLMENT_CREDENTIAL_PATTERN = /^(ksenr|ksfleet)_[A-Za-z0-9_-]{43}$/;

const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of `alphabet`, by rejection sampling (bytes ≥ the largest multiple are dropped). */
export function randomString(alphabet: string, length: number, random: RandomSource = randomBytes): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of random(length * 2)) {
      if (byte >= limit) continue;
      out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** `[a-z0-9]{6}.[a-z0-9]{16}` */
export function generateBootstrapToken(random: RandomSource = randomBytes): string {
  return `${randomString(TOKEN_ALPHABET, 6, random)}.${randomString(TOKEN_ALPHABET, 16, random)}`;
}

/** kubeadm's certificate key: 32 random bytes, hex (the AES-256 key of the kubeadm-certs Secret). */
export function generateCertificateKey(random: RandomSource = randomBytes): string {
  return random(32).toString('hex');
}

/** A per-host (`ksenr_…`) or fleet (`ksfleet_…`) enrollment credential. */
export function generateEnrollmentCredential(kind: 'host' | 'fleet', random: RandomSource = randomBytes): string {
  return (kind === 'host' ? HOST_CREDENTIAL_PREFIX : FLEET_CREDENTIAL_PREFIX) + random(32).toString('base64url');
}

/** What the coordinator keeps of a credential. */
export interface EnrollmentRecord {
  algorithm: 'hmac-sha256';
  /** base64url, 16 random bytes, the HMAC key. */
  salt: string;
  /** base64url HMAC-SHA256(salt, credential). */
  hash: string;
  /** ISO time the credential was issued. */
  createdAt: string;
}

export function hashEnrollmentCredential(credential: string, now: Date, random: RandomSource = randomBytes): EnrollmentRecord {
  const salt = random(16);
  return {
    algorithm: 'hmac-sha256',
    salt: salt.toString('base64url'),
    hash: hmac(salt, credential).toString('base64url'),
    createdAt: now.toISOString(),
  };
}

/** Constant-time check of a presented credential against its record; false for anything malformed. */
export function verifyEnrollmentCredential(record: EnrollmentRecord, presented: string): boolean {
  if (typeof presented !== 'string' || record?.algorithm !== 'hmac-sha256') return false;
  const expected = Buffer.from(record.hash, 'base64url');
  const actual = hmac(Buffer.from(record.salt, 'base64url'), presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function hmac(key: Buffer, credential: string): Buffer {
  return createHmac('sha256', key).update(credential, 'utf8').digest();
}
