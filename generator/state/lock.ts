/**
 * One `generate` at a time per state directory: two concurrent runs would each keep their own
 * view of the credentials and could leave a mix. Likewise one `serve` (SERVE_LOCK_FILE): two
 * coordinators on one store would each release steps from their own copy. The lock is a file
 * holding the holder's PID and, where /proc tells it, when that process started; a lock whose
 * process is gone (crash, kill -9) is taken over.
 *
 * A PID alone does not name a process. One that exited but was not reaped yet (a zombie: PID 1 of a
 * container or a PID namespace that never waits is its parent now) holds nothing, and a PID that
 * another process took since is not the holder — in a container every start of `kubeseed serve` is
 * PID 1, so after a kill -9 the restarted one would find "its own" PID in the lock and refuse forever.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
    const start = processOf(process.pid)?.start;
    await writeFile(tmp, `${process.pid}${start ? ` ${start}` : ''}\n`, { mode: 0o600 });
    try {
      await link(tmp, path);
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await rm(tmp, { force: true });
    }
    const [pidText = '', holderStart] = (await readFile(path, 'utf8').catch(() => '')).trim().split(/\s+/);
    const holder = Number.parseInt(pidText, 10);
    if (Number.isInteger(holder) && holder > 0 && holds(holder, holderStart)) {
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

/**
 * Whether the process `pid` (started at `start`, when the lock says) still runs. Without /proc
 * (not Linux) the PID alone decides, as does a lock written before the start was recorded.
 */
function holds(pid: number, start: string | undefined): boolean {
  if (!isAlive(pid)) return false;
  const now = processOf(pid);
  if (!now) return true;
  if (now.zombie) return false;
  return start === undefined || start === now.start;
}

/**
 * A process as /proc/PID/stat shows it: `start` is the boot it runs in and its start time in clock
 * ticks since that boot (field 22; `boot_id/ticks`), `zombie` whether it exited unreaped (field 3).
 */
function processOf(pid: number): { start: string; zombie: boolean } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return { start: `${bootId}/${fields[19]}`, zombie: fields[0] === 'Z' || fields[0] === 'X' };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
