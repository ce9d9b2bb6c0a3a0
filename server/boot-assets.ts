/**
 * `kubeseed serve --assets DIR`: the boot files the iPXE scripts name (`/assets/<family>/<file>`:
 * kernels, initrds, root file systems, the Ubuntu ISO — docs/pxe.md), served read-only from DIR on
 * the plain-HTTP boot listener, with single byte ranges (kernels and ISOs are large; installers
 * resume). The path is matched, never decoded or normalised: segments of `[A-Za-z0-9._-]`, no `.`
 * or `..`, so a request never leaves DIR by its URL.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parseRange } from './byte-range.ts';

const ASSET_PATH = /^\/assets((?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)+)$/;

function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

/** Whether the request is for `/assets/…` (then `serveBootAsset` answers it). */
export function isAssetRequest(url: string): boolean {
  return url.startsWith('/assets/');
}

export async function serveBootAsset(dir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') return answer(res, 405, 'method not allowed\n');
  const m = ASSET_PATH.exec(req.url ?? '');
  if (!m) return answer(res, 404, `not found: ${req.url}\n`);
  const file = join(dir, m[1]!);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return answer(res, 404, `not found: ${req.url} (place it in the --assets directory)\n`);
  const size = info.size;
  // One range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); anything else is answered whole, as RFC 9110 allows.
  const range = parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') return answer(res, 416, 'range not satisfiable\n', { 'content-range': `bytes */${size}` });
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const status = range ? 206 : 200;
  res.writeHead(status, {
    'content-type': 'application/octet-stream',
    'content-length': String(end - start + 1),
    'accept-ranges': 'bytes',
    'cache-control': 'no-store',
    ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  if (method === 'HEAD' || size === 0) return void res.end();
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    stream.on('end', resolve);
    stream.pipe(res);
  });
}
