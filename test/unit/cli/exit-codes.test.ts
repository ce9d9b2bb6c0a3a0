/**
 * The one error → exit-code table (cli/exit-codes.ts): every row, through main() as a command
 * would throw it, and the codes README and docs/status.md document.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../cli/args.ts';
import { COMMANDS } from '../../../cli/commands.ts';
import { CoordinatorError, EXIT, EXIT_CODES, exitCodeFor, InputError, InterruptedError } from '../../../cli/exit-codes.ts';
import { PlanError, SpecError } from '../../../generator/errors.ts';
import { StateError } from '../../../generator/state/index.ts';
import { StoreRefusal } from '../../../server/store/types.ts';
import { ROOT } from '../../support/fixtures.ts';
import { runMain } from './run-main.ts';

const spec = new SpecError('c.yaml', [{ path: 'spec.hosts', message: 'is empty', line: 3, column: 1, severity: 'error' }]);

/** One case per row of the table (and the errors no row names). */
const CASES: [what: string, error: unknown, code: number][] = [
  ['SpecError', spec, 2],
  ['PlanError', new PlanError('user-data over the limit'), 2],
  ['UsageError', new UsageError('unknown option --bogus'), 2],
  ['InputError', new InputError('x.yaml: no such file'), 2],
  ['StateError of the operator (a wrong passphrase)', new StateError('WRONG_PASSPHRASE', 'wrong passphrase'), 2],
  ['StateError of the files (corrupt)', new StateError('CORRUPT_FILE', 'state.json is corrupt'), 1],
  [
    'StoreRefusal (records sealed, no passphrase)',
    new StoreRefusal('PASSPHRASE_REQUIRED', '/s/store holds records encrypted with KUBESEED_PASSPHRASE: set KUBESEED_PASSPHRASE'),
    2,
  ],
  ['CoordinatorError', new CoordinatorError('cannot reach the coordinator'), 1],
  ['InterruptedError', new InterruptedError('interrupted'), 130],
  ['any other error', new Error('EACCES: permission denied'), 1],
];

const THROW = '__throw-for-test';
let thrown: unknown;
COMMANDS[THROW] = {
  summary: 'throws the error under test',
  args: [],
  flags: [],
  examples: [],
  run: async () => {
    throw thrown;
  },
};
afterAll(() => {
  delete COMMANDS[THROW];
});

describe('one error → exit-code table at the CLI edge', () => {
  it('every row has a case', () => {
    const classes = new Set(CASES.map(([, e]) => (e as object).constructor));
    for (const row of EXIT_CODES) expect(classes.has(row.error)).toBe(true);
  });
  for (const [what, error, code] of CASES) {
    it(`${what} → exit ${code}, its message on stderr`, async () => {
      thrown = error;
      const r = await runMain([THROW], { cwd: ROOT });
      expect(r.code).toBe(code);
      expect(r.err).toContain((error as Error).message.split('\n')[0]);
      expect(exitCodeFor(error) ?? EXIT.failure).toBe(code);
    });
  }
  it('a SpecError prints every issue and the count', async () => {
    thrown = spec;
    expect((await runMain([THROW], { cwd: ROOT })).err).toBe('c.yaml:3:1: spec.hosts: is empty\n1 error(s) in c.yaml\n');
  });
  it('the stack of an error no row names is printed under KUBESEED_DEBUG only', async () => {
    thrown = new Error('boom');
    expect((await runMain([THROW], { cwd: ROOT })).err).toBe(`kubeseed ${THROW}: boom\n`);
    expect((await runMain([THROW], { cwd: ROOT, env: { KUBESEED_DEBUG: '1' } })).err).toContain('exit-codes.test.ts');
    thrown = new InputError('refused');
    expect((await runMain([THROW], { cwd: ROOT, env: { KUBESEED_DEBUG: '1' } })).err).toBe(`kubeseed ${THROW}: refused\n`);
  });
  it('the documented exit codes are the table', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Exit codes'), readme.indexOf('## Development'));
    expect(section).toContain(`${EXIT.ok} ok, ${EXIT.failure} runtime failure`);
    expect(section).toContain(`${EXIT.badInput} usage error or refused input`);
    expect(section).toContain(`${EXIT.interrupted} \`generate\` interrupted`);
    expect(section).toContain(`adds ${EXIT.running} (still running) and ${EXIT.failed} (a host failed)`);
    const status = readFileSync(join(ROOT, 'docs', 'status.md'), 'utf8');
    for (const code of [EXIT.ok, EXIT.failure, EXIT.badInput, EXIT.running, EXIT.failed])
      expect(status).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
  });
});
