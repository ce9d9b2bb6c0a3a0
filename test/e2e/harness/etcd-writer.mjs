#!/usr/bin/env node
// kubeseed e2e: an etcd v3 client for the renewal scenario, run INSIDE a test namespace
// (`ip netns exec NS node etcd-writer.mjs …`): never from the machine's own namespace. Talks to etcd's
// JSON gateway (/v3/kv/…) over TLS with a client certificate, like a client configured with every
// member's endpoint: a write goes to the endpoint that answered last and fails over to the others.
//
// usage:
//   etcd-writer.mjs write  --endpoints A,B,C --ca F --cert F --key F --prefix P --out FILE --stop FILE
//                          [--interval-ms 75] [--max-writes 4000] [--max-ms 420000]
//     One put every interval (bounded in count and time, or until the stop file exists); one JSON line
//     per attempt in FILE: {seq, key, start, end, ok, endpoint?, error?} (error: what failed on the way,
//     also when another endpoint then took the write).
//   etcd-writer.mjs keys   --endpoints … --ca … --cert … --key … --prefix P      → JSON array of keys
//   etcd-writer.mjs served --endpoint HOST:PORT --ca … --cert … --key …          → the serial the server presents
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';

const args = process.argv.slice(3);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
};
const tls = { ca: readFileSync(arg('ca')), cert: readFileSync(arg('cert')), key: readFileSync(arg('key')) };
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');

function post(endpoint, path, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, endpoint);
    const req = request(url, { method: 'POST', ...tls, timeout: timeoutMs, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () =>
        res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`HTTP ${res.statusCode} ${text.slice(0, 200)}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function write() {
  const endpoints = arg('endpoints').split(',');
  const interval = Number(arg('interval-ms', '75'));
  const maxWrites = Number(arg('max-writes', '4000'));
  const maxMs = Number(arg('max-ms', '420000'));
  const out = arg('out');
  const stop = arg('stop');
  const prefix = arg('prefix');
  const began = Date.now();
  let current = 0;
  for (let seq = 0; seq < maxWrites && Date.now() - began < maxMs && !existsSync(stop); seq++) {
    const start = Date.now();
    const key = `${prefix}${String(seq).padStart(6, '0')}`;
    const record = { seq, key, start, ok: false };
    const errors = [];
    for (let tries = 0; tries < endpoints.length && !record.ok; tries++) {
      const endpoint = endpoints[(current + tries) % endpoints.length];
      try {
        await post(endpoint, '/v3/kv/put', { key: b64(key), value: b64(String(start)) }, 1000);
        record.ok = true;
        record.endpoint = endpoint;
        current = (current + tries) % endpoints.length;
      } catch (error) {
        errors.push(`${endpoint}: ${error.message}`);
      }
    }
    if (errors.length > 0) record.error = errors.join('; ');
    if (!record.ok) current = (current + 1) % endpoints.length;
    record.end = Date.now();
    appendFileSync(out, `${JSON.stringify(record)}\n`);
    const wait = start + interval - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

async function keys() {
  const prefix = arg('prefix');
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  for (const endpoint of arg('endpoints').split(',')) {
    try {
      const r = await post(
        endpoint,
        '/v3/kv/range',
        { key: b64(prefix), range_end: b64(end), keys_only: true, serializable: false },
        10_000,
      );
      process.stdout.write(JSON.stringify((r.kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString('utf8'))));
      return;
    } catch (error) {
      process.stderr.write(`${endpoint}: ${error.message}\n`);
    }
  }
  process.exit(1);
}

function served() {
  const [host, port] = arg('endpoint').split(':');
  const socket = connect({ host, port: Number(port), ...tls, rejectUnauthorized: true, timeout: 5000 }, () => {
    process.stdout.write(socket.getPeerCertificate().serialNumber);
    socket.end();
  });
  socket.on('timeout', () => socket.destroy(new Error('no TLS answer in 5 s')));
  socket.on('error', (error) => {
    process.stderr.write(`${arg('endpoint')}: ${error.message}\n`);
    process.exit(1);
  });
}

const mode = process.argv[2];
if (mode === 'write') await write();
else if (mode === 'keys') await keys();
else if (mode === 'served') served();
else throw new Error(`unknown mode ${mode}: write, keys or served`);
