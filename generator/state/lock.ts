/**
 * One `generate` at a time per state directory: two concurrent runs would each keep their own
 * view of the credentials and could leave a mix. The lock is a file holding the writer's PID;
 * a lock whose process is gone (crash, kill -9) is taken over.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StateError } from './errors.ts';

export const LOCK_FILE = 'generate.lock';

export async function acquireStateLock(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, LOCK_FILE);
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
        `${stateDir} is being written by another \`kubeseed generate\` (pid ${holder}); wait for it to finish, or delete ${path} if that process is gone`,
        LOCK_FILE,
      );
    }
    await rm(path, { force: true });
  }
  throw new StateError('LOCKED', `cannot take ${path}: another process keeps creating it; retry`, LOCK_FILE);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
