/**
 * test/support/temp-dir.ts: what the tests make in the temporary directory is removed after them
 * (.ci/run fails a run that leaves a `ks-*` directory behind), but never through a mount a failed
 * test left inside it.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../support/temp-dir.ts';

describe('tempDir', () => {
  it('makes a fresh directory under the temporary directory, and removeTempDirs removes it with its content', () => {
    const a = tempDir('ks-temp-dir-test-');
    const b = tempDir('ks-temp-dir-test-');
    expect(a).not.toBe(b);
    expect(dirname(a)).toBe(tmpdir());
    expect(basename(a)).toMatch(/^ks-temp-dir-test-\w{6}$/);
    mkdirSync(join(a, 'state', 'journal'), { recursive: true });
    writeFileSync(join(a, 'state', 'journal', 'seg-1'), 'x');
    removeTempDirs([]);
    expect(existsSync(a)).toBe(false);
    expect(existsSync(b)).toBe(false);
  });

  it('leaves a directory with a mount inside it, and says so', () => {
    const dir = tempDir('ks-temp-dir-test-');
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (message: string) => warnings.push(message);
    try {
      removeTempDirs(['/proc', `${dir}/root/proc`]);
    } finally {
      console.warn = warn;
    }
    expect(existsSync(dir)).toBe(true);
    expect(warnings).toEqual([`[temp-dir] left ${dir}: still mounted inside it: ${dir}/root/proc`]);
    removeTempDirs([]); // it was taken off the list: nothing left to remove
    expect(existsSync(dir)).toBe(true);
    rmSync(dir, { recursive: true }); // nothing is mounted there really
  });
});
