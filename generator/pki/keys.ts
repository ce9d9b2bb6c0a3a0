/**
 * Key generation with Node's native crypto only (OpenSSL, off the main thread when async).
 * node-forge never generates keys here: its pure-JS fallback takes ~11 s per RSA key.
 *
 * Private keys are exported the way kubeadm writes them (RSA: PKCS#1 `RSA PRIVATE KEY`;
 * ECDSA: SEC1 `EC PRIVATE KEY`), public keys as PKIX `PUBLIC KEY` (what `sa.pub` must be).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateKeyPairCallback,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import type { KeyAlgorithm } from '../spec/types.ts';
import { PkiError } from './errors.ts';

export type { KeyAlgorithm };

export interface KeyPair {
  algorithm: KeyAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function keygenArgs(algorithm: KeyAlgorithm): ['rsa', { modulusLength: number; publicExponent: number }] | ['ec', { namedCurve: string }] {
  switch (algorithm) {
    case 'RSA-2048':
      return ['rsa', { modulusLength: 2048, publicExponent: 0x10001 }];
    case 'ECDSA-P256':
      return ['ec', { namedCurve: 'prime256v1' }];
  }
}

/** Generates a key pair on libuv's thread pool: many calls in parallel use every core. */
export function generateKeyPair(algorithm: KeyAlgorithm): Promise<KeyPair> {
  const [type, options] = keygenArgs(algorithm);
  return new Promise((resolve, reject) => {
    // The overloads of generateKeyPair do not accept a union type; both branches are the same call.
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) => {
      if (err) reject(err);
      else resolve({ algorithm, privateKey, publicKey });
    };
    if (type === 'rsa') generateKeyPairCallback('rsa', options as { modulusLength: number }, done);
    else generateKeyPairCallback('ec', options as { namedCurve: string }, done);
  });
}

/** Synchronous generation, for short-lived client certificates (ECDSA P-256 takes well under 1 ms). */
export function generateKeyPairNow(algorithm: KeyAlgorithm): KeyPair {
  const [type, options] = keygenArgs(algorithm);
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', options as { modulusLength: number })
      : generateKeyPairSync('ec', options as { namedCurve: string });
  return { algorithm, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

/** Generates `count` key pairs concurrently (the thread pool spreads them over the cores). */
export function generateKeyPairs(algorithm: KeyAlgorithm, count: number): Promise<KeyPair[]> {
  return Promise.all(Array.from({ length: count }, () => generateKeyPair(algorithm)));
}

/** The algorithm of a key, or an error for anything kubeadm would refuse (Ed25519, other curves, small RSA). */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' && details?.modulusLength === 2048) return 'RSA-2048';
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ECDSA-P256';
  throw new PkiError(
    'UNSUPPORTED_KEY',
    `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}: only RSA-2048 and ECDSA P-256 are used`,
  );
}

/** PEM of a private key in kubeadm's own encoding (PKCS#1 for RSA, SEC1 for ECDSA). */
export function exportPrivateKeyPem(key: KeyObject): string {
  const type = key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1';
  return key.export({ type, format: 'pem' }).toString();
}

/** PEM `PUBLIC KEY` (PKIX SubjectPublicKeyInfo). */
export function exportPublicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** DER SubjectPublicKeyInfo. */
export function exportPublicKeyDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** Parses a private key PEM; the error names `what`, never the key material. */
export function parsePrivateKeyPem(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new PkiError('INVALID_PEM', `${what}: not a readable private key PEM`);
  }
}

/** Public half of a private key. */
export function publicKeyOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}
