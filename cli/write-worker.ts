/**
 * The thread that writes `kubeseed generate`'s files (docs/adr/0016). The main thread renders host
 * after host and posts each host's files here; this thread writes them with plain synchronous
 * calls, so the kernel's work of creating thousands of files runs on the other core while the
 * next host is rendered. A file whose bytes and mode are already right is left alone, mtime
 * included: re-running generate after a spec edit touches only what changed (tools that sync
 * snippets or seed images by mtime see the truth), and reading is much cheaper than rewriting.
 *
 * Runtime contract: Node built-ins only; started by artifact-sink.ts, from the CLI bundle as
 * dist/cli/write-worker.js or from the sources through tsx. Messages: WriteRequest in,
 * WriteReply out; after the first failure nothing more is written.
 */
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Artifact } from '../generator/render/index.ts';
import { layoutNoCloudSeed } from '../generator/render/iso9660.ts';

export type WriteRequest = { kind: 'files'; files: readonly Artifact[] } | { kind: 'close' };

export type WriteReply = { kind: 'written' } | { kind: 'failed'; message: string; code: string | undefined } | { kind: 'closed' };

export interface WriteWorkerData {
  /** Marks this thread as the write worker (other worker threads may import the module). */
  role: 'kubeseed-write-worker';
  out: string;
  /** The process umask (a worker thread cannot ask for it reliably). */
  umask: number;
}

/** `sameContentMode` of a file that does not exist. */
const MISSING = -1;

/** Writes files under one output directory, leaving alone those already right. */
export class FileWriter {
  private readonly dirs = new Set<string>();
  /** One read buffer and one image buffer, grown as needed and reused from file to file. */
  private scratch = Buffer.alloc(0);
  private image = Buffer.alloc(0);

  constructor(
    private readonly out: string,
    private readonly umask: number,
  ) {}

  write(file: Artifact): void {
    const path = join(this.out, file.path);
    const content = this.bytesOf(file.content);
    const dir = dirname(path);
    if (!this.dirs.has(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      this.dirs.add(dir);
    }
    const mode = this.sameContentMode(path, content);
    if (mode === file.mode) return;
    if (mode === null || mode === MISSING) {
      writeFileSync(path, content, { mode: file.mode });
      // A file is created with `mode & ~umask`: chmod only when the umask took bits away.
      if (mode === MISSING && (file.mode & this.umask) === 0) return;
    }
    // Also for files already there: `mode` applies on create only, and a loosened mode must be fixed.
    chmodSync(path, file.mode);
  }

  /** Text and bytes as they are; a seed image laid out into the reused image buffer. */
  private bytesOf(content: Artifact['content']): string | Uint8Array {
    if (typeof content === 'string' || content instanceof Uint8Array) return content;
    const image = layoutNoCloudSeed(content.noCloudSeed);
    if (this.image.length < image.size) this.image = Buffer.alloc(Math.max(image.size, 2 * this.image.length));
    const bytes = this.image.subarray(0, image.size);
    bytes.fill(0);
    image.writeInto(bytes);
    return bytes;
  }

  /** The file's permission bits when it holds exactly `want`, MISSING when there is no such file, else null. */
  private sameContentMode(path: string, want: string | Uint8Array): number | null {
    const size = typeof want === 'string' ? Buffer.byteLength(want, 'utf8') : want.byteLength;
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      const st = fstatSync(fd);
      if (!st.isFile() || st.size !== size) return null;
      if (this.scratch.length < size) this.scratch = Buffer.alloc(Math.max(size, 2 * this.scratch.length, 1 << 20));
      if (readSync(fd, this.scratch, 0, size, 0) !== size) return null;
      const have = this.scratch.subarray(0, size);
      const same = typeof want === 'string' ? have.toString('utf8') === want : have.equals(want);
      return same ? st.mode & 0o7777 : null;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? MISSING : null;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}

function serve(): void {
  const port = parentPort!;
  const { out, umask } = workerData as WriteWorkerData;
  const writer = new FileWriter(out, umask);
  let failed = false;
  const reply = (r: WriteReply) => port.postMessage(r);
  port.on('message', (request: WriteRequest) => {
    if (request.kind === 'close') {
      reply({ kind: 'closed' });
      port.close();
      return;
    }
    if (failed) return;
    try {
      for (const file of request.files) writer.write(file);
      reply({ kind: 'written' });
    } catch (e) {
      failed = true;
      const err = e as NodeJS.ErrnoException;
      reply({ kind: 'failed', message: err.message, code: err.code });
    }
  });
}

if (!isMainThread && (workerData as WriteWorkerData | undefined)?.role === 'kubeseed-write-worker') serve();
