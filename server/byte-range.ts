/**
 * The single-range `Range: bytes=…` header (RFC 9110 §14.1.2) as both byte-serving routes read it:
 * the agent executables on the HTTPS API (server/app.ts) and the boot files on the plain-HTTP
 * listener (server/boot-assets.ts).
 *
 * Runtime contract: pure.
 */

/** Parses a single `bytes=` range against a length; null = ignore the header, 'unsatisfiable' = 416. */
export function parseRange(header: string | undefined, length: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, from, to] = match;
  if (from === '' && to === '') return null;
  let start: number;
  let end: number;
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, length - suffix);
    end = length - 1;
  } else {
    start = Number(from);
    end = to === '' ? length - 1 : Math.min(Number(to), length - 1);
  }
  if (start >= length || start > end) return 'unsatisfiable';
  return { start, end };
}
