/**
 * `statusPagePlugin`: serves the status page shell at `/` and its two bundled assets under
 * `/status/`. None of them carries data (the page fetches /v1/status with the operator token), so
 * they need no authentication. Every answer forbids framing, sniffing and referrers, and the CSP
 * allows only this origin: no CDN, no inline script, no connection elsewhere.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { bundleStatusPage, type StatusAssets } from './bundle.ts';
import { renderShell } from './shell.ts';

export interface StatusPageOptions {
  /** Prebuilt assets (a build without esbuild at runtime); default: bundle on first request. */
  assets?: StatusAssets;
}

export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const NO_QUERY = { type: 'object', additionalProperties: false, properties: {} } as const;
const VERSION_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: { v: { type: 'string', maxLength: 64, pattern: '^[0-9a-f]*$' } },
} as const;
const TEXT = { type: 'string' } as const;

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', STATUS_PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin');
}

export const statusPagePlugin: FastifyPluginAsync<StatusPageOptions> = async (app, options) => {
  const assets = (): Promise<StatusAssets> => (options.assets ? Promise.resolve(options.assets) : bundleStatusPage());

  // Every replica serves the page (config.servedByStandby: server/app.ts): it is a read.
  app.get(
    '/',
    { config: { servedByStandby: true }, schema: { querystring: NO_QUERY, response: { 200: TEXT } } },
    async (_request, reply) => {
      const { version } = await assets();
      return secure(reply).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(renderShell(version));
    },
  );

  const asset = (path: string, type: string, pick: (a: StatusAssets) => string) =>
    app.get<{ Querystring: { v?: string } }>(
      path,
      { config: { servedByStandby: true }, schema: { querystring: VERSION_QUERY, response: { 200: TEXT } } },
      async (request, reply) => {
        const built = await assets();
        // Versioned URLs never change content; a bare URL is revalidated.
        const cache = request.query.v === built.version ? 'public, max-age=31536000, immutable' : 'no-cache';
        return secure(reply).header('cache-control', cache).header('etag', `"${built.version}"`).type(type).send(pick(built));
      },
    );
  asset('/status/app.js', 'text/javascript; charset=utf-8', (a) => a.js);
  asset('/status/app.css', 'text/css; charset=utf-8', (a) => a.css);
};
