/**
 * Disk writes of the state directory: directories 0700, files 0600 (whatever the umask), each
 * write atomic (temporary file, fsync, rename, then fsync of the directory).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Creates `dir` (and parents) and forces mode 0700 on it. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmod(dir, DIR_MODE);
}

/** Writes `content` to `path` atomically with mode 0600; the caller fsyncs the directory (see `syncDirs`). */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx', FILE_MODE);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.chmod(FILE_MODE);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
}

/** fsyncs directories so that renames inside them are durable. */
export async function syncDirs(dirs: Iterable<string>): Promise<void> {
  for (const dir of new Set(dirs)) {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Every file under `dir`, as paths relative to it ('/'-separated); [] when `dir` is absent. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(join(dir, prefix), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const entry of entries) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out;
}

/** Removes a file and then its parent directories up to (not including) `root` while they are empty. */
export async function removeFileAndEmptyParents(root: string, relative: string): Promise<void> {
  await rm(join(root, relative), { force: true });
  let dir = dirname(join(root, relative));
  while (dir.startsWith(root) && dir !== root) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
    dir = dirname(dir);
  }
}

/** Current permission bits of a path. */
export async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}
