/**
 * Node implementations of the agent's I/O interfaces: a filesystem under an injectable root,
 * `spawn` without a shell and with bounded output, DNS/TCP/TLS probes, the system clock and
 * crypto randomness.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { isIP, Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Clock, Exec, ExecOptions, ExecResult, Fs, Net, Random, TcpProbeResult } from './io.ts';

/** Output kept per command: the tail, so the end of a long kubeadm run is what gets reported. */
export const MAX_OUTPUT_BYTES = 64 * 1024;

/** Maps a host path below `root` ('/' on a real host). Refuses relative paths and `..` escapes. */
export function resolveHostPath(root: string, hostPath: string): string {
  if (!hostPath.startsWith('/')) throw new Error(`not an absolute host path: ${hostPath}`);
  const full = resolve(root, `.${hostPath}`);
  const base = resolve(root);
  if (full !== base && !full.startsWith(base === '/' ? '/' : `${base}/`)) throw new Error(`path escapes the root: ${hostPath}`);
  return full;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function createRootFs(root: string): Fs {
  const at = (p: string) => resolveHostPath(root, p);
  let counter = 0;
  const write = async (path: string, content: string | Uint8Array, mode: number) => {
    const target = at(path);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    const tmp = `${target}.kubeseed-tmp-${process.pid}-${counter++}`;
    await writeFile(tmp, content, { mode });
    await chmod(tmp, mode); // the umask must not widen or narrow what the step asked for
    await rename(tmp, target);
  };
  return {
    realPath: at,
    async readText(path) {
      try {
        return await readFile(at(path), 'utf8');
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
    },
    async writeText(path, content, mode) {
      await write(path, content, mode);
    },
    async writeBytes(path, content, mode) {
      await write(path, content, mode);
    },
    async remove(path) {
      await rm(at(path), { recursive: true, force: true });
    },
    async exists(path) {
      try {
        await stat(at(path));
        return true;
      } catch (error) {
        if (isMissing(error)) return false;
        throw error;
      }
    },
    async list(path) {
      try {
        return (await readdir(at(path))).sort();
      } catch (error) {
        if (isMissing(error)) return [];
        throw error;
      }
    },
    async mode(path) {
      try {
        return (await stat(at(path))).mode & 0o7777;
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
    },
  };
}

/** Keeps the last `limit` bytes of a stream. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.limit && this.chunks.length > 1) {
      this.size -= this.chunks.shift()?.length ?? 0;
    }
  }
  toString(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

export function createNodeExec(defaults: { env?: Record<string, string | undefined>; maxOutputBytes?: number } = {}): Exec {
  const limit = defaults.maxOutputBytes ?? MAX_OUTPUT_BYTES;
  return {
    run(argv, options: ExecOptions = {}) {
      return new Promise<ExecResult>((done) => {
        const [file, ...args] = argv;
        if (!file) {
          done({ code: null, output: 'empty argv', notFound: true, timedOut: false });
          return;
        }
        const env = { ...(defaults.env ?? process.env), ...options.env } as NodeJS.ProcessEnv;
        const tail = new TailBuffer(limit);
        let timedOut = false;
        let settled = false;
        const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
        const timer = options.timeoutMs
          ? setTimeout(() => {
              timedOut = true;
              child.kill('SIGKILL');
            }, options.timeoutMs)
          : undefined;
        child.stdout.on('data', (c: Buffer) => tail.push(c));
        child.stderr.on('data', (c: Buffer) => tail.push(c));
        child.on('error', (error: NodeJS.ErrnoException) => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          done({ code: null, output: String(error.message), notFound: error.code === 'ENOENT', timedOut });
        });
        child.on('close', (code) => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          done({ code, output: tail.toString(), notFound: false, timedOut });
        });
      });
    },
  };
}

export function createNodeNet(): Net {
  return {
    async resolve(host) {
      if (isIP(host)) return [host];
      const addresses = await lookup(host, { all: true });
      return addresses.map((a) => a.address);
    },
    tcpProbe(host, port, timeoutMs) {
      return new Promise<TcpProbeResult>((done) => {
        const socket = new Socket();
        const finish = (result: TcpProbeResult) => {
          socket.destroy();
          done(result);
        };
        socket.setTimeout(timeoutMs, () => finish('timeout'));
        socket.once('connect', () => finish('accepted'));
        socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code === 'ECONNREFUSED' ? 'refused' : 'unreachable'));
        socket.connect(port, host);
      });
    },
    tlsRequest({ url, method, body, tls, timeoutMs }) {
      return new Promise((done, fail) => {
        const req = httpsRequest(
          url,
          {
            method,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            timeout: timeoutMs,
            headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', fail);
          },
        );
        req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
        req.on('error', fail);
        req.end(body);
      });
    },
  };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((done) => {
      if (signal?.aborted) return done();
      const timer = setTimeout(done, ms);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          done();
        },
        { once: true },
      );
    }),
};

export const cryptoRandom: Random = {
  next: () => randomBytes(4).readUInt32BE(0) / 2 ** 32,
  hex: (bytes) => randomBytes(bytes).toString('hex'),
};

/** Joins a state-dir relative name (sentinels, keys) onto the state dir. */
export function statePath(stateDir: string, ...parts: string[]): string {
  return join(stateDir, ...parts);
}
