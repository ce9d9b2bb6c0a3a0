/**
 * scripts/ci-leftovers.mjs: what `.ci/run` reports as left behind by the tests — whatever exists after
 * them and did not before: temporary directories, network namespaces, mounts, processes. Other test
 * files run meanwhile, so each case looks for what it made itself.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../generator/util/package-root.ts';
import { mountPoints } from '../../../scripts/ci-leftovers.mjs';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../server/child-server.ts';

const script = join(packageRoot(import.meta.dirname), 'scripts', 'ci-leftovers.mjs');
const children: ChildProcess[] = [];
const orphans: number[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
});

function leftovers(command: 'snapshot' | 'since', file: string, tmp: string): string[] {
  const r = spawnSync(process.execPath, [script, command, file], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('ci-leftovers', () => {
  it('lists the ks-*/kubeseed-*/tmp.* directories made in the temporary directory since the snapshot, and nothing else there', () => {
    const tmp = tempDir('ks-leftovers-test-');
    mkdirSync(join(tmp, 'ks-before-x'));
    const snapshot = join(tempDir('ks-leftovers-snap-'), 'before');
    leftovers('snapshot', snapshot, tmp);
    mkdirSync(join(tmp, 'ks-store-abc123'));
    mkdirSync(join(tmp, 'kubeseed-demo-def456'));
    mkdirSync(join(tmp, 'tmp.AbCdEf1234')); // what `mktemp -d` makes without a template
    mkdirSync(join(tmp, 'kubeseed-e2e')); // the e2e harness's parent: emptied by the harness
    mkdirSync(join(tmp, 'other-dir'));
    writeFileSync(join(tmp, 'ks-a-file'), '');
    const found = leftovers('since', snapshot, tmp).filter((l) => l.startsWith('directory '));
    expect(found.sort()).toEqual(
      [
        `directory ${join(tmp, 'ks-store-abc123')}`,
        `directory ${join(tmp, 'kubeseed-demo-def456')}`,
        `directory ${join(tmp, 'tmp.AbCdEf1234')}`,
      ].sort(),
    );
  });

  it('lists an orphaned process started since the snapshot while it runs, and not once it stopped', async () => {
    const tmp = tempDir('ks-leftovers-test-');
    const snapshot = join(tmp, 'before');
    leftovers('snapshot', snapshot, tmp);
    // sh starts sleep in the background and exits: the sleep outlives what started it, as a leak does.
    const orphan = Number(execFileSync('sh', ['-c', 'sleep 37.5 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' }).trim());
    orphans.push(orphan);
    expect(leftovers('since', snapshot, tmp)).toContain(`process ${orphan} sleep 37.5`);
    process.kill(orphan, 'SIGKILL');
    // Exited: gone, or a zombie until PID 1 reaps it.
    const exited = () => {
      try {
        return / Z /.test(readFileSync(`/proc/${orphan}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    await waitFor(exited, 2_000);
    expect(leftovers('since', snapshot, tmp)).not.toContain(`process ${orphan} sleep 37.5`);
  });

  it('does not list a process that one running before the snapshot started and still owns (this test worker, an operator shell)', async () => {
    const tmp = tempDir('ks-leftovers-test-');
    const snapshot = join(tmp, 'before');
    leftovers('snapshot', snapshot, tmp);
    const child = spawn('sleep', ['37.25'], { stdio: 'ignore' });
    children.push(child);
    await new Promise((resolve) => child.once('spawn', resolve));
    const since = leftovers('since', snapshot, tmp);
    expect(since.some((l) => l.startsWith(`process ${child.pid} `))).toBe(false);
    expect(since.some((l) => l.startsWith(`process ${process.pid} `))).toBe(false);
  });

  it('lists nothing it saw at the snapshot (the root mount, pid 1, a directory already there)', () => {
    const tmp = tempDir('ks-leftovers-test-');
    mkdirSync(join(tmp, 'ks-already'));
    const snapshot = join(tmp, 'before');
    leftovers('snapshot', snapshot, tmp);
    const before = readFileSync(snapshot, 'utf8');
    expect(before).toContain('mount /\n');
    expect(before).toMatch(/^process 1 \d+$/m);
    expect(before).toContain(`directory ${join(tmp, 'ks-already')}\n`);
    const since = leftovers('since', snapshot, tmp);
    expect(since).not.toContain('mount /');
    expect(since.filter((l) => l.startsWith('process 1 '))).toEqual([]);
    expect(since).not.toContain(`directory ${join(tmp, 'ks-already')}`);
  });

  it('reads mount points as /proc/self/mounts writes them (a space is \\040)', () => {
    const dir = tempDir('ks-temp-dir-test-');
    const table = join(dir, 'mounts');
    writeFileSync(table, 'proc /proc proc rw 0 0\noverlay /tmp/ks-x/with\\040space overlay rw 0 0\n');
    expect(mountPoints(table)).toEqual(['/proc', '/tmp/ks-x/with space']);
    expect(mountPoints(join(dir, 'none'))).toEqual([]);
    expect(mountPoints()).toContain('/');
  });

  it('refuses a wrong command line with its usage', () => {
    const r = spawnSync(process.execPath, [script, 'list'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: ci-leftovers.mjs snapshot FILE | since FILE');
  });
});
