/**
 * Request authentication: signed agent requests (protocol/wire.ts), the operator token, the
 * nonce replay cache and the per-address limiter for failed enrollments.
 */
import { createHash, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { canonicalRequest, HEADER_HOST, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SIGNATURE_WINDOW_MS } from '../protocol/index.ts';
import { badRequest, unauthorized } from './errors.ts';

/** Parses an agent public key; only ECDSA P-256 SPKI PEM is accepted. Returns the normalized PEM. */
export function parseAgentPublicKey(pem: string): { key: KeyObject; pem: string } {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw badRequest('publicKey is not a PEM public key; send the SPKI PEM of an ECDSA P-256 key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw badRequest('publicKey must be an ECDSA P-256 key');
  }
  return { key, pem: key.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Remembers nonces for the signature window; a nonce seen twice within it is a replay. */
export class NonceCache {
  private readonly seen = new Map<string, number>();
  private lastSweep = 0;

  constructor(private readonly maxEntries = 200_000) {}

  /** Records the nonce; false when it was already used. */
  use(host: string, nonce: string, now: number): boolean {
    if (now - this.lastSweep > 10_000 || this.seen.size >= this.maxEntries) this.sweep(now);
    const key = `${host}\u0000${nonce}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, now + 2 * SIGNATURE_WINDOW_MS);
    return true;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, expires] of this.seen) if (expires < now) this.seen.delete(key);
    // Still full: drop the oldest (a flood of fresh nonces must not grow memory without bound).
    if (this.seen.size >= this.maxEntries) {
      let drop = this.seen.size - Math.floor(this.maxEntries * 0.9);
      for (const key of this.seen.keys()) {
        if (drop-- <= 0) break;
        this.seen.delete(key);
      }
    }
  }
}

export interface SignedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer | undefined;
  /** A streamed body (protocol/backup.ts): the SHA-256 hex it was signed with, checked against the bytes as they arrive. */
  bodySha256?: string;
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Verifies a signed agent request; returns the host name. Throws 401 with the reason. */
export function verifySignedRequest(
  request: SignedRequest,
  lookupKey: (host: string) => KeyObject | undefined,
  nonces: NonceCache,
  now: number,
): string {
  const host = header(request.headers, HEADER_HOST);
  const timestamp = header(request.headers, HEADER_TIMESTAMP);
  const nonce = header(request.headers, HEADER_NONCE);
  const signature = header(request.headers, HEADER_SIGNATURE);
  if (!host || !timestamp || !nonce || !signature)
    throw unauthorized(`signed request headers missing (${HEADER_HOST}, ${HEADER_TIMESTAMP}, ${HEADER_NONCE}, ${HEADER_SIGNATURE})`);
  if (!/^[0-9a-f]{16,128}$/i.test(nonce)) throw unauthorized(`${HEADER_NONCE} must be 16–128 hex characters`);
  const ts = Number(timestamp);
  if (!/^\d{1,16}$/.test(timestamp) || Math.abs(now - ts) > SIGNATURE_WINDOW_MS) {
    throw unauthorized('request timestamp outside the ±5 minute window: check the machine clock (chrony/timesyncd)');
  }
  const key = lookupKey(host);
  if (!key) throw unauthorized(`host ${host} is not enrolled`);
  const bodyHash =
    request.bodySha256 ??
    createHash('sha256')
      .update(request.rawBody ?? Buffer.alloc(0))
      .digest('hex');
  const data = Buffer.from(canonicalRequest(request.method, request.url, timestamp, nonce, bodyHash), 'utf8');
  let valid = false;
  try {
    valid = verify('sha256', data, key, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) throw unauthorized('request signature does not verify with the key bound at enrollment');
  if (!nonces.use(host, nonce, now)) throw unauthorized('nonce already used (replayed request)');
  return host;
}

/** Constant-time operator token check. */
export function checkOperatorToken(expected: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

/** Counts failed enrollments per source address in a sliding window. */
export class FailureRateLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 60_000,
  ) {}

  blocked(address: string, now: number): boolean {
    const list = this.failures.get(address);
    if (!list) return false;
    const recent = list.filter((t) => t > now - this.windowMs);
    if (recent.length === 0) this.failures.delete(address);
    else this.failures.set(address, recent);
    return recent.length >= this.limit;
  }

  /** Records a failure; true when this one reached the limit (the address is blocked from now on). */
  fail(address: string, now: number): boolean {
    const list = (this.failures.get(address) ?? []).filter((t) => t > now - this.windowMs);
    list.push(now);
    this.failures.set(address, list.slice(-this.limit));
    if (this.failures.size > 100_000) {
      for (const [key, times] of this.failures) if ((times[times.length - 1] ?? 0) <= now - this.windowMs) this.failures.delete(key);
    }
    return list.length === this.limit;
  }
}
