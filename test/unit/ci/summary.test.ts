/**
 * `.ci/run`'s closing line comes from vitest's JSON report. A file whose `beforeAll` fails is a
 * failed suite whose tests are skipped, not failed: the line must count it as a failure and the
 * script must exit non-zero (stop 14's CI printed "1010 passed, 0 failed, 34 skipped" while six
 * files had failed).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../generator/util/package-root.ts';
import { tempDir } from '../../support/temp-dir.ts';

const root = packageRoot(import.meta.dirname);
const script = join(root, 'scripts', 'ci-summary.mjs');

function summarize(report: object | string, leftovers?: string[]): { line: string; code: number | null; stderr: string } {
  const dir = tempDir('kubeseed-ci-summary-');
  const file = join(dir, 'report.json');
  writeFileSync(file, typeof report === 'string' ? report : JSON.stringify(report));
  const args = [script, file];
  if (leftovers) {
    args.push(join(dir, 'leftovers'));
    writeFileSync(args[2]!, leftovers.map((d) => `${d}\n`).join(''));
  }
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  return { line: r.stdout.trim(), code: r.status, stderr: r.stderr };
}

const base = {
  numTotalTestSuites: 3,
  numFailedTestSuites: 0,
  numTotalTests: 5,
  numPassedTests: 5,
  numFailedTests: 0,
  numPendingTests: 0,
  numTodoTests: 0,
};

describe('.ci/run summary line', () => {
  it('prints passed and failed and exits 0 when all passed', () => {
    expect(summarize(base)).toMatchObject({ line: '5 passed, 0 failed', code: 0 });
  });

  it('counts skipped tests after the failed count', () => {
    expect(summarize({ ...base, numPassedTests: 4, numPendingTests: 1 })).toMatchObject({ line: '4 passed, 0 failed, 1 skipped', code: 0 });
  });

  const file = (status: string, ...tests: string[]) => ({ status, assertionResults: tests.map((t) => ({ status: t })) });

  it('counts a file that failed in beforeAll as a failure and exits 1', () => {
    const r = summarize({
      ...base,
      numPassedTests: 3,
      numPendingTests: 2,
      numFailedTestSuites: 2, // the file and its describe block
      testResults: [file('passed', 'passed', 'passed', 'passed'), file('failed', 'skipped', 'skipped')],
    });
    expect(r).toMatchObject({ line: '3 passed, 1 failed, 2 skipped', code: 1 });
  });

  it('adds failed tests and failed files, counting a file with a failed test once', () => {
    const r = summarize({
      ...base,
      numPassedTests: 2,
      numFailedTests: 2,
      numPendingTests: 1,
      numFailedTestSuites: 4,
      testResults: [file('failed', 'failed', 'failed', 'passed'), file('failed', 'skipped'), file('passed', 'passed')],
    });
    expect(r).toMatchObject({ line: '2 passed, 3 failed, 1 skipped', code: 1 });
  });

  it('falls back to numFailedTestSuites without per-file results', () => {
    expect(summarize({ ...base, numPassedTests: 3, numFailedTestSuites: 1 })).toMatchObject({ line: '3 passed, 1 failed', code: 1 });
  });

  it('fails a run that executed no test', () => {
    const r = summarize({ ...base, numTotalTests: 0, numPassedTests: 0 });
    expect(r.code).toBe(1);
    expect(r.line).toBe('0 passed, 0 failed');
  });

  it('fails on a report it cannot read, with the plain line', () => {
    expect(summarize('{not json')).toMatchObject({ line: '0 passed, 1 failed', code: 1 });
  });

  it('counts what the run left behind as one failed check, naming each and the fix', () => {
    const r = summarize(base, ['directory /tmp/ks-store-a1', 'process 4242 etcd --data-dir /tmp/ks-etcd-x']);
    expect({ line: r.line, code: r.code }).toEqual({ line: '5 passed, 1 failed', code: 1 });
    expect(r.stderr).toContain('left 2 things behind');
    expect(r.stderr).toContain('  directory /tmp/ks-store-a1\n  process 4242 etcd --data-dir /tmp/ks-etcd-x');
    expect(r.stderr).toContain('test/support/temp-dir.ts');
  });

  it('passes with an empty list of leftovers', () => {
    expect(summarize(base, [])).toMatchObject({ line: '5 passed, 0 failed', code: 0, stderr: '' });
  });

  it('is what .ci/run calls, with the leftovers it found', () => {
    const run = readFileSync(join(root, '.ci', 'run'), 'utf8');
    expect(run).toMatch(
      /node scripts\/ci-leftovers\.mjs snapshot "\$LEFTOVERS\.before".*\n(.*\n)*.*npm test(.*\n)*node scripts\/ci-leftovers\.mjs since "\$LEFTOVERS\.before" > "\$LEFTOVERS"/,
    );
    expect(run).toMatch(/node scripts\/ci-summary\.mjs "\$REPORT" "\$LEFTOVERS"/);
  });
});
