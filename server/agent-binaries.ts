/**
 * The agent single executables in the dist directory (`npm run build`): `readAgentExecutable` is the
 * one way they are read and digested, by the coordinator that serves them and by `kubeseed
 * generate`, which writes the digest into Ignition's `verification.hash`. `AgentBinaries` serves
 * them gzip-compressed once and cached (keyed by size and mtime, so a rebuild is picked up), with
 * the SHA-256 of the UNCOMPRESSED executable for `sha256sum -c` after `gunzip`. Range requests
 * apply to the gzip bytes, so an interrupted download resumes.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { packageRoot } from '../generator/util/package-root.ts';

const gzipAsync = promisify(gzip);

export const AGENT_ARCHES = { 'linux-amd64': 'kubeseed-agent-linux-x64', 'linux-arm64': 'kubeseed-agent-linux-arm64' } as const;
export type AgentArch = keyof typeof AGENT_ARCHES;

/**
 * Why `kubeseed serve` must not start with this dist directory, or null when it may: every
 * executable of AGENT_ARCHES present (machines fetch `/agent/linux-<arch>` at first boot, and a
 * 404 there is only visible on a VM console). `agentMirror` (spec.mirrors.agent) serves them
 * instead. The fix named depends on where kubeseed runs: a clone builds them, an installed package
 * shipped them (docs/adr/0025).
 */
export function agentExecutablesRefusal(distDir: string, agentMirror?: string): string | null {
  if (agentMirror) return null;
  const missing = Object.values(AGENT_ARCHES).filter((file) => {
    try {
      return !statSync(join(distDir, file)).isFile();
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return null;
  const root = dirname(distDir);
  const clone = existsSync(join(root, 'scripts', 'build.mjs')) && existsSync(join(root, 'node_modules', 'postject'));
  const fix = clone
    ? `run \`npm run build\` in ${root} (about 30 s; it needs the npm registry once, or a warm npm cache)`
    : `reinstall kubeseed from a tarball that contains them (\`npm pack\` in a clone builds them; \`npm install -g ./kubeseed-*.tgz\`)`;
  return `the agent executables ${missing.join(', ')} are missing in ${distDir}: machines would get 404 from /agent/linux-<arch> at first boot. Fix: ${fix}, pass --dist DIR where they are, or set spec.mirrors.agent to a server that has them`;
}

export interface AgentBinary {
  gz: Buffer;
  /** Hex SHA-256 of the uncompressed executable. */
  sha256: string;
  etag: string;
  mtime: Date;
}

/** Where `npm run build` puts the executables: the default `--dist` of `kubeseed serve` and `generate`. */
export function defaultDistDir(): string {
  return join(packageRoot(import.meta.dirname), 'dist');
}

/** A built executable found on disk: where, and what identifies this build of it (size and mtime). */
export interface AgentExecutableFile {
  path: string;
  key: string;
  mtime: Date;
}

/** The executable of `arch` in `distDir`, or null when it was not built. */
export async function findAgentExecutable(distDir: string, arch: AgentArch): Promise<AgentExecutableFile | null> {
  const path = join(distDir, AGENT_ARCHES[arch]);
  try {
    const info = await stat(path);
    return info.isFile() ? { path, key: `${info.size}:${info.mtimeMs}`, mtime: info.mtime } : null;
  } catch {
    return null;
  }
}

/** The executable's bytes and the hex SHA-256 of them (the digest install-agent.sh and Ignition check after gunzip). */
export async function readAgentExecutable(file: AgentExecutableFile): Promise<{ raw: Buffer; sha256: string }> {
  const raw = await readFile(file.path);
  return { raw, sha256: createHash('sha256').update(raw).digest('hex') };
}

export class AgentBinaries {
  private readonly cache = new Map<AgentArch, { key: string; value: Promise<AgentBinary> }>();

  constructor(readonly distDir: string | undefined) {}

  /** The compressed executable, or null when it was not built. */
  async get(arch: AgentArch): Promise<AgentBinary | null> {
    if (!this.distDir) return null;
    const file = await findAgentExecutable(this.distDir, arch);
    if (!file) return null;
    const cached = this.cache.get(arch);
    if (cached?.key === file.key) return cached.value;
    const value = (async () => {
      const { raw, sha256 } = await readAgentExecutable(file);
      const gz = await gzipAsync(raw, { level: 6 });
      return { gz, sha256, etag: `"${sha256.slice(0, 32)}-gz"`, mtime: file.mtime };
    })();
    // A failed read must not stick in the cache.
    value.catch(() => this.cache.delete(arch));
    this.cache.set(arch, { key: file.key, value });
    return value;
  }
}
