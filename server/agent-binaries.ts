/**
 * Serves the agent single executables from the dist directory: gzip-compressed once and cached
 * (keyed by size and mtime, so a rebuild is picked up), with the SHA-256 of the UNCOMPRESSED
 * executable for `sha256sum -c` after `gunzip`. Range requests apply to the gzip bytes, so an
 * interrupted download resumes.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

export const AGENT_ARCHES = { 'linux-amd64': 'kubeseed-agent-linux-x64', 'linux-arm64': 'kubeseed-agent-linux-arm64' } as const;
export type AgentArch = keyof typeof AGENT_ARCHES;

export interface AgentBinary {
  gz: Buffer;
  /** Hex SHA-256 of the uncompressed executable. */
  sha256: string;
  etag: string;
  mtime: Date;
}

export class AgentBinaries {
  private readonly cache = new Map<AgentArch, { key: string; value: Promise<AgentBinary> }>();

  constructor(readonly distDir: string | undefined) {}

  /** The compressed executable, or null when it was not built. */
  async get(arch: AgentArch): Promise<AgentBinary | null> {
    if (!this.distDir) return null;
    const path = join(this.distDir, AGENT_ARCHES[arch]);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      return null;
    }
    if (!info.isFile()) return null;
    const key = `${info.size}:${info.mtimeMs}`;
    const cached = this.cache.get(arch);
    if (cached?.key === key) return cached.value;
    const value = (async () => {
      const raw = await readFile(path);
      const sha256 = createHash('sha256').update(raw).digest('hex');
      const gz = await gzipAsync(raw, { level: 6 });
      return { gz, sha256, etag: `"${sha256.slice(0, 32)}-gz"`, mtime: info.mtime };
    })();
    // A failed read must not stick in the cache.
    value.catch(() => this.cache.delete(arch));
    this.cache.set(arch, { key, value });
    return value;
  }
}

/** Parses a single `bytes=` range against a length; null = ignore the header, 'unsatisfiable' = 416. */
export function parseRange(header: string | undefined, length: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, from, to] = match;
  if (from === '' && to === '') return null;
  let start: number;
  let end: number;
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, length - suffix);
    end = length - 1;
  } else {
    start = Number(from);
    end = to === '' ? length - 1 : Math.min(Number(to), length - 1);
  }
  if (start >= length || start > end) return 'unsatisfiable';
  return { start, end };
}
