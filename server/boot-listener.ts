/** The plain-HTTP listener for boot content (spec.coordinator.httpListen), started by `kubeseed serve`. */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { type PxeResponse, type PxeRouteOptions, routePxeRequest } from '../generator/render/pxe-routes.ts';
import type { ClusterSpec } from '../generator/spec/types.ts';
import { isAssetRequest, serveBootAsset } from './boot-assets.ts';
import { parseListen } from './serve.ts';

/**
 * The plain-HTTP listener for iPXE, NoCloud and Ignition (spec.coordinator.httpListen): separate
 * from the HTTPS API, it serves only `<state>/http/` content that `generate` wrote without any
 * credential, through the pure router in generator/render/pxe-routes.ts.
 */
export async function startBootListener(
  spec: ClusterSpec,
  stateDir: string,
  listen: string,
  opts: Pick<PxeRouteOptions, 'installed'> & { assetsDir?: string } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const read = (name: string) => readFile(join(stateDir, 'http', name), 'utf8').catch(() => undefined);
  const [userData, metaData, ignition] = await Promise.all([read('user-data'), read('meta-data'), read('config.ign')]);
  const fleet = { ...(userData ? { userData } : {}), ...(metaData ? { metaData } : {}), ...(ignition ? { ignition } : {}) };
  const server = createHttpServer((req, res) => {
    // `--assets DIR`: kernels, initrds and ISOs, read-only (server/boot-assets.ts).
    if (opts.assetsDir && isAssetRequest(req.url ?? '')) return void serveBootAsset(opts.assetsDir, req, res).catch(() => res.destroy());
    let answer: PxeResponse;
    try {
      answer = routePxeRequest(
        spec,
        fleet,
        req.url ?? '/',
        { installUnknownMacs: spec.fleet.installUnknownMacs === true, ...(opts.installed ? { installed: opts.installed } : {}) },
        req.method ?? 'GET',
      );
    } catch {
      // A spec the router cannot render for: a generic answer, never a crashed coordinator.
      answer = { status: 500, contentType: 'text/plain; charset=utf-8', body: 'internal error\n' };
    }
    res.writeHead(answer.status, { 'content-type': answer.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  const { host, port } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`, close: () => new Promise((r) => server.close(() => r())) };
}
