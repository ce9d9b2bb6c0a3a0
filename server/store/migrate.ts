/**
 * Moving a rollout's records from one Store to another (`kubeseed store migrate`, issue 20;
 * docs/adr/0034). The core (`migrateStore`) works on the Store contract only: it refuses a target
 * that holds anything, copies every record as read (plaintext in the view, so each store seals
 * under its own scheme and key) in bounded commits, carries the source's revision over (keys
 * numbered by revision stay unique), then opens the target afresh and checks that it reads back
 * every record equal before it reports success. `migrateJournalToEtcd` is what the command runs:
 * the journal of a stopped coordinator into an unused etcd prefix, then the journal marked moved
 * (journal-moved.ts) and otherwise left as it was.
 *
 * Runtime contract: the source must not change while this runs (the CLI holds the state
 * directory's serve lock). Nothing is deleted from either store; a failed move leaves the source
 * as the rollout's store and says how to empty the partial target.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { EtcdUnavailableError } from './etcd-client.ts';
import { writeMovedMarker } from './journal-moved.ts';
import { etcdKeysUnder, type OpenStoreOptions, openStore } from './open.ts';
import { STORE_KEY_FILE } from './record-cipher.ts';
import { MAX_RECORDS_PER_COMMIT, type Store, StoreError, type StoreRecord, StoreRefusal } from './types.ts';

export interface MigrateOptions {
  /** Names the target in messages, e.g. `etcd://10.0.0.11:2379 under kubeseed/c1/`. */
  where: string;
  /** How to empty the target, for the refusal and after a failed copy (e.g. `etcdctl del --prefix kubeseed/c1/`). */
  emptyIt: string;
  /** Records per commit (default 100: etcd takes 128 operations per Txn, one is the store's revision mark). */
  batchRecords?: number;
  /** Bytes of JSON values per commit, roughly (default 256 KiB: etcd takes 1.5 MiB per request, sealing and base64 add about 80%). */
  batchBytes?: number;
}

export interface MigrateResult {
  records: number;
  /** The target's revision afterwards: at least the source's. */
  revision: number;
  /** Commits made on the target. */
  commits: number;
}

const DEFAULT_BATCH_BYTES = 256 * 1024;

/** The records in commits of at most `maxRecords` and (unless one record alone is larger) `maxBytes`. */
export function batchRecords(records: readonly StoreRecord[], maxRecords: number, maxBytes: number): StoreRecord[][] {
  const batches: StoreRecord[][] = [];
  let current: StoreRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = record.key.length + JSON.stringify(record.value).length;
    if (current.length > 0 && (current.length >= maxRecords || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Why `copy` is not `source`, or null: same keys, equal values, revision not behind. */
export function copyDifference(source: Store, copy: Store): string | null {
  const want = source.list('');
  const have = new Map(copy.list('').map((r) => [r.key, r]));
  const problems: string[] = [];
  for (const record of want) {
    const there = have.get(record.key);
    if (!there) problems.push(`${record.key} is missing`);
    else if (!isDeepStrictEqual(there.value, record.value)) problems.push(`${record.key} differs`);
    have.delete(record.key);
  }
  for (const key of have.keys()) problems.push(`${key} is not in the source`);
  if (copy.revision() < source.revision()) problems.push(`revision ${copy.revision()} is behind the source's ${source.revision()}`);
  if (problems.length === 0) return null;
  const shown = problems.slice(0, 5).join('; ');
  return `${problems.length} difference(s) in ${want.length} record(s): ${shown}${problems.length > 5 ? '; …' : ''}`;
}

/**
 * Copies every record of `source` into the store `openTarget` opens, then opens it again and
 * compares. Refuses (StoreRefusal NOT_EMPTY) a target that already holds records.
 */
export async function migrateStore(source: Store, openTarget: () => Promise<Store>, options: MigrateOptions): Promise<MigrateResult> {
  const records = source.list('');
  const unchanged = `The source is unchanged and still the rollout's store; empty the target with \`${options.emptyIt}\` before trying again`;
  let target: Store | undefined;
  let commits = 0;
  try {
    target = await openTarget();
    const held = target.list('');
    if (held.length > 0 || target.revision() > 0)
      throw new StoreRefusal(
        'NOT_EMPTY',
        `${options.where} already holds ${held.length} record(s) (revision ${target.revision()}): move into another prefix (etcd://…?prefix=…), or empty this one with \`${options.emptyIt}\` if nothing serves from it`,
      );
    const batches = batchRecords(records, options.batchRecords ?? MAX_RECORDS_PER_COMMIT, options.batchBytes ?? DEFAULT_BATCH_BYTES);
    for (const [index, batch] of batches.entries()) {
      const last = index === batches.length - 1;
      const result = await target.commit({
        checks: batch.map((r) => ({ key: r.key, version: 0 })),
        puts: batch.map((r) => ({ key: r.key, value: r.value })),
        ...(last ? { minRevision: source.revision() } : {}),
      });
      if (!result.ok)
        throw new StoreError(`${options.where}: ${result.conflicts.join(', ')} appeared while copying: something else writes there`);
      commits++;
    }
    await target.flushed();
  } catch (error) {
    if (error instanceof StoreRefusal) throw error;
    throw new StoreError(
      `copying into ${options.where} failed after ${commits} commit(s): ${(error as Error).message}. ${unchanged}`,
      error,
    );
  } finally {
    await target?.close();
  }
  // Read back from the medium, not from the view the copy was written through.
  const reread = await openTarget().catch((error: unknown) => {
    throw new StoreError(`reading the copy back from ${options.where} failed: ${(error as Error).message}. ${unchanged}`, error);
  });
  try {
    const difference = copyDifference(source, reread);
    if (difference) throw new StoreError(`the copy in ${options.where} does not read back as the source: ${difference}. ${unchanged}`);
    return { records: records.length, revision: reread.revision(), commits };
  } finally {
    await reread.close();
  }
}

export interface JournalToEtcdOptions {
  /** The journal directory (`<state>/store`). */
  journalDir: string;
  /** `etcd://h:p[,h:p…][?prefix=P]`. */
  to: string;
  /** Store options for the target: passphrase, sealed prefixes, TLS, default prefix. */
  store: OpenStoreOptions;
  now: Date;
}

export interface JournalToEtcdResult extends MigrateResult {
  from: string;
  to: string;
  prefix: string;
  /** Secret records are sealed in etcd (a passphrase was given). */
  sealed: boolean;
  /** The mark left in the journal. */
  marker: string;
}

/** Refuses (NO_JOURNAL) a directory that holds no journal, before anything opens (and so creates) one there. */
export function assertJournalIn(dir: string): void {
  if (!existsSync(join(dir, 'journal.log')) && !existsSync(join(dir, 'snapshot.json')))
    throw new StoreRefusal(
      'NO_JOURNAL',
      `no journal in ${dir} (neither journal.log nor snapshot.json): pass --state, the directory \`kubeseed serve\` ran on; a rollout that never started needs no move (serve with --store etcd://… directly)`,
    );
}

/** `kubeseed store migrate`: the journal in `journalDir` into an unused etcd prefix, verified, then the journal marked moved. */
export async function migrateJournalToEtcd(options: JournalToEtcdOptions): Promise<JournalToEtcdResult> {
  const dir = options.journalDir;
  assertJournalIn(dir);
  const { passphrase, sealedPrefixes = [], ...targetOptions } = options.store;
  // The journal opens with the passphrase only if it is sealed: opening a plaintext one with it would rewrite it sealed.
  const sealedJournal = existsSync(join(dir, STORE_KEY_FILE));
  const source = await openStore(`journal:${dir}`, { ...(sealedJournal && passphrase ? { passphrase } : {}), sealedPrefixes });
  try {
    if (source.list('').length === 0)
      throw new StoreRefusal(
        'NO_JOURNAL',
        `the journal in ${dir} holds no records: nothing to move (serve with --store etcd://… directly)`,
      );
    let prefix: string;
    let held: string[];
    try {
      ({ prefix, keys: held } = await etcdKeysUnder(options.to, targetOptions));
    } catch (error) {
      if (error instanceof EtcdUnavailableError)
        throw new EtcdUnavailableError(
          `cannot reach etcd at ${options.to} (${error.message}): check the endpoints and --etcd-ca/--etcd-cert/--etcd-key; nothing was written`,
          error,
        );
      throw error;
    }
    const where = `${options.to.replace(/\?.*$/, '')} under ${prefix}`;
    const emptyIt = `etcdctl del --prefix ${prefix}`;
    if (held.length > 0)
      throw new StoreRefusal(
        'NOT_EMPTY',
        `${where} already holds ${held.length} key(s) (e.g. ${held[0]}): move into another prefix (etcd://…?prefix=…), or empty this one with \`${emptyIt}\` if nothing serves from it`,
      );
    const result = await migrateStore(source, () => openStore(options.to, { ...options.store, sealedPrefixes }), { where, emptyIt });
    const marker = await writeMovedMarker(dir, {
      format: 'kubeseed-store-moved',
      version: 1,
      to: options.to,
      prefix,
      movedAt: options.now.toISOString(),
      records: result.records,
      revision: source.revision(),
    });
    return { ...result, from: dir, to: options.to, prefix, sealed: passphrase !== undefined, marker };
  } finally {
    await source.close();
  }
}
