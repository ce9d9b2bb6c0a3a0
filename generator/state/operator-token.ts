/**
 * The operator token (`<state>/operator-token`, 0600): the bearer token of the status page, the
 * event stream and the admin API. `generate` writes it with the rest of the state, so replicas
 * of the coordinator made by copying the state directory accept the same token; `serve` creates it
 * when a state directory has none.
 */
import { randomBytes } from 'node:crypto';
import { chmod, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { OPERATOR_TOKEN_FILE } from './layout.ts';

/** Reads `<stateDir>/operator-token`, creating it (0600) when absent or too short. */
export async function ensureOperatorToken(stateDir: string): Promise<string> {
  const path = join(stateDir, OPERATOR_TOKEN_FILE);
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing.length >= 32) {
      // A token file someone loosened is tightened again: it opens the status and admin API.
      await chmod(path, 0o600);
      return existing;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(32).toString('base64url');
  // Written to a temporary file (created 0600) and renamed: a crash never leaves a half token.
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${token}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  return token;
}
