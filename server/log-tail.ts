/**
 * The bound on a report's log tail as the coordinator keeps it (after redaction with
 * protocol/redact.ts): the end of the output is what explains a failure.
 */

/** Log tails are kept to this many characters. */
export const LOG_TAIL_LIMIT = 16 * 1024;

/** A finished host's step log tails are trimmed to this many characters (server/rollout/reports.ts). */
export const DONE_LOG_TAIL_LIMIT = 2 * 1024;

const CUT = /^\[…(\d+) characters cut\]\n/;

/**
 * Keeps the end of a log (where failures are explained) within `limit` characters, the mark of the
 * cut included. Bounding a bounded tail again keeps it as it is, or cuts more and adds up the count.
 */
export function boundLogTail(text: string, limit = LOG_TAIL_LIMIT): string {
  if (text.length <= limit) return text;
  const earlier = CUT.exec(text);
  const body = earlier ? text.slice(earlier[0].length) : text;
  const before = earlier ? Number(earlier[1]) : 0;
  // The mark's own length depends on the count: at most one more digit than the body's length.
  const markRoom = `[…${before + body.length} characters cut]\n`.length;
  const keep = Math.max(0, limit - markRoom);
  return `[…${before + body.length - keep} characters cut]\n${body.slice(body.length - keep)}`;
}
