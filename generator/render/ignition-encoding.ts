/**
 * Byte encodings shared by the Ignition renderer and the user-data size checks: deterministic
 * gzip and RFC 2397 `data:` URLs in the form Ignition decodes.
 *
 * Runtime contract: pure. gzip output is fixed in its header (mtime 0, XFL 2, OS 3 = Unix, no
 * file name), so the bytes depend only on the input and on the zlib build bundled with Node
 * (`process.versions.zlib`); the same Node release gives the same bytes.
 */
import { gzipSync } from 'node:zlib';

/** gzip with a fixed header: no mtime, no name, OS byte pinned to Unix (3) whatever the platform. */
export function gzipDeterministic(data: Buffer | string): Buffer {
  const out = gzipSync(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, { level: 9 });
  // RFC 1952: bytes 4–7 MTIME, 8 XFL, 9 OS. Node writes mtime 0 already; the OS byte differs by platform.
  out.writeUInt32LE(0, 4);
  out[9] = 3;
  return out;
}

/** `data:;base64,…` — the form Ignition (vincent-petithory/dataurl) always decodes. */
export function toBase64DataUrl(data: Buffer | string): string {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return `data:;base64,${bytes.toString('base64')}`;
}

export interface IgnitionContents {
  source: string;
  compression?: 'gzip';
}

/**
 * Ignition `contents` for inline bytes: plain base64, or base64 of gzip with `compression: "gzip"`
 * when that makes the URL strictly shorter (small files grow under gzip; PEM and YAML shrink).
 */
export function encodeIgnitionContents(data: Buffer | string): IgnitionContents {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const plain = toBase64DataUrl(bytes);
  const gz = toBase64DataUrl(gzipDeterministic(bytes));
  return gz.length < plain.length ? { source: gz, compression: 'gzip' } : { source: plain };
}

/** Decodes a `data:` URL produced above (used by tests and by the size report). */
export function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new Error(`not a data: URL: ${url.slice(0, 40)}`);
  const meta = url.slice(5, comma);
  const payload = url.slice(comma + 1);
  return meta.endsWith(';base64') ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'utf8');
}
