/**
 * kubeadm's discovery-token-ca-cert-hash: `sha256:` + lower-case hex of SHA-256 over the CA
 * certificate's DER SubjectPublicKeyInfo (pubkeypin.Hash; kubeadm.md §2.4). Works for RSA and
 * ECDSA CAs alike. Pure.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { PkiError } from './errors.ts';

export function discoveryHash(caPem: string): string {
  let spki: Buffer;
  try {
    spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  } catch {
    throw new PkiError('INVALID_PEM', 'discovery hash: the cluster CA is not a readable certificate PEM');
  }
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}
