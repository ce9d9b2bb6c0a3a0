/**
 * The mark `kubeseed store migrate` leaves in a journal it moved (docs/adr/0034): `moved.json`
 * beside journal.log, saying where the records went. The journal itself is left as it was (a
 * copy of the rollout up to the move, for the record and for going back deliberately), but a
 * JournalStore refuses to open it while the mark is there: a coordinator on it would hand out
 * steps from a copy that no longer sees what the etcd one does — a second `kubeadm init`, say.
 */
import { constants as fsConstants } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError, StoreRefusal } from './types.ts';

export const MOVED_FILE = 'moved.json';

export interface MovedMarker {
  format: 'kubeseed-store-moved';
  version: 1;
  /** The store URL the records went to (no credentials: TLS comes from files). */
  to: string;
  /** The etcd key prefix they are under. */
  prefix: string;
  movedAt: string;
  records: number;
  /** The journal's revision at the move: it holds nothing after this. */
  revision: number;
}

export async function readMovedMarker(dir: string): Promise<MovedMarker | undefined> {
  const path = join(dir, MOVED_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreError(`cannot read ${path}`, error);
  }
  try {
    return JSON.parse(text) as MovedMarker;
  } catch (error) {
    // Unreadable is still a mark: refusing is the safe side.
    throw new StoreError(
      `${path} is not JSON; it marks this journal as moved elsewhere: find where, or remove it to serve from here`,
      error,
    );
  }
}

/** The refusal to open a moved journal: where the rollout is now, and how to go back deliberately. */
export function movedRefusal(dir: string, marker: MovedMarker): StoreRefusal {
  return new StoreRefusal(
    'MOVED',
    `the journal in ${dir} was moved to ${marker.to} (prefix ${marker.prefix}) by \`kubeseed store migrate\` at ${marker.movedAt}: serve with --store ${marker.to} (and the same --etcd-* flags). This copy stops at revision ${marker.revision}; to serve from it again instead, stop every coordinator on etcd and remove ${join(dir, MOVED_FILE)}`,
  );
}

/** Writes the mark durably (temporary file, fsync, rename, directory fsync). */
export async function writeMovedMarker(dir: string, marker: MovedMarker): Promise<string> {
  const path = join(dir, MOVED_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(marker, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  const directory = await open(dir, fsConstants.O_RDONLY);
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
  return path;
}
