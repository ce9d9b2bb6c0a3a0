/**
 * Temporary directories for tests, removed when the test file ends.
 *
 * Importing this module registers one `afterAll` in the importing test file (vitest gives each file
 * its own module graph). It is registered before the file's own hooks, and vitest runs `afterAll`
 * hooks in reverse order (its default `sequence.hooks: 'stack'`), so a server a test started in its
 * directory is stopped by the file's own hook before the directory goes. `.ci/run` fails a run that
 * leaves anything behind (scripts/ci-leftovers.mjs).
 *
 * vitest runs no `afterAll` in a file whose tests are all skipped (a tier missing its tools, outside
 * CI): a directory such a file made at module scope stays behind. Make it in a hook or a test where
 * the file allows.
 *
 * Test files only: bench/ imports some test support modules, and `afterAll` outside vitest throws.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { mountPoints } from '../../scripts/ci-leftovers.mjs';

const made: string[] = [];

afterAll(() => removeTempDirs());

/** A new directory `<tmpdir>/<prefix>XXXXXX`, removed after the test file (or by `removeTempDirs`). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * Removes every directory `tempDir` made so far, except one with something still mounted inside (a
 * test that failed before unmounting): removing it would delete through the mount, so it is left,
 * named on stderr, and `.ci/run` reports it.
 */
export function removeTempDirs(mounts = mountPoints()): void {
  for (const dir of made.splice(0)) {
    const inside = mounts.filter((m) => m === dir || m.startsWith(`${dir}/`));
    if (inside.length > 0) console.warn(`[temp-dir] left ${dir}: still mounted inside it: ${inside.join(', ')}`);
    else rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}
