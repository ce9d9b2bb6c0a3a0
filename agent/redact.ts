/**
 * Redaction of secrets from text before it is reported, logged or written to the journal.
 * Released values (a step's `redact` list) are replaced literally; bootstrap tokens, 64-hex
 * certificate keys and PEM private-key blocks (also base64-encoded, as in a kubeconfig's
 * `client-key-data`) are replaced by pattern even when nobody listed them; tokens in either case.
 */

export const REDACTED = '[REDACTED]';

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
// kubeadm prints tokens in lower case; a tool or a person may upper-case them.
const BOOTSTRAP_TOKEN = /(?<![A-Za-z0-9])[A-Za-z0-9]{6}\.[A-Za-z0-9]{16}(?![A-Za-z0-9])/g;
/** base64 of "-----BEGIN " and what follows: a PEM block base64-encoded. Redacted when it is a private key. */
const BASE64_PEM = /LS0tLS1CRUdJTi[A-Za-z0-9+/]*={0,2}/g;
const CERTIFICATE_KEY = /(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])/g;
/** Shorter released values are not replaced literally: they would blank unrelated text. */
const MIN_LITERAL_LENGTH = 6;

export type Redactor = (text: string) => string;

/** Replaces every secret in `text` (the listed values first, longest first, then the patterns). */
export function redactText(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  const literals = [...new Set(secrets)].filter((s) => s.length >= MIN_LITERAL_LENGTH).sort((a, b) => b.length - a.length);
  for (const secret of literals) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    // A multi-line secret (PEM) may be printed line by line, or base64-encoded: redact those too.
    if (secret.includes('\n')) {
      const encoded = Buffer.from(secret).toString('base64');
      if (out.includes(encoded)) out = out.split(encoded).join(REDACTED);
      for (const line of secret.split('\n')) {
        const trimmed = line.trim();
        if (trimmed.length >= 16 && !trimmed.startsWith('-----') && out.includes(trimmed)) out = out.split(trimmed).join(REDACTED);
      }
    }
  }
  return out
    .replace(PEM_PRIVATE_KEY, REDACTED)
    .replace(BASE64_PEM, (match) => (Buffer.from(match, 'base64').toString('latin1').includes('PRIVATE KEY') ? REDACTED : match))
    .replace(BOOTSTRAP_TOKEN, REDACTED)
    .replace(CERTIFICATE_KEY, REDACTED);
}

/**
 * A redactor whose secret set grows as steps are released: the logger holds one so that a value
 * released once stays redacted in every later line.
 */
export function createRedactor(initial: Iterable<string> = []): Redactor & { add(values: Iterable<string>): void } {
  const secrets = new Set<string>(initial);
  const redact = ((text: string) => redactText(text, secrets)) as Redactor & { add(values: Iterable<string>): void };
  redact.add = (values) => {
    for (const v of values) if (v) secrets.add(v);
  };
  return redact;
}
