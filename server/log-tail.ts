/**
 * The bound on a report's log tail as the coordinator keeps it (after redaction with
 * protocol/redact.ts): the end of the output is what explains a failure.
 */

/** Log tails are kept to this many characters. */
export const LOG_TAIL_LIMIT = 16 * 1024;

/** Keeps the end of a log (where failures are explained), marking the cut. */
export function boundLogTail(text: string, limit = LOG_TAIL_LIMIT): string {
  if (text.length <= limit) return text;
  return `[…${text.length - limit} characters cut]\n${text.slice(text.length - limit)}`;
}
