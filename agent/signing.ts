/**
 * The agent's ECDSA P-256 identity: generated at first enrollment, stored 0600 in the state dir,
 * and used to sign every later request (`canonicalRequest` from protocol/wire.ts).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { canonicalRequest, HEADER_HOST, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP } from '../protocol/wire.ts';

export interface AgentKey {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateAgentKey(): AgentKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Rebuilds the pair from the stored private key. */
export function loadAgentKey(privateKeyPem: string): AgentKey {
  const privateKey = createPrivateKey(privateKeyPem);
  return { privateKeyPem, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() };
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The four x-kubeseed-* headers for one request. `body` is the exact bytes sent ('' when none). */
export function signRequest(options: {
  key: AgentKey;
  host: string;
  method: string;
  pathWithQuery: string;
  body: string;
  now: number;
  nonce: string;
  /** A streamed body's SHA-256 hex (protocol/backup.ts), signed in place of the hash of `body`. */
  bodySha256?: string;
}): Record<string, string> {
  const timestamp = String(options.now);
  const bodyHash = options.bodySha256 ?? sha256Hex(options.body);
  const canonical = canonicalRequest(options.method, options.pathWithQuery, timestamp, options.nonce, bodyHash);
  const signature = sign('sha256', Buffer.from(canonical), createPrivateKey(options.key.privateKeyPem)).toString('base64');
  return {
    [HEADER_HOST]: options.host,
    [HEADER_TIMESTAMP]: timestamp,
    [HEADER_NONCE]: options.nonce,
    [HEADER_SIGNATURE]: signature,
  };
}
