/**
 * Release tarballs that cni-apply installs before it runs anything (ADR 0017): fetched over HTTP(S)
 * with redirects followed (GitHub release assets redirect to their object store), refused unless
 * their SHA-256 is the pinned one, unpacked in-process (gzip, then ustar with PAX or GNU long
 * names) and written through the host `Fs` — no shell and no tar binary, so exactly this code runs
 * under a test root too. A stamp under the state directory records what was installed, so a
 * retried step downloads nothing twice. Behind spec.proxy each request (each redirect hop too)
 * goes through the proxy unless its host is in the no-proxy list: http:// in absolute form to the
 * http proxy, https:// through a CONNECT tunnel to the https proxy, TLS end to end with the mirror.
 */
import { createHash } from 'node:crypto';
import { type ClientRequest, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type Socket } from 'node:net';
import { rootCertificates, connect as tlsConnect } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import type { StepDownload, StepDownloadProxy } from '../../protocol/steps.ts';
import { StepFailure, type StepRun } from './step-run.ts';

/** Far above a cilium-cli tarball (~60 MB) or a chart (~1 MB); bounds what a bad mirror can make us hold. */
const MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
/**
 * The host's CA bundle (Debian/Ubuntu/Flatcar, then Fedora), trusted next to Node's own roots:
 * an air-gapped mirror is usually signed by a site CA that the image has but Node does not.
 */
const HOST_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

export type GoArch = 'amd64' | 'arm64';

/** Release assets are named by Go's GOARCH; Node says x64 where Go says amd64. */
export function goArch(nodeArch: string = process.arch): GoArch {
  if (nodeArch === 'x64') return 'amd64';
  if (nodeArch === 'arm64') return 'arm64';
  throw new StepFailure('unsupported-architecture', `no pinned download for architecture ${nodeArch} (amd64 and arm64 are)`, true);
}

/** The URL and pinned SHA-256 of a download on this architecture. */
export function resolveDownload(download: StepDownload, arch: GoArch): { url: string; sha256: string } {
  const sha256 = typeof download.sha256 === 'string' ? download.sha256 : download.sha256[arch];
  return { url: download.url.replaceAll('{arch}', arch), sha256: sha256.toLowerCase() };
}

/** A URL's host without IPv6 brackets or a trailing dot, lower-cased: what no-proxy entries compare to. */
function bareHost(url: URL): string {
  return url.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

function effectivePort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/** An entry's host and optional port: `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address. */
function splitEntry(entry: string): { host: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
  if (v6) return { host: v6[1] as string, ...(v6[2] !== undefined ? { port: v6[2] } : {}) };
  const colon = entry.lastIndexOf(':');
  if (colon === -1 || entry.indexOf(':') !== colon) return { host: entry };
  return { host: entry.slice(0, colon), port: entry.slice(colon + 1) };
}

/**
 * Whether `url` bypasses the proxy, as curl (`--noproxy`, CIDRs since 7.86) and Go's
 * golang.org/x/net/http/httpproxy read NO_PROXY — the two readers of the same list on our hosts
 * (first boot fetches with curl; containerd is Go): `*` matches every host; `corp.lan`, `.corp.lan` and
 * `*.corp.lan` match corp.lan and every name below it (curl strips the dot; Go's leading-dot form
 * matches subdomains only, a difference that only matters for the bare name, which we bypass as
 * curl does); an IP matches itself, a CIDR every address inside it (names are not resolved, so a
 * name never matches a CIDR); `host:port` matches that port only (Go), and an entry whose port is
 * not a number matches nothing rather than failing the step. Unlike Go, loopback is not bypassed
 * implicitly: the plan always lists localhost and 127.0.0.1.
 */
export function noProxyMatches(url: URL, noProxy: readonly string[]): boolean {
  const host = bareHost(url);
  const hostIp = isIP(host);
  for (const raw of noProxy) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    const slash = entry.indexOf('/');
    if (slash !== -1) {
      const net = entry.slice(0, slash);
      const bits = Number(entry.slice(slash + 1));
      const family = isIP(net);
      if (!hostIp || family !== hostIp || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) continue;
      const list = new BlockList();
      list.addSubnet(net, bits, family === 4 ? 'ipv4' : 'ipv6');
      if (list.check(host, hostIp === 4 ? 'ipv4' : 'ipv6')) return true;
      continue;
    }
    const { host: name, port } = isIP(entry) === 6 ? { host: entry } : splitEntry(entry);
    if (port !== undefined && (!/^\d+$/.test(port) || Number(port) !== Number(effectivePort(url)))) continue;
    if (isIP(name)) {
      if (hostIp !== isIP(name)) continue;
      const list = new BlockList();
      list.addAddress(name, hostIp === 4 ? 'ipv4' : 'ipv6');
      if (list.check(host, hostIp === 4 ? 'ipv4' : 'ipv6')) return true;
      continue;
    }
    const domain = name.replace(/^\*?\./, '').replace(/\.$/, '');
    if (domain !== '' && !hostIp && (host === domain || host.endsWith(`.${domain}`))) return true;
  }
  return false;
}

/** The proxy for `url`, or undefined to connect directly. A proxy without a scheme is http:// (as Go reads it). */
function proxyFor(url: URL, proxy: StepDownloadProxy | undefined): URL | undefined {
  const setting = url.protocol === 'https:' ? proxy?.https : proxy?.http;
  if (!proxy || !setting || noProxyMatches(url, proxy.noProxy)) return undefined;
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(setting) ? setting : `http://${setting}`);
  } catch {
    throw new StepFailure(
      'download-failed',
      `spec.proxy.${url.protocol === 'https:' ? 'https' : 'http'} is not a URL; fix it in the spec`,
      true,
    );
  }
}

/** A proxy as reports name it: scheme, host and port, never its user or password. */
function proxyName(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

function proxyHeaders(proxy: URL): Record<string, string> {
  if (!proxy.username && !proxy.password) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** Options that reach `proxy` itself (TLS to it when it is an https:// proxy). */
function toProxy(proxy: URL, ca: readonly string[]): RequestOptions {
  return {
    host: proxy.hostname.replace(/^\[|\]$/g, ''),
    port: Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80)),
    ...(proxy.protocol === 'https:' && ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
  };
}

function send(req: ClientRequest, resolve: (res: IncomingMessage) => void, reject: (e: Error) => void): void {
  req.on('response', resolve);
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', reject);
  req.end();
}

/** A TLS socket to `target`'s host and port, through a CONNECT tunnel opened on `proxy`. */
function tunnel(target: URL, proxy: URL, timeout: number, ca: readonly string[]): Promise<Socket> {
  const authority = `${target.hostname}:${effectivePort(target)}`;
  const request = proxy.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request({
      ...toProxy(proxy, ca),
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyHeaders(proxy) },
      timeout,
      agent: false,
    });
    req.on('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(
          new StepFailure(
            'download-failed',
            `${target.href}: proxy ${proxyName(proxy)} answered CONNECT ${authority} with HTTP ${res.statusCode}`,
          ),
        );
        return;
      }
      if (head.length > 0) socket.unshift(head);
      const host = bareHost(target);
      const secure = tlsConnect({
        socket,
        host,
        ...(isIP(host) ? {} : { servername: host }),
        ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
      });
      secure.setTimeout(timeout, () => secure.destroy(new Error(`TLS handshake through proxy ${proxyName(proxy)} timed out`)));
      secure.once('close', () => socket.destroy());
      secure.once('secureConnect', () => {
        secure.setTimeout(0); // the GET's own timeout takes over
        resolve(secure);
      });
      secure.once('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`proxy ${proxyName(proxy)}: timed out`)));
    req.on('error', (e) => reject(new Error(`proxy ${proxyName(proxy)}: ${e.message}`)));
    req.end();
  });
}

async function get(
  url: string,
  deadline: number,
  ca: readonly string[],
  proxySettings: StepDownloadProxy | undefined,
): Promise<IncomingMessage> {
  const parsed = new URL(url);
  const https = parsed.protocol === 'https:';
  if (!https && parsed.protocol !== 'http:')
    throw new StepFailure('download-failed', `${url}: only http and https URLs can be downloaded`, true);
  const timeout = Math.max(1, deadline - Date.now());
  const proxy = proxyFor(parsed, proxySettings);
  if (proxy && !https) {
    // An http:// URL goes to the proxy in absolute form (RFC 9112 §3.2.2).
    const request = proxy.protocol === 'https:' ? httpsRequest : httpRequest;
    const options = {
      ...toProxy(proxy, ca),
      method: 'GET',
      path: parsed.href,
      headers: { host: parsed.host, ...proxyHeaders(proxy) },
      timeout,
    };
    return new Promise((resolve, reject) => send(request(options), resolve, reject));
  }
  if (proxy) {
    const socket = await tunnel(parsed, proxy, timeout, ca);
    // Plain HTTP framing over the tunnel's TLS socket: no agent, so the socket is this request's alone.
    const options: RequestOptions = {
      method: 'GET',
      path: `${parsed.pathname}${parsed.search}`,
      headers: { host: parsed.host },
      timeout: Math.max(1, deadline - Date.now()),
      createConnection: () => socket,
    };
    return new Promise((resolve, reject) => {
      const req = httpRequest(options);
      // Neither end closes a drained tunnel by itself (the mirror only half-closes): the request's end is the tunnel's.
      req.on('close', () => socket.destroy());
      send(req, resolve, reject);
    });
  }
  const options = { method: 'GET', timeout, ...(https && ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}) };
  const request = https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => send(request(parsed, options), resolve, reject));
}

/** The body of `url`, following redirects; StepFailure('download-failed') names the URL and the cause. */
export async function fetchBytes(
  url: string,
  options: { timeoutMs?: number; ca?: readonly string[]; proxy?: StepDownloadProxy } = {},
): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? DOWNLOAD_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let current = url;
  for (let hop = 0; ; hop++) {
    let res: IncomingMessage;
    try {
      res = await get(current, deadline, options.ca ?? [], options.proxy);
    } catch (error) {
      if (error instanceof StepFailure) throw error;
      throw new StepFailure('download-failed', `${current}: ${(error as Error).message}`);
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new StepFailure('download-failed', `${url}: more than ${MAX_REDIRECTS} redirects`);
      current = new URL(res.headers.location, current).toString();
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new StepFailure('download-failed', `${current}: HTTP ${status}`);
    }
    const declared = Number(res.headers['content-length'] ?? Number.NaN);
    if (declared > MAX_DOWNLOAD_BYTES) {
      res.destroy();
      throw new StepFailure('download-failed', `${current}: ${declared} bytes is more than the ${MAX_DOWNLOAD_BYTES} allowed`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_DOWNLOAD_BYTES) throw new Error(`more than ${MAX_DOWNLOAD_BYTES} bytes`);
        chunks.push(chunk);
      }
    } catch (error) {
      res.destroy();
      throw new StepFailure('download-failed', `${current}: ${(error as Error).message}`);
    }
    // A connection cut short ends the stream without an error; the declared length tells.
    if (Number.isFinite(declared) && size !== declared)
      throw new StepFailure('download-failed', `${current}: got ${size} of ${declared} bytes`);
    return Buffer.concat(chunks);
  }
}

export interface TarEntry {
  name: string;
  type: 'file' | 'directory' | 'other';
  mode: number;
  data: Buffer;
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

function octal(block: Buffer, start: number, length: number): number {
  const text = field(block, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`bad octal field "${text}"`);
  return Number.parseInt(text, 8);
}

/** The `path` record of a PAX extended header, if any. */
function paxPath(data: Buffer): string | undefined {
  let offset = 0;
  let path: string | undefined;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number(data.subarray(offset, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    offset += length;
  }
  return path;
}

/** The entries of a gzip'd tar archive (ustar, with PAX and GNU long names). Throws on a damaged archive. */
export function readTarGz(bytes: Buffer): TarEntry[] {
  const tar = gunzipSync(bytes);
  const entries: TarEntry[] = [];
  let longName: string | undefined;
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    const typeflag = String.fromCharCode(header[156] ?? 0);
    const data = tar.subarray(offset + 512, offset + 512 + size);
    if (data.length !== size) throw new Error('truncated archive');
    offset += 512 + Math.ceil(size / 512) * 512;
    if (typeflag === 'x' || typeflag === 'L') {
      longName = typeflag === 'x' ? paxPath(data) : field(data, 0, data.length);
      continue;
    }
    if (typeflag === 'g') continue;
    const prefix = field(header, 257, 6).startsWith('ustar') ? field(header, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    const type = typeflag === '0' || typeflag === '\0' ? 'file' : typeflag === '5' ? 'directory' : 'other';
    entries.push({ name, type, mode: octal(header, 100, 8), data: Buffer.from(data) });
  }
  return entries;
}

/** An entry's path relative to the archive root, or null when it would leave the target directory. */
export function entryPath(name: string): string | null {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || parts.some((p) => p === '..')) return null;
  return parts.join('/');
}

/**
 * A hash as it may appear in a report: 64 hex digits look like a kubeadm certificate key to the
 * redactor, so only a prefix is shown — enough to tell two files apart; the plan has the whole pin.
 */
function shortHash(hex: string): string {
  return `${hex.slice(0, 16)}…`;
}

function stampPath(run: StepRun, path: string): string {
  return `${run.ctx.stateDir}/downloads${path}.sha256`;
}

/** Installs one released download (see StepDownload); a no-op when the stamp says it is already there. */
export async function installDownload(run: StepRun, download: StepDownload, proxy?: StepDownloadProxy): Promise<void> {
  const { url, sha256 } = resolveDownload(download, goArch());
  const fs = run.fs;
  const stamp = stampPath(run, download.path);
  if ((await fs.readText(stamp))?.trim() === sha256 && (await fs.exists(download.path))) {
    run.note(`${download.path}: already installed (sha256 ${shortHash(sha256)})`);
    return;
  }
  run.note(`downloading ${url}`);
  const ca: string[] = [];
  for (const bundle of HOST_CA_BUNDLES) {
    const text = await fs.readText(bundle);
    if (text) {
      ca.push(text);
      break;
    }
  }
  const bytes = await fetchBytes(url, { ca, ...(proxy ? { proxy } : {}) });
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw new StepFailure(
      'download-sha256-mismatch',
      `${url}: sha256 ${shortHash(actual)}, pinned ${shortHash(sha256)}; refused (the mirror serves another file, or the download is damaged)`,
    );
  }
  let entries: TarEntry[];
  try {
    entries = readTarGz(bytes);
  } catch (error) {
    throw new StepFailure('download-unreadable', `${url}: not a .tar.gz archive (${(error as Error).message})`, true);
  }
  if (download.member !== undefined) {
    const wanted = entryPath(download.member);
    const entry = entries.find((e) => e.type === 'file' && entryPath(e.name) === wanted);
    if (!entry) throw new StepFailure('download-member-missing', `${url} holds no ${download.member}`, true);
    await fs.writeBytes(download.path, entry.data, 0o755);
  } else {
    await fs.remove(download.path); // a tree from another version must not leave files behind
    for (const entry of entries) {
      if (entry.type !== 'file') continue;
      const rel = entryPath(entry.name);
      if (!rel) throw new StepFailure('download-unsafe-path', `${url}: entry ${entry.name} would leave ${download.path}`, true);
      await fs.writeBytes(`${download.path}/${rel}`, entry.data, 0o644);
    }
  }
  await fs.writeText(stamp, `${sha256}\n`, 0o644);
  run.note(`installed ${download.path} from ${url} (sha256 ${shortHash(sha256)})`);
}
