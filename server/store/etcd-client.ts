/**
 * A small client for etcd's v3 JSON gateway (`/v3/kv/range`, `/v3/kv/txn`, `/v3/watch`), which
 * every etcd ≥ 3.4 serves on its client URLs beside gRPC (docs/adr/0032-etcd-store-through-the-json-gateway.md).
 * Keys and values travel base64-encoded and 64-bit numbers as strings (proto3 JSON mapping);
 * fields at their default are omitted, so a failed Txn has no `succeeded` and a PUT event no `type`.
 *
 * Requests go to the first endpoint that answers; a connection error moves on to the next one.
 * Every request has a deadline. TLS: the CA that signed the etcd servers' certificates, and a
 * client certificate and key when etcd runs with `--client-cert-auth`.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { StoreError } from './types.ts';

export interface EtcdTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface EtcdClientOptions {
  /** Client URLs, e.g. `https://10.0.0.1:2379`. */
  endpoints: string[];
  tls?: EtcdTls;
  /** Deadline of one request (default 5 s). */
  requestTimeoutMs?: number;
}

export interface EtcdKv {
  key: string;
  value: string;
  modRevision: number;
  createRevision: number;
  /** The lease the key is attached to ('0': none), as etcd prints it. */
  lease: string;
}

export type EtcdOp = { put: { key: string; value: string; lease?: string } } | { delete: { key: string } };

export interface EtcdCompare {
  key: string;
  /** Compare the key's last write (`mod`, default) or its creation (`create`). */
  target?: 'mod' | 'create';
  /** The key's mod_revision (or create_revision) must equal this (0: the key must not exist). */
  modRevision: number;
}

export interface EtcdEvent {
  type: 'put' | 'delete';
  kv: EtcdKv;
}

interface WireKv {
  key: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
  lease?: string;
}

const b64 = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The smallest key greater than every key starting with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = bytes[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

function toKv(kv: WireKv): EtcdKv {
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    modRevision: Number(kv.mod_revision ?? 0),
    createRevision: Number(kv.create_revision ?? 0),
    lease: kv.lease ?? '0',
  };
}

/** Is the error one where the request may or may not have reached etcd (the caller must find out)? */
export class EtcdUnavailableError extends StoreError {}

export class EtcdClient {
  private readonly endpoints: URL[];
  private readonly timeoutMs: number;
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 8 });
  private readonly httpsAgent: HttpsAgent;
  /** The endpoint tried first: the last one that answered. */
  private current = 0;
  private closed = false;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new StoreError('etcd: no endpoint given');
    this.endpoints = options.endpoints.map((e) => {
      const url = new URL(e);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StoreError(`etcd endpoint ${e}: use http:// or https://`);
      return url;
    });
    this.timeoutMs = options.requestTimeoutMs ?? 5000;
    this.httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 8, ...(options.tls ?? {}) });
  }

  /** Every key starting with `prefix`, and the store revision the answer is from. */
  async rangePrefix(prefix: string): Promise<{ kvs: EtcdKv[]; revision: number }> {
    const body = (await this.call('/v3/kv/range', { key: b64(prefix), range_end: b64(prefixEnd(prefix)) })) as {
      header?: { revision?: string };
      kvs?: WireKv[];
    };
    return { kvs: (body.kvs ?? []).map(toKv), revision: Number(body.header?.revision ?? 0) };
  }

  async get(key: string): Promise<EtcdKv | undefined> {
    const body = (await this.call('/v3/kv/range', { key: b64(key) })) as { kvs?: WireKv[] };
    const kv = body.kvs?.[0];
    return kv ? toKv(kv) : undefined;
  }

  /** One etcd Txn: if every compare holds, apply `ops` atomically. */
  async txn(compare: EtcdCompare[], ops: EtcdOp[]): Promise<{ succeeded: boolean; revision: number }> {
    const body = (await this.call('/v3/kv/txn', {
      compare: compare.map((c) =>
        c.target === 'create'
          ? { key: b64(c.key), target: 'CREATE', result: 'EQUAL', create_revision: String(c.modRevision) }
          : { key: b64(c.key), target: 'MOD', result: 'EQUAL', mod_revision: String(c.modRevision) },
      ),
      success: ops.map((op) =>
        'put' in op
          ? { request_put: { key: b64(op.put.key), value: b64(op.put.value), ...(op.put.lease ? { lease: op.put.lease } : {}) } }
          : { request_delete_range: { key: b64(op.delete.key) } },
      ),
    })) as { header?: { revision?: string }; succeeded?: boolean };
    return { succeeded: body.succeeded === true, revision: Number(body.header?.revision ?? 0) };
  }

  /** A lease of `ttlSeconds`; its ID as etcd prints it (a 64-bit number, kept as a string). */
  async grantLease(ttlSeconds: number): Promise<string> {
    const body = (await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) })) as { ID?: string };
    if (!body.ID) throw new StoreError('etcd granted no lease');
    return body.ID;
  }

  /** Renews the lease; the TTL left (0: the lease has expired or was revoked). */
  async keepAlive(id: string): Promise<number> {
    const body = (await this.call('/v3/lease/keepalive', { ID: id })) as { result?: { TTL?: string } };
    return Number(body.result?.TTL ?? 0);
  }

  async revokeLease(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  /**
   * Watches every key under `prefix` from `startRevision` on, calling `onEvents` in order. Ends
   * (resolving) when `signal` aborts; rejects when the stream breaks or etcd cancels the watch
   * (e.g. the revision was compacted: `compacted` says so), so the caller can reload and resume.
   */
  watchPrefix(
    prefix: string,
    startRevision: number,
    onEvents: (events: EtcdEvent[], revision: number) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const endpoint = this.endpoints[this.current]!;
    const payload = JSON.stringify({
      create_request: { key: b64(prefix), range_end: b64(prefixEnd(prefix)), start_revision: String(startRevision) },
    });
    return new Promise<void>((resolve, reject) => {
      const req = this.send(endpoint, '/v3/watch', payload, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new EtcdUnavailableError(`etcd ${endpoint.origin}: watch answered HTTP ${res.statusCode}`));
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line === '') continue;
            const message = JSON.parse(line) as {
              result?: {
                header?: { revision?: string };
                events?: { type?: string; kv: WireKv }[];
                canceled?: boolean;
                compact_revision?: string;
                cancel_reason?: string;
              };
              error?: { message?: string };
            };
            const result = message.result;
            if (!result) {
              req.destroy();
              reject(new EtcdUnavailableError(`etcd ${endpoint.origin}: watch error ${message.error?.message ?? line}`));
              return;
            }
            if (result.canceled) {
              req.destroy();
              const compacted = result.compact_revision !== undefined && result.compact_revision !== '0';
              reject(
                Object.assign(
                  new EtcdUnavailableError(`etcd ${endpoint.origin}: watch canceled (${result.cancel_reason ?? 'compacted'})`),
                  {
                    compacted,
                  },
                ),
              );
              return;
            }
            if (result.events?.length)
              onEvents(
                result.events.map((e) => ({ type: e.type === 'DELETE' ? 'delete' : 'put', kv: toKv(e.kv) })),
                Number(result.header?.revision ?? 0),
              );
          }
        });
        res.on('end', () => (signal.aborted ? resolve() : reject(new EtcdUnavailableError(`etcd ${endpoint.origin}: watch stream ended`))));
        res.on('error', (error) =>
          signal.aborted ? resolve() : reject(new EtcdUnavailableError(`etcd ${endpoint.origin}: ${error.message}`, error)),
        );
      });
      // A watch has no deadline, only the caller's signal.
      req.setTimeout(0);
      req.on('error', (error) => {
        if (signal.aborted) resolve();
        else {
          this.current = (this.current + 1) % this.endpoints.length;
          reject(new EtcdUnavailableError(`etcd ${endpoint.origin}: ${error.message}`, error));
        }
      });
      const abort = () => req.destroy();
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
    });
  }

  /** Cuts every connection, requests in flight included; later calls fail at once. */
  close(): void {
    this.closed = true;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** POSTs `body` to the first endpoint that answers (starting from the last good one). */
  private async call(path: string, body: unknown): Promise<unknown> {
    const payload = JSON.stringify(body);
    const errors: string[] = [];
    for (let tried = 0; tried < this.endpoints.length; tried++) {
      if (this.closed) throw new StoreError(`etcd client closed: ${path} not sent`);
      const index = (this.current + tried) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      try {
        const answer = await this.once(endpoint, path, payload);
        this.current = index;
        return answer;
      } catch (error) {
        if (!(error instanceof EtcdUnavailableError)) throw error;
        errors.push(error.message);
      }
    }
    throw new EtcdUnavailableError(`etcd unreachable: ${errors.join('; ')}`);
  }

  private once(endpoint: URL, path: string, payload: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = this.send(endpoint, path, payload, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('error', (error) => reject(new EtcdUnavailableError(`etcd ${endpoint.origin}${path}: ${error.message}`, error)));
        res.on('end', () => {
          let parsed: { error?: string; message?: string } & Record<string, unknown>;
          try {
            parsed = JSON.parse(text);
          } catch {
            reject(new StoreError(`etcd ${endpoint.origin}${path}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`));
            return;
          }
          if (res.statusCode === 200) resolve(parsed);
          // 503 (no leader, etcdserver: request timed out) may have been applied or not: unavailable.
          else if (res.statusCode === 503)
            reject(new EtcdUnavailableError(`etcd ${endpoint.origin}${path}: ${parsed.message ?? parsed.error ?? text}`));
          else reject(new StoreError(`etcd ${endpoint.origin}${path}: HTTP ${res.statusCode}: ${parsed.message ?? parsed.error ?? text}`));
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (error) => reject(new EtcdUnavailableError(`etcd ${endpoint.origin}${path}: ${error.message}`, error)));
    });
  }

  private send(endpoint: URL, path: string, payload: string, onResponse: (res: IncomingMessage) => void) {
    const https = endpoint.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(
      {
        host: endpoint.hostname,
        port: endpoint.port || 2379,
        path,
        method: 'POST',
        agent: https ? this.httpsAgent : this.httpAgent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      onResponse,
    );
    req.end(payload);
    return req;
  }
}
