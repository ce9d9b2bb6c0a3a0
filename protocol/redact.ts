/**
 * The one secret redactor, used by the agent (journal lines, report log tails, step transcripts)
 * and by the coordinator (report log tails, install beacons, heartbeat messages, the pino log hook).
 * Released values (a step's `redact` list, tokens, the operator token) are replaced literally,
 * longest first; a multi-line value (PEM) also line by line and base64-encoded, as it appears in
 * tool output and kubeconfigs. Patterns catch what nobody registered: bootstrap tokens in either
 * case, 64-hex certificate keys (`kubeadm init phase upload-certs` prints one), PEM private keys,
 * also base64-encoded (a kubeconfig's `client-key-data`); certificates stay readable (they are
 * public and explain failures).
 *
 * Runtime contract: pure code, no imports (bundled into the agent); `Buffer` is Node's global.
 */

export const REDACTED = '[REDACTED]';

// kubeadm prints tokens in lower case; a tool or a person may upper-case them.
const BOOTSTRAP_TOKEN = /(?<![A-Za-z0-9])[A-Za-z0-9]{6}\.[A-Za-z0-9]{16}(?![A-Za-z0-9])/g;
/** kubeadm's certificate key: 32 random bytes as hex (`kubeadm certs certificate-key`). */
const CERTIFICATE_KEY = /(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])/g;
/** To the matching END line, or to the end of the text when the block was cut. */
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
/** base64 of "-----BEGIN " and what follows: a PEM block base64-encoded. Redacted when it is a private key. */
const BASE64_PEM = /LS0tLS1CRUdJTi[A-Za-z0-9+/]*={0,2}/g;
/** Shorter released values are not replaced literally: they would shred unrelated text. */
const MIN_LITERAL_LENGTH = 6;
/** A line of a multi-line value is replaced on its own from this length (a PEM body line is 64). */
const MIN_LINE_LENGTH = 16;

/** Replaces what the patterns recognise, whoever released it. */
function redactPatterns(text: string): string {
  return text
    .replace(PEM_PRIVATE_KEY, REDACTED)
    .replace(BASE64_PEM, (match) => (Buffer.from(match, 'base64').toString('latin1').includes('PRIVATE KEY') ? REDACTED : match))
    .replace(BOOTSTRAP_TOKEN, REDACTED)
    .replace(CERTIFICATE_KEY, REDACTED);
}

/** A redactor whose set of values grows as they are released: a value added once stays redacted in every later text. */
export class Redactor {
  private readonly values = new Set<string>();
  /** Longest first, so a value containing another is replaced whole. */
  private sorted: string[] = [];

  constructor(initial: Iterable<string> = []) {
    this.add(initial);
  }

  add(values: Iterable<string>): void {
    let changed = false;
    for (const value of values) {
      if (value.length < MIN_LITERAL_LENGTH || this.values.has(value)) continue;
      this.values.add(value);
      changed = true;
      if (value.includes('\n')) {
        this.values.add(Buffer.from(value).toString('base64'));
        for (const line of value.split('\n')) {
          const trimmed = line.trim();
          if (trimmed.length >= MIN_LINE_LENGTH && !trimmed.startsWith('-----')) this.values.add(trimmed);
        }
      }
    }
    if (changed) this.sorted = [...this.values].sort((a, b) => b.length - a.length);
  }

  /** The text with every added value, then every pattern, replaced by `[REDACTED]`. */
  redact(text: string): string {
    let out = text;
    for (const value of this.sorted) if (out.includes(value)) out = out.split(value).join(REDACTED);
    return redactPatterns(out);
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

/** One text with `secrets` and the patterns redacted. */
export function redactText(text: string, secrets: Iterable<string> = []): string {
  return new Redactor(secrets).redact(text);
}
