/**
 * The coordinator client: undici with a dispatcher that trusts only the pinned coordinator CA
 * (`connect: { ca }`), so neither the system trust store nor a proxy's certificate is accepted.
 * Only undici's Agent and request modules are bundled (see undici-parts.d.ts).
 */

import undiciRequest from 'undici/lib/api/api-request.js';
import UndiciAgent from 'undici/lib/dispatcher/agent.js';
import type { Http, HttpResponse } from './io.ts';

export function createPinnedHttp(baseUrl: string, caPem: string): Http {
  const dispatcher = new UndiciAgent({ connect: { ca: caPem, rejectUnauthorized: true }, keepAliveTimeout: 60_000 });
  const url = new URL(baseUrl);
  const origin = url.origin;
  const prefix = url.pathname.replace(/\/+$/, '');
  return {
    async request({ method, path, body, headers, timeoutMs, signal }): Promise<HttpResponse> {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const res = await undiciRequest.call(dispatcher, {
        origin,
        path: `${prefix}${path}`,
        method,
        headers: { accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(payload === undefined ? {} : { body: payload }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(signal ? { signal } : {}),
      });
      const text = await res.body.text();
      let parsed: unknown = null;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      const dateHeader = res.headers.date;
      const date = typeof dateHeader === 'string' ? Date.parse(dateHeader) : Number.NaN;
      return { status: res.statusCode, body: parsed, ...(Number.isFinite(date) ? { date } : {}) };
    },
    close: () => dispatcher.close(),
  };
}
