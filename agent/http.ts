/**
 * The coordinator client: undici with a dispatcher that trusts only the pinned coordinator CA
 * (`connect: { ca }`), so neither the system trust store nor a proxy's certificate is accepted.
 */
import { Agent, request } from 'undici';
import type { Http, HttpResponse } from './io.ts';

export function createPinnedHttp(baseUrl: string, caPem: string): Http {
  const dispatcher = new Agent({ connect: { ca: caPem, rejectUnauthorized: true }, keepAliveTimeout: 60_000 });
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async request({ method, path, body, headers, timeoutMs }): Promise<HttpResponse> {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const res = await request(`${base}${path}`, {
        method,
        dispatcher,
        headers: { accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(payload === undefined ? {} : { body: payload }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
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
