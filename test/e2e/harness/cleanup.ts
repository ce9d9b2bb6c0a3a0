/**
 * The e2e tier's cleanup registry: every namespace, mount holder and process the harness creates
 * registers how to undo it, by id. `runCleanup` undoes everything in reverse order and never throws,
 * so an `afterAll` (or a failed `beforeAll`) always leaves the machine as it found it. A process exit
 * hook runs the synchronous part as a last resort when vitest is interrupted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface CleanupEntry {
  what: string;
  undo: () => void | Promise<void>;
}

const entries: CleanupEntry[] = [];
const lastResort: Array<() => void> = [];

/** Registers an undo action; returns a function that runs it now (and unregisters it). */
export function registerCleanup(what: string, undo: () => void | Promise<void>): () => Promise<void> {
  const entry = { what, undo };
  entries.push(entry);
  return async () => {
    const i = entries.indexOf(entry);
    if (i < 0) return;
    entries.splice(i, 1);
    await safely(entry);
  };
}

async function safely(entry: CleanupEntry): Promise<string | null> {
  try {
    await entry.undo();
    return null;
  } catch (error) {
    return `${entry.what}: ${(error as Error).message}`;
  }
}

/** Undoes everything registered, newest first; returns the problems (never throws). */
export async function runCleanup(): Promise<string[]> {
  const problems: string[] = [];
  while (entries.length > 0) {
    const entry = entries.pop()!;
    const problem = await safely(entry);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** Kills one process by id (SIGKILL), ignoring a process that is already gone. */
export function killPid(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {}
}

/** Deletes a network namespace by name, synchronously (also used from the exit hook). */
export function deleteNetns(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {}
}

/** A synchronous last-resort undo for process exit (kill by pid, delete netns by name). */
export function registerLastResort(fn: () => void): void {
  lastResort.push(fn);
}

process.once('exit', () => {
  for (const fn of lastResort.reverse()) {
    try {
      fn();
    } catch {}
  }
});

/**
 * Leftovers of earlier e2e runs whose test process died without cleaning up (a killed vitest
 * worker): namespaces `ks-<pid>-…` and host holders started from /tmp/kubeseed-e2e/ks-<pid>-…, whose
 * <pid> no longer exists. Only the harness's own names and paths are touched, each by id.
 */
export function sweepStale(): string[] {
  const swept: string[] = [];
  const dead = (pid: string) => !existsSync(`/proc/${pid}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    const m = /\/tmp\/kubeseed-e2e\/ks-(\d+)-/.exec(cmdline);
    if (m && dead(m[1]!)) {
      // The holder (PID 1 of the host's PID namespace) is unshare's child; killing it ends the host.
      try {
        for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean))
          killPid(Number(child));
      } catch {}
      killPid(Number(pid));
      swept.push(`process ${pid}`);
    }
  }
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter(Boolean);
  } catch {}
  for (const name of names) {
    const m = /^ks-(\d+)-/.exec(name);
    if (m && dead(m[1]!)) {
      deleteNetns(name);
      swept.push(`netns ${name}`);
    }
  }
  return swept;
}
