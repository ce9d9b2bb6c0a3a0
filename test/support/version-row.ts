/**
 * Runs `body` with one row of generator/versions.ts changed, then puts the row back: how a test
 * shows that a value the code uses comes from the table (change the row, the output follows).
 * Rows are plain objects; each test file runs in its own module graph, so the change stays local.
 */
import { type MinorVersions, VERSIONS_BY_MINOR } from '../../generator/versions.ts';

export async function withVersionRow<T>(minor: number, changes: Partial<MinorVersions>, body: () => T | Promise<T>): Promise<T> {
  const row = VERSIONS_BY_MINOR[minor];
  if (!row) throw new Error(`no row for 1.${minor}`);
  const saved = { ...row };
  Object.assign(row, changes);
  try {
    return await body();
  } finally {
    for (const key of Object.keys(row)) delete (row as unknown as Record<string, unknown>)[key];
    Object.assign(row, saved);
  }
}
