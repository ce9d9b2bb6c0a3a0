import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../generator/errors.ts';
import { parseBackupSchedule } from '../../../generator/spec/etcd-backup.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { BASE_SPEC, withLine } from './base-spec.ts';

/** The base spec with `spec.etcd` holding `lines` (indented under it). */
const withEtcd = (...lines: string[]) => withLine('kubeProxy:', ['  etcd:', ...lines.map((l) => `    ${l}`), '  kubeProxy:'].join('\n'));

function firstError(text: string): string {
  try {
    parseSpec(text, 'c.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as SpecError).message.split('\n').find((l) => l.startsWith('c.yaml:')) ?? '';
  }
  throw new Error('the spec parsed');
}

describe('spec.etcd.backup', () => {
  it('is absent by default: no backups', () => {
    expect(parseSpec(BASE_SPEC, 'c.yaml').spec.etcd.backup).toBeUndefined();
  });

  it('an empty backup takes the defaults: daily, seven kept', () => {
    const { spec, warnings } = parseSpec(withEtcd('backup: {}'), 'c.yaml');
    expect(spec.etcd.backup).toEqual({ schedule: '1d', intervalSeconds: 86_400, retention: 7 });
    expect(warnings).toEqual([]); // backups apply to stacked etcd too: no "ignored with stacked" warning
  });

  it('reads schedule and retention', () => {
    const { spec } = parseSpec(withEtcd('backup:', '  schedule: 1d12h', '  retention: 14'), 'c.yaml');
    expect(spec.etcd.backup).toEqual({ schedule: '1d12h', intervalSeconds: 129_600, retention: 14 });
  });

  it('stacked: mode and version are still said to be ignored, each at its key', () => {
    const { warnings } = parseSpec(withEtcd('version: v3.6.5', 'backup: {}'), 'c.yaml');
    expect(warnings.map((w) => `${w.line}:${w.column}: ${w.path}: ${w.message}`)).toEqual([
      '14:5: spec.etcd.version: is ignored with topology: stacked (kubeadm runs etcd on the control planes)',
    ]);
  });

  it('a cron expression is refused with the form it takes', () => {
    expect(firstError(withEtcd('backup:', '  schedule: "0 3 * * *"'))).toBe(
      'c.yaml:15:17: spec.etcd.backup.schedule: "0 3 * * *" is not an interval like 6h, 1d or 1d12h (days d, hours h, minutes m)',
    );
  });

  it('an interval under 15 minutes is refused, located', () => {
    expect(firstError(withEtcd('backup:', '  schedule: 5m'))).toBe(
      'c.yaml:15:17: spec.etcd.backup.schedule: 5m is too often; a snapshot of a large etcd takes minutes and each is kept whole: use at least 15m',
    );
  });

  it('retention below 1 is refused, located', () => {
    expect(firstError(withEtcd('backup:', '  retention: 0'))).toMatch(/^c\.yaml:15:18: spec\.etcd\.backup\.retention: /);
  });

  it('unknown keys get a did-you-mean', () => {
    expect(firstError(withEtcd('backup:', '  retension: 3'))).toBe(
      'c.yaml:15:7: spec.etcd.backup.retension: unknown field; did you mean "retention"?',
    );
  });

  it.each([
    ['30m', 1800],
    ['6h', 21_600],
    ['1d', 86_400],
    ['2d6h30m', 196_200],
    ['', null],
    ['6', null],
    ['1h1d', null],
    ['1w', null],
  ])('schedule %j is %s seconds', (text, seconds) => expect(parseBackupSchedule(text)).toBe(seconds));
});
