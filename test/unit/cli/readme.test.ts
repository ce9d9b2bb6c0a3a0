/** The README's command reference stays true: it names every command of the table and every flag each one takes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../cli/commands.ts';
import { ROOT } from '../../support/fixtures.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const reference = readme.slice(readme.indexOf('## Commands'), readme.indexOf('## Exit codes'));

describe('README command reference', () => {
  it.each(Object.keys(COMMANDS).filter((n) => n !== 'help' && n !== 'completion'))('documents kubeseed %s and its flags', (name) => {
    const row = reference.split('\n').find((l) => l.startsWith(`| \`kubeseed ${name} `) || l.startsWith(`| \`kubeseed ${name}\``));
    expect(row, name).toBeDefined();
    const operator = ['retry', 'approve', 'rebind', 'remove'].includes(name);
    for (const f of COMMANDS[name]!.flags) {
      if (f.name === 'json' || (operator && ['state', 'url', 'token', 'output'].includes(f.name))) continue;
      expect(row, `${name} --${f.name}`).toContain(f.name === 'output' ? '-o json' : `--${f.name}`);
    }
  });

  it('describes help, completion and the operator flags shared by retry/approve/rebind/remove', () => {
    expect(reference).toContain('kubeseed help CMD');
    expect(reference).toContain('kubeseed completion bash|zsh|fish');
    for (const flag of ['--state DIR', '--url', '--token', 'KUBESEED_OPERATOR_TOKEN', '--yes', '--dry-run'])
      expect(reference).toContain(flag);
  });
});
