/**
 * The agent's reading of `cloud-init status` for the enrollment (agent/cloud-init-status.ts) on REAL
 * outputs of cloud-init 22.1, 22.4 and 24.1 (fixtures/cloud-init-status/README.md says how they were
 * made): JSON where the installed cloud-init has `--format`, the tabular `--long` form where it
 * answers "unrecognized arguments", errors and recoverable errors as cloud-init words them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLOUD_INIT_STATUS_TIMEOUT_MS,
  cloudInitFinished,
  parseCloudInitJson,
  parseCloudInitTabular,
  readCloudInitStatus,
} from '../../../agent/cloud-init-status.ts';
import type { Exec, ExecResult } from '../../../agent/io.ts';
import { CLOUD_INIT_MAX_MESSAGE, type CloudInitReport } from '../../../protocol/wire.ts';

const DIR = join(import.meta.dirname, 'fixtures/cloud-init-status');
const index = new Map(
  readFileSync(join(DIR, 'index.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [file, , , code] = line.split('\t');
      return [file!, Number(code)] as const;
    }),
);
const fixture = (file: string) => ({ output: readFileSync(join(DIR, file), 'utf8'), code: index.get(file)! });

/** Answers the two commands the agent runs with one version's real outputs; records what was run. */
function execOf(scenario: string, version: string): Exec & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async run(argv): Promise<ExecResult> {
      calls.push([...argv]);
      const file = argv.includes('--format') ? `${scenario}.${version}.json` : `${scenario}.${version}.long.txt`;
      const { output, code } = fixture(file);
      return { code, output, notFound: false, timedOut: false };
    },
  };
}

const ERRORS = [
  "('write-files', FileExistsError(17, 'File exists'))",
  "('scripts-user', RuntimeError('Runparts: 1 failures (runcmd) in 1 attempted commands'))",
];

describe('readCloudInitStatus on real cloud-init outputs', () => {
  const cases: Array<[string, string, Partial<CloudInitReport>, number]> = [
    ['clean', '22.1', { status: 'done', exitCode: 0, errors: [], recoverableErrors: [] }, 2],
    ['clean', '22.4', { status: 'done', exitCode: 0, errors: [], recoverableErrors: [] }, 1],
    ['clean', '24.1', { status: 'done', extendedStatus: 'done', exitCode: 0, errors: [], recoverableErrors: [] }, 1],
    ['running', '22.4', { status: 'running', exitCode: 0, errors: [] }, 1],
    ['running', '24.1', { status: 'running', extendedStatus: 'running', exitCode: 0, errors: [] }, 1],
    ['errors', '22.1', { status: 'error', exitCode: 1, errors: ERRORS }, 2],
    ['errors', '22.4', { status: 'error', exitCode: 1, errors: ERRORS }, 1],
    ['errors', '24.1', { status: 'error', extendedStatus: 'error - done', exitCode: 1, errors: ERRORS }, 1],
    ['degraded', '22.4', { status: 'done', exitCode: 0, errors: [], recoverableErrors: [] }, 1],
    [
      'degraded',
      '24.1',
      {
        status: 'done',
        extendedStatus: 'degraded done',
        exitCode: 2,
        errors: [],
        // JSON keys come sorted (json.dumps sort_keys): DEPRECATED before WARNING.
        recoverableErrors: [
          'DEPRECATED: Deprecated cloud-config provided: chpasswd.list:  Deprecated in version 22.2. Use ``users`` instead.',
          "WARNING: Invalid cloud-config provided: Please run 'sudo cloud-init schema --system' to see the schema errors.",
        ],
      },
      1,
    ],
  ];
  it.each(cases)('%s on cloud-init %s', async (scenario, version, expected, commands) => {
    const exec = execOf(scenario, version);
    const report = await readCloudInitStatus(exec);
    expect(report).toMatchObject(expected);
    // 22.1 has no --format: it answers exit 2 "unrecognized arguments" and the tabular form is read.
    expect(exec.calls).toHaveLength(commands);
    expect(exec.calls[0]).toEqual(['cloud-init', 'status', '--long', '--format', 'json']);
    for (const call of exec.calls) expect(call).not.toContain('--wait');
  });

  it('the tabular form of every version says what the JSON form says', () => {
    for (const scenario of ['clean', 'running', 'errors', 'degraded']) {
      for (const version of ['22.4', '24.1']) {
        const json = fixture(`${scenario}.${version}.json`);
        const table = fixture(`${scenario}.${version}.long.txt`);
        // The table lists levels in the order stages recorded them, the JSON sorted: compare as sets.
        const sorted = (r: CloudInitReport | null) => r && { ...r, recoverableErrors: [...r.recoverableErrors].sort() };
        expect(sorted(parseCloudInitTabular(table.output, table.code)), `${scenario} ${version}`).toEqual(
          sorted(parseCloudInitJson(json.output, json.code)),
        );
      }
    }
  });

  it('22.1 prints no JSON for --format json (argparse refuses it)', () => {
    const { output, code } = fixture('clean.22.1.json');
    expect(code).toBe(2);
    expect(parseCloudInitJson(output, code)).toBeNull();
  });
});

describe('cloudInitFinished (the preflight then skips `status --wait`)', () => {
  it.each([
    ['clean.22.4', true],
    ['clean.24.1', true],
    ['degraded.24.1', true],
    ['errors.22.4', false],
    ['errors.24.1', false],
    ['running.22.4', false],
    ['running.24.1', false],
  ])('%s → %s', async (name, finished) => {
    const [scenario, ...version] = name.split('.');
    const report = await readCloudInitStatus(execOf(scenario!, version.join('.')));
    expect(cloudInitFinished(report!)).toBe(finished);
  });
});

describe('readCloudInitStatus edges', () => {
  const answer = (r: Partial<ExecResult>): Exec => ({ run: async () => ({ code: 0, output: '', notFound: false, timedOut: false, ...r }) });

  it('no cloud-init (an Ignition host): no report', async () => {
    expect(await readCloudInitStatus(answer({ notFound: true, code: null }))).toBeUndefined();
  });

  it('a status that does not answer in time is reported as unknown, not waited for', async () => {
    const report = await readCloudInitStatus(answer({ timedOut: true, code: null }));
    expect(report).toEqual({
      status: 'unknown',
      exitCode: null,
      errors: [`cloud-init status did not answer within ${CLOUD_INIT_STATUS_TIMEOUT_MS / 1000} s`],
      recoverableErrors: [],
    });
  });

  it('bounds the messages to what the coordinator accepts', async () => {
    const errors = Array.from({ length: 40 }, (_, i) => `error ${i} ${'x'.repeat(900)}`);
    const report = await readCloudInitStatus(answer({ code: 1, output: JSON.stringify({ status: 'error', errors }) }));
    expect(report?.errors).toHaveLength(20);
    expect(report?.errors.every((e) => e.length <= CLOUD_INIT_MAX_MESSAGE)).toBe(true);
  });

  it('skips what was printed before the JSON object (a systemctl complaint on stderr)', () => {
    const out = 'Failed to get status from systemd. Cloud-init status may be inaccurate.\n{\n  "status": "done",\n  "errors": []\n}\n';
    expect(parseCloudInitJson(out, 0)).toEqual({ status: 'done', exitCode: 0, errors: [], recoverableErrors: [] });
  });
});
