/**
 * Secret redaction for everything the coordinator logs or shows: exact values it released
 * (each step's `redact` list, bootstrap tokens, certificate keys), plus patterns that catch what
 * was never registered (bootstrap-token shapes in either case, PEM private keys, also base64-encoded
 * as in a kubeconfig's `client-key-data`). Used on report log tails (then bounded) and in the pino
 * log hook.
 */

export const REDACTED = '[REDACTED]';
/** Log tails are kept to this many characters (the end of the output is what explains a failure). */
export const LOG_TAIL_LIMIT = 16 * 1024;

// kubeadm writes tokens in lower case, but a tool or a person may print them upper-cased.
const TOKEN_PATTERN = /\b[A-Za-z0-9]{6}\.[A-Za-z0-9]{16}\b/g;
const PRIVATE_KEY_PATTERN = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g;
/** base64 of "-----BEGIN " and what follows: a PEM block base64-encoded (kubeconfig `*-data` fields). */
const BASE64_PEM_PATTERN = /LS0tLS1CRUdJTi[A-Za-z0-9+/]*={0,2}/g;

/** A base64-encoded PEM block is redacted when it is a private key (certificates are public and explain failures). */
function redactBase64Pem(text: string): string {
  return text.replace(BASE64_PEM_PATTERN, (match) =>
    Buffer.from(match, 'base64').toString('latin1').includes('PRIVATE KEY') ? REDACTED : match,
  );
}

export class Redactor {
  private readonly values = new Set<string>();
  /** Longest first, so a value containing another is replaced whole. */
  private sorted: string[] = [];

  add(values: Iterable<string>): void {
    let changed = false;
    for (const value of values) {
      // Very short values would shred ordinary text; secrets are never this short.
      if (value.length < 6 || this.values.has(value)) continue;
      this.values.add(value);
      changed = true;
      // PEM values also appear line by line in tool output, and base64-encoded in kubeconfigs.
      if (value.includes('\n')) {
        for (const line of value.split('\n')) if (line.length >= 24 && !line.startsWith('-----')) this.values.add(line);
        this.values.add(Buffer.from(value).toString('base64'));
      }
    }
    if (changed) this.sorted = [...this.values].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const value of this.sorted) if (out.includes(value)) out = out.split(value).join(REDACTED);
    return redactBase64Pem(out.replace(PRIVATE_KEY_PATTERN, REDACTED)).replace(TOKEN_PATTERN, REDACTED);
  }

  /** Redacts every string inside a JSON-like value. */
  redactDeep<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (value && typeof value === 'object') {
      // Log objects can be circular (sockets, requests): each object is copied once.
      if (seen.has(value)) return '[Circular]' as T;
      seen.add(value);
      if (Array.isArray(value)) return value.map((v) => this.redactDeep(v, seen)) as T;
      // Only plain data is copied; class instances (requests, sockets, errors) keep their
      // prototype so pino's serializers still see their getters.
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.redactDeep(v, seen);
      return out as T;
    }
    return value;
  }
}

/** Keeps the end of a log (where failures are explained), marking the cut. */
export function boundLogTail(text: string, limit = LOG_TAIL_LIMIT): string {
  if (text.length <= limit) return text;
  return `[…${text.length - limit} characters cut]\n${text.slice(text.length - limit)}`;
}
