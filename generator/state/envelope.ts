/**
 * Encryption at rest with KUBESEED_PASSPHRASE: scrypt derives an AES-256-GCM key; each file is
 * a self-describing JSON envelope (KDF name, parameters and salt, nonce, tag, ciphertext). The
 * file's path inside the state directory is the GCM additional data, so an envelope moved to
 * another name does not decrypt. One salt (one scrypt run) per writing session keeps a state
 * directory of ~30 files fast to write and read; every file still has its own random nonce.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { StateError } from './errors.ts';

export const ENVELOPE_MARKER = 'kubeseed-encrypted';

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s): OWASP's minimum for scrypt. */
export const DEFAULT_KDF = { N: 32768, r: 8, p: 1 } as const;

export interface KdfParams {
  N: number;
  r: number;
  p: number;
  /** base64url */
  salt: string;
}

/** The AES-256 key scrypt derives from a passphrase (also used by the coordinator's store for its secret records). */
export function scryptKey(passphrase: Buffer | string, params: KdfParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      passphrase,
      Buffer.from(params.salt, 'base64url'),
      32,
      { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 },
      (err, derived) => (err ? reject(err) : resolve(derived)),
    ),
  );
}

/** AES-256-GCM with a fresh random nonce; `aad` binds the ciphertext to its place (a path, a record key). */
export function gcmSeal(key: Buffer, aad: string, plaintext: string): { nonce: string; tag: string; ciphertext: string } {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return {
    nonce: nonce.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    ciphertext: ciphertext.toString('base64url'),
  };
}

/** The inverse of gcmSeal; throws when the key, the aad or the bytes differ. */
export function gcmOpen(key: Buffer, aad: string, sealed: { nonce: string; tag: string; ciphertext: string }): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.nonce, 'base64url'));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

export interface Envelope {
  format: typeof ENVELOPE_MARKER;
  version: 1;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: 'aes-256-gcm';
  nonce: string;
  tag: string;
  ciphertext: string;
}

/** Encrypts and decrypts the state's secret files with one passphrase; keys are derived once per salt. */
export interface FileCipher {
  readonly encrypting: boolean;
  /** Plaintext → the bytes to store (an envelope with a passphrase, the plaintext without). */
  seal(relativePath: string, plaintext: string): Promise<string>;
  /** Stored bytes → plaintext. Envelopes need the passphrase; plain files pass through. */
  open(relativePath: string, stored: string): Promise<string>;
}

export function isEnvelope(stored: string): boolean {
  if (!stored.trimStart().startsWith('{')) return false;
  try {
    return (JSON.parse(stored) as { format?: unknown }).format === ENVELOPE_MARKER;
  } catch {
    return false;
  }
}

export function createFileCipher(passphrase: string | undefined, kdf: { N: number; r: number; p: number } = DEFAULT_KDF): FileCipher {
  const secret = passphrase ? Buffer.from(passphrase, 'utf8') : undefined;
  const keys = new Map<string, Promise<Buffer>>();
  const salt = randomBytes(16).toString('base64url');

  const deriveKey = (params: Envelope['kdf']): Promise<Buffer> => {
    const id = `${params.salt}:${params.N}:${params.r}:${params.p}`;
    let key = keys.get(id);
    if (!key) {
      key = scryptKey(secret!, params);
      keys.set(id, key);
    }
    return key;
  };

  return {
    encrypting: secret !== undefined,
    async seal(relativePath, plaintext) {
      if (!secret) return plaintext;
      const params = { name: 'scrypt' as const, ...kdf, salt };
      const key = await deriveKey(params);
      const envelope: Envelope = {
        format: ENVELOPE_MARKER,
        version: 1,
        kdf: params,
        cipher: 'aes-256-gcm',
        ...gcmSeal(key, relativePath, plaintext),
      };
      return `${JSON.stringify(envelope)}\n`;
    },
    async open(relativePath, stored) {
      if (!isEnvelope(stored)) return stored;
      if (!secret) {
        throw new StateError(
          'PASSPHRASE_REQUIRED',
          `${relativePath} is encrypted: set KUBESEED_PASSPHRASE to the passphrase the state was generated with`,
          relativePath,
        );
      }
      const envelope = JSON.parse(stored) as Envelope;
      if (envelope.version !== 1 || envelope.kdf?.name !== 'scrypt' || envelope.cipher !== 'aes-256-gcm') {
        throw new StateError('UNSUPPORTED_VERSION', `${relativePath}: unknown encryption format; upgrade kubeseed`, relativePath);
      }
      const key = await deriveKey(envelope.kdf);
      try {
        return gcmOpen(key, relativePath, envelope);
      } catch {
        throw new StateError(
          'WRONG_PASSPHRASE',
          `${relativePath} cannot be decrypted with this KUBESEED_PASSPHRASE (wrong passphrase, or the file was altered or renamed); set KUBESEED_PASSPHRASE to the passphrase the state was generated with, or regenerate with \`kubeseed generate --rotate\``,
          relativePath,
        );
      }
    },
  };
}
