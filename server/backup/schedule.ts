/**
 * When the next etcd snapshot is due and which host takes it (spec.etcd.backup, ADR 0041): pure,
 * for the day-2 scheduler (ADR 0033) that releases `etcd-snapshot` steps to idle agents. A
 * snapshot is due when the newest stored one is older than the interval — not at a clock time: the
 * coordinator runs only now and then, and the first start after a long pause takes one at once.
 */
import type { EtcdBackupSpec } from '../../generator/spec/etcd-backup.ts';
import type { ClusterSpec } from '../../generator/spec/types.ts';

/** When the next snapshot is due (ms since the epoch), or undefined without spec.etcd.backup. */
export function nextSnapshotAt(backup: EtcdBackupSpec | undefined, newestTakenAt: number | undefined): number | undefined {
  if (!backup) return undefined;
  return newestTakenAt === undefined ? Number.NEGATIVE_INFINITY : newestTakenAt + backup.intervalSeconds * 1000;
}

export function snapshotDue(backup: EtcdBackupSpec | undefined, newestTakenAt: number | undefined, now: number): boolean {
  const at = nextSnapshotAt(backup, newestTakenAt);
  return at !== undefined && now >= at;
}

/**
 * The host that takes the snapshot: an etcd member with external etcd, a control plane with
 * stacked etcd — the first in spec order that `usable` accepts (done, enrolled, not removed: the
 * caller knows). Undefined when none is: no snapshot this time, and the caller says why.
 */
export function snapshotHost(spec: ClusterSpec, usable: (host: string) => boolean): string | undefined {
  const role = spec.topology === 'external-etcd' ? 'etcd' : 'control-plane';
  return spec.hosts.find((h) => h.role === role && usable(h.name))?.name;
}
