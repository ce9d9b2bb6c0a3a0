/**
 * The coordinator client: undici with a dispatcher that trusts only the pinned coordinator CA
 * (`connect: { ca }`), so neither the system trust store nor a proxy's certificate is accepted.
 * Only undici's Agent and request modules are bundled (see undici-parts.d.ts).
 *
 * Replicas (spec.coordinator.replicaUrls, ADR 0036): requests go to one URL of the list at a time.
 * A transport error moves the next request to the next URL; a standby's 503 naming the leader
 * (`x-kubeseed-leader`) moves it to that URL when the list has it — never to a URL outside the
 * list. The caller's retry and backoff stay as they are: this only chooses where the retry goes.
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import undiciRequest from 'undici/lib/api/api-request.js';
import UndiciAgent from 'undici/lib/dispatcher/agent.js';
import type { Http, HttpResponse } from './io.ts';

interface Target {
  origin: string;
  prefix: string;
}

const targetOf = (baseUrl: string): Target => {
  const url = new URL(baseUrl);
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') };
};

export function createPinnedHttp(baseUrls: readonly string[], caPem: string): Http & { current(): string } {
  if (baseUrls.length === 0) throw new Error('createPinnedHttp: no coordinator URL');
  const dispatcher = new UndiciAgent({ connect: { ca: caPem, rejectUnauthorized: true }, keepAliveTimeout: 60_000 });
  const targets = baseUrls.map(targetOf);
  let at = 0;
  /** One request to the current replica; moves on as the header comment says. */
  const send = async (
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body: string | Readable | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> => {
    const target = targets[at]!;
    let res: Awaited<ReturnType<typeof undiciRequest>>;
    try {
      res = await undiciRequest.call(dispatcher, {
        origin: target.origin,
        path: `${target.prefix}${path}`,
        method,
        headers: { accept: 'application/json', ...headers },
        ...(body === undefined ? {} : { body }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      // Unreachable (or aborted): the next request tries the next replica. An abort is ours, not the replica's.
      if (!signal?.aborted) at = (at + 1) % targets.length;
      throw error;
    }
    const text = await res.body.text();
    let parsed: unknown = null;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.statusCode === 503) {
      const leader = res.headers['x-kubeseed-leader'];
      const next = typeof leader === 'string' ? targets.findIndex((t) => `${t.origin}${t.prefix}` === leader.replace(/\/+$/, '')) : -1;
      if (next >= 0) at = next;
    }
    const dateHeader = res.headers.date;
    const date = typeof dateHeader === 'string' ? Date.parse(dateHeader) : Number.NaN;
    return { status: res.statusCode, body: parsed, ...(Number.isFinite(date) ? { date } : {}) };
  };
  return {
    current: () => `${targets[at]!.origin}${targets[at]!.prefix}`,
    request({ method, path, body, headers, timeoutMs, signal }) {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const type: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json' };
      return send(method, path, { ...type, ...headers }, payload, timeoutMs, signal);
    },
    async upload({ path, file, headers, timeoutMs, signal }) {
      const size = (await stat(file)).size;
      return send('POST', path, { 'content-length': String(size), ...headers }, createReadStream(file), timeoutMs, signal);
    },
    close: () => dispatcher.close(),
  };
}
