/**
 * The append-only audit log: which host received which kind of secret, for which step and
 * attempt, when — never a value. One JSON object per line in `<state>/audit.log` (0600), appended
 * and fsynced before the secret leaves the coordinator; appends that arrive together share a sync.
 */
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { SecretKind } from '../generator/plan/types.ts';

export interface AuditEntry {
  at: string;
  host: string;
  step: string;
  attempt: number;
  secrets: SecretKind[];
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  close(): Promise<void>;
}

export class MemoryAuditLog implements AuditLog {
  readonly entries: AuditEntry[] = [];
  async append(entry: AuditEntry): Promise<void> {
    this.entries.push(entry);
  }
  async close(): Promise<void> {}
}

export class FileAuditLog implements AuditLog {
  private handle: FileHandle | undefined;
  private queue: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing = false;

  constructor(readonly path: string) {}

  async open(): Promise<void> {
    this.handle = await open(this.path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT, 0o600);
  }

  append(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ line: `${JSON.stringify(entry)}\n`, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        if (!this.handle) throw new Error('audit log is not open');
        await this.handle.write(batch.map((b) => b.line).join(''));
        await this.handle.datasync();
        for (const b of batch) b.resolve();
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
    this.writing = false;
  }

  async close(): Promise<void> {
    while (this.writing) await new Promise((r) => setTimeout(r, 5));
    await this.handle?.close();
    this.handle = undefined;
  }
}
