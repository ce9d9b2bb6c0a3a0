/**
 * The state directory's lock (generator/state/lock.ts) names its holder by pid and, on Linux, by the
 * holder's start time: a pid alone is not a process. A process that exited but was not reaped yet (a
 * zombie: its parent is busy, or PID 1 of a container or a PID namespace never waits) holds nothing,
 * and a pid taken again by another process (in a container every start is pid 1) is not the holder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateError } from '../../../generator/state/errors.ts';
import { acquireStateLock, LOCK_FILE } from '../../../generator/state/lock.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../server/child-server.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function started(command: string, args: string[]): Promise<{ child: ChildProcess; firstLine: Promise<string> }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const firstLine = new Promise<string>((resolve) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text.split('\n')[0]!);
    });
  });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve({ child, firstLine }));
    child.once('error', reject);
  });
}

const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];

async function locked(dir: string): Promise<StateError> {
  const error = await acquireStateLock(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StateError);
  return error as StateError;
}

describe('the state lock names a process, not just a pid', () => {
  it('is written as the pid and the start of this process (boot id / start time in clock ticks)', async () => {
    const dir = tempDir('ks-lock-');
    const release = await acquireStateLock(dir);
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const ticks = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[19];
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid} ${bootId}/${ticks}\n`);
    expect((await locked(dir)).message).toContain(`pid ${process.pid}`);
    await release();
    await (await acquireStateLock(dir))();
  });

  it('takes over a lock whose process exited and was not reaped (a zombie), saying so', async () => {
    const dir = tempDir('ks-lock-');
    // sh starts `true` in the background and becomes `sleep`, which never waits for it.
    const { firstLine } = await started('sh', ['-c', 'true & echo $!; exec sleep 30']);
    const zombie = Number(await firstLine);
    await waitFor(() => state(zombie) === 'Z', 2_000);
    writeFileSync(join(dir, LOCK_FILE), `${zombie}\n`);
    const stale: number[] = [];
    const release = await acquireStateLock(dir, { onStale: (pid) => stale.push(pid) });
    expect(stale).toEqual([zombie]);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    await release();
  });

  it('takes over a lock whose pid another process has now (a restarted container: pid 1 again)', async () => {
    const dir = tempDir('ks-lock-');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // This very pid, started at clock tick 1 after boot: not this process, which started later.
    writeFileSync(join(dir, LOCK_FILE), `${process.pid} ${bootId}/1\n`);
    const stale: number[] = [];
    const release = await acquireStateLock(dir, { onStale: (pid) => stale.push(pid) });
    expect(stale).toEqual([process.pid]);
    await release();
  });

  it('is held by a running process: named by pid alone (a lock written before the start was recorded) or with its start', async () => {
    const dir = tempDir('ks-lock-');
    const { child } = await started('sleep', ['30']);
    writeFileSync(join(dir, LOCK_FILE), `${child.pid}\n`);
    expect((await locked(dir)).message).toContain(`pid ${child.pid}`);
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const ticks = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    writeFileSync(join(dir, LOCK_FILE), `${child.pid} ${bootId}/${ticks}\n`);
    expect((await locked(dir)).message).toContain(`pid ${child.pid}`);
  });
});
