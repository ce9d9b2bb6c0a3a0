/**
 * The main thread's side of writing `kubeseed generate`'s files (docs/adr/0016): `push` hands one
 * host's files to the write worker (write-worker.ts) and returns at once, so rendering the next
 * host overlaps with the kernel creating this host's files (and laying out its seed ISO) on the
 * other core. Artifacts are plain data and cross by structured clone. At most MAX_BATCHES_IN_FLIGHT
 * batches wait unanswered, so a large fleet never sits in memory whole; `close` resolves when
 * every file is written and rejects with the first write that failed.
 */
import { Worker } from 'node:worker_threads';
import type { Artifact } from '../generator/render/index.ts';
import type { WriteReply, WriteRequest, WriteWorkerData } from './write-worker.ts';

/** Batches (one host's files each) posted but not yet written: ~100 KB each for a cloud-init host. */
const MAX_BATCHES_IN_FLIGHT = 64;

/** The worker from the CLI bundle (dist/cli/write-worker.js), or from its TypeScript source through tsx. */
function startWriteWorker(workerData: WriteWorkerData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./write-worker.js', import.meta.url), { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./write-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

export class ArtifactSink {
  private readonly worker: Worker;
  private unanswered = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly finished: Promise<void>;

  constructor(out: string) {
    this.worker = startWriteWorker({ role: 'kubeseed-write-worker', out, umask: process.umask() });
    this.finished = new Promise<void>((resolve, reject) => {
      let closed = false;
      this.worker.on('message', (reply: WriteReply) => {
        if (reply.kind === 'closed') {
          closed = true;
          resolve();
          return;
        }
        this.unanswered--;
        if (reply.kind === 'failed') this.failure ??= Object.assign(new Error(reply.message), { code: reply.code });
        this.wake?.();
      });
      this.worker.on('error', (e) => {
        this.failure ??= e;
        reject(e);
        this.wake?.();
      });
      this.worker.on('exit', (code) => {
        if (closed) return;
        this.failure ??= new Error(`the file-writing thread stopped (exit ${code}) before every file was written`);
        reject(this.failure);
        this.wake?.();
      });
    });
    // A failure is reported by push() or close(); until then it must not count as unhandled.
    this.finished.catch(() => {});
  }

  /** Queues files for writing; waits only while MAX_BATCHES_IN_FLIGHT batches are unanswered. */
  async push(artifacts: readonly Artifact[]): Promise<void> {
    if (this.failure) throw this.failure;
    if (artifacts.length === 0) return;
    this.worker.postMessage({ kind: 'files', files: artifacts } satisfies WriteRequest);
    this.unanswered++;
    while (this.unanswered > MAX_BATCHES_IN_FLIGHT && !this.failure) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.failure) throw this.failure;
  }

  /** Resolves when every pushed file is written; rejects with the first failure. */
  async close(): Promise<void> {
    this.worker.postMessage({ kind: 'close' } satisfies WriteRequest);
    await this.finished;
    if (this.failure) throw this.failure;
  }
}
