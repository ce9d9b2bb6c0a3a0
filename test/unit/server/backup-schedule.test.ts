import { describe, expect, it } from 'vitest';
import { nextSnapshotAt, snapshotDue, snapshotHost } from '../../../server/backup/schedule.ts';
import { makePlan } from './fixtures.ts';

const SIX_HOURS = { schedule: '6h', intervalSeconds: 21_600, retention: 7 };
const T = Date.UTC(2026, 11, 6, 12, 0, 0);

describe('when an etcd snapshot is due', () => {
  it.each([
    ['no spec.etcd.backup: never', undefined, T - 10 * 86_400_000, T, false],
    ['no snapshot yet: at once', SIX_HOURS, undefined, T, true],
    ['newest 5 h 59 min old: not yet', SIX_HOURS, T - 21_540_000, T, false],
    ['newest exactly 6 h old: due', SIX_HOURS, T - 21_600_000, T, true],
    ['after a week without a coordinator: one, now', SIX_HOURS, T - 7 * 86_400_000, T, true],
  ] as const)('%s', (_name, backup, newest, now, due) => {
    expect(snapshotDue(backup, newest, now)).toBe(due);
  });
  it('the next one is the newest plus the interval', () => {
    expect(nextSnapshotAt(SIX_HOURS, T)).toBe(T + 21_600_000);
    expect(nextSnapshotAt(undefined, T)).toBeUndefined();
  });
});

describe('which host takes it', () => {
  it('stacked: the first usable control plane', () => {
    const { spec } = makePlan({ controlPlanes: 3, workers: 2 });
    const cps = spec.hosts.filter((h) => h.role === 'control-plane').map((h) => h.name);
    expect(snapshotHost(spec, () => true)).toBe(cps[0]);
    expect(snapshotHost(spec, (h) => h !== cps[0])).toBe(cps[1]);
    expect(snapshotHost(spec, () => false)).toBeUndefined();
  });
  it('external etcd: an etcd member, never a control plane', () => {
    const { spec } = makePlan({ topology: 'external-etcd', etcd: 3 });
    const members = spec.hosts.filter((h) => h.role === 'etcd').map((h) => h.name);
    expect(snapshotHost(spec, () => true)).toBe(members[0]);
    expect(snapshotHost(spec, (h) => !members.includes(h))).toBeUndefined();
  });
});
