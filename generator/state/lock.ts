/**
 * One `generate` at a time per state directory: two concurrent runs would each keep their own
 * view of the credentials and could leave a mix. Likewise one `serve` (SERVE_LOCK_FILE): two
 * coordinators on one store would each release steps from their own copy. The lock is a file
 * holding the holder's PID; a lock whose process is gone (crash, kill -9) is taken over.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StateError } from './errors.ts';

export const LOCK_FILE = 'generate.lock';
export const SERVE_LOCK_FILE = 'serve.lock';

export interface LockOptions {
  /** Default LOCK_FILE (generate). */
  file?: string;
  /** Who holds it, for the refusal: default `kubeseed generate`. */
  holder?: string;
  /** Told when a lock left by a process that is gone is taken over. */
  onStale?: (pid: number) => void;
}

export async function acquireStateLock(stateDir: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const file = options.file ?? LOCK_FILE;
  const who = options.holder ?? 'kubeseed generate';
  const path = join(stateDir, file);
  for (let attempt = 0; attempt < 2; attempt++) {
    // The PID is written first and the lock appears complete through link(), which fails if it exists.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, `${process.pid}\n`, { mode: 0o600 });
    try {
      await link(tmp, path);
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await rm(tmp, { force: true });
    }
    const holder = Number.parseInt((await readFile(path, 'utf8').catch(() => '')).trim(), 10);
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new StateError(
        'LOCKED',
        who === 'kubeseed generate'
          ? `${stateDir} is being written by another \`kubeseed generate\` (pid ${holder}); wait for it to finish, or delete ${path} if that process is gone`
          : `${stateDir} is in use by another \`${who}\` (pid ${holder}); stop that one first, or delete ${path} if that process is gone`,
        file,
      );
    }
    if (Number.isInteger(holder) && holder > 0) options.onStale?.(holder);
    await rm(path, { force: true });
  }
  throw new StateError('LOCKED', `cannot take ${path}: another process keeps creating it; retry`, file);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
