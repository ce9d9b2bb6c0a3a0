/**
 * `spec.etcd.backup`: how often the coordinator takes an etcd snapshot and how many it keeps
 * (docs/day2.md, "Backing up and restoring etcd"; ADR 0041). The schedule is an interval — `6h`,
 * `1d`, `1d12h`, `30m` — not a cron expression: the coordinator runs only while an operator runs
 * `kubeseed serve`, so "take one when the newest is older than the interval" is what it can keep;
 * a cron time of day would be missed whenever no coordinator runs at that minute. Pure.
 */
import type { SpecReader } from './reader.ts';

/** `1d`, `6h`, `1d12h`, `90m`: days, hours, minutes, in that order, at least one of them. */
export const BACKUP_SCHEDULE = /^(?=\d)(\d+d)?(\d+h)?(\d+m)?$/;
export const BACKUP_SCHEDULE_EXPECT = 'an interval like 6h, 1d or 1d12h (days d, hours h, minutes m)';
/** Shortest interval: a snapshot of a large etcd takes minutes, and each is kept whole. */
export const MIN_BACKUP_INTERVAL_SECONDS = 15 * 60;
export const DEFAULT_BACKUP_SCHEDULE = '1d';
export const DEFAULT_BACKUP_RETENTION = 7;
/** Most snapshots kept per cluster (each can be hundreds of MiB in the state directory). */
export const MAX_BACKUP_RETENTION = 1000;

/** The normalized `spec.etcd.backup`. */
export interface EtcdBackupSpec {
  /** As written (`6h`), for messages and docs. */
  schedule: string;
  /** The interval in seconds. */
  intervalSeconds: number;
  /** Snapshots kept; the oldest beyond this are deleted when a new one is stored. */
  retention: number;
}

/** Seconds of a schedule, or null when it is not one. */
export function parseBackupSchedule(text: string): number | null {
  const m = BACKUP_SCHEDULE.exec(text);
  if (!m) return null;
  return Number(m[1]?.slice(0, -1) ?? 0) * 86_400 + Number(m[2]?.slice(0, -1) ?? 0) * 3600 + Number(m[3]?.slice(0, -1) ?? 0) * 60;
}

// biome-ignore lint/suspicious/noExplicitAny: the raw YAML, already shape-checked by CLUSTER_SCHEMA
type Raw = any;

/** The backup settings of a raw `spec.etcd`, or undefined when `backup` is absent (no backups). */
export function etcdBackupOf(rawEtcd: Raw): EtcdBackupSpec | undefined {
  const backup = rawEtcd?.backup;
  if (backup === undefined || backup === null) return undefined;
  const schedule = typeof backup.schedule === 'string' ? backup.schedule : DEFAULT_BACKUP_SCHEDULE;
  return {
    schedule,
    intervalSeconds: parseBackupSchedule(schedule) ?? parseBackupSchedule(DEFAULT_BACKUP_SCHEDULE)!,
    retention: typeof backup.retention === 'number' ? backup.retention : DEFAULT_BACKUP_RETENTION,
  };
}

/** Located errors the schema cannot say: an interval below the minimum. */
export function checkEtcdBackup(rawEtcd: Raw, r: SpecReader): void {
  const schedule = rawEtcd?.backup?.schedule;
  if (typeof schedule !== 'string') return;
  const seconds = parseBackupSchedule(schedule);
  if (seconds !== null && seconds < MIN_BACKUP_INTERVAL_SECONDS)
    r.error(
      ['spec', 'etcd', 'backup', 'schedule'],
      `${schedule} is too often; a snapshot of a large etcd takes minutes and each is kept whole: use at least 15m`,
    );
}
