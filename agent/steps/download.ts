/**
 * Release tarballs that cni-apply installs before it runs anything (ADR 0017): fetched over HTTP(S)
 * with redirects followed (GitHub release assets redirect to their object store), refused unless
 * their SHA-256 is the pinned one, unpacked in-process (gzip, then ustar with PAX or GNU long
 * names) and written through the host `Fs` — no shell and no tar binary, so exactly this code runs
 * under a test root too. A stamp under the state directory records what was installed, so a
 * retried step downloads nothing twice.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import type { StepDownload } from '../../protocol/steps.ts';
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

function get(url: string, deadline: number, ca: readonly string[]): Promise<IncomingMessage> {
  const parsed = new URL(url);
  const https = parsed.protocol === 'https:';
  const request = https ? httpsRequest : parsed.protocol === 'http:' ? httpRequest : null;
  if (!request) return Promise.reject(new StepFailure('download-failed', `${url}: only http and https URLs can be downloaded`, true));
  const options = {
    method: 'GET',
    timeout: Math.max(1, deadline - Date.now()),
    ...(https && ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = request(parsed, options, resolve);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The body of `url`, following redirects; StepFailure('download-failed') names the URL and the cause. */
export async function fetchBytes(url: string, options: { timeoutMs?: number; ca?: readonly string[] } = {}): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? DOWNLOAD_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let current = url;
  for (let hop = 0; ; hop++) {
    let res: IncomingMessage;
    try {
      res = await get(current, deadline, options.ca ?? []);
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
export async function installDownload(run: StepRun, download: StepDownload): Promise<void> {
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
  const bytes = await fetchBytes(url, { ca });
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
