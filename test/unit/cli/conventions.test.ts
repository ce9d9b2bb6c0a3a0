/**
 * The command-line conventions, checked through `main()` and real shells: extra or unknown
 * arguments are usage errors (exit 2) with a hint, `-o json|yaml` prints data, per-command help
 * and "did you mean" come from the one command table, completion scripts work in bash (and pass
 * `zsh -n` / `fish -n`, skipped loudly without those shells; CI installs them), and `version` reports what it runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { closest, editDistance } from '../../../cli/args.ts';
import { COMMANDS } from '../../../cli/commands.ts';
import { ROOT } from '../../support/fixtures.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from './run-main.ts';

const work = tempDir('ks-conventions-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const run = (...argv: string[]) => runMain(argv, { cwd: work });

const example = join(ROOT, 'examples', 'ha-stacked.yaml');

describe('usage errors (exit 2, with a hint)', () => {
  it.each([
    [['validate', 'a.yaml', 'b.yaml'], 'unexpected argument "b.yaml": kubeseed validate takes SPEC (see kubeseed validate --help)'],
    [['plan', example, 'extra'], 'unexpected argument "extra"'],
    [['hosts', 'cp1'], 'unexpected argument "cp1": kubeseed hosts takes no arguments'],
    [['retry'], 'missing HOST: usage: kubeseed retry HOST'],
    [['validate', example, '--strcit'], 'unknown option --strcit; did you mean --strict?'],
    [['generate', example, '--otu', 'x'], 'unknown option --otu; did you mean --out?'],
    [['status', '--state'], '--state needs a value: --state DIR'],
    [['status', '--state', '--watch'], '--state needs a value'],
    [['plan', example, '-o'], '-o needs a value: -o FORMAT (json|yaml)'],
    [['plan', example, '-o', 'yml'], '-o yml: accepted values are json, yaml'],
    [['hosts', '--output=table'], '--output table: accepted values are json, yaml'],
    [['generate', example], '--out DIR is required'],
    [['validate', '--strict=yes', example], '--strict takes no value'],
    [['completion', 'tcsh'], 'accepted shells are bash, zsh, fish'],
  ])('kubeseed %j', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(message);
  });

  it('a mistyped command gets "did you mean"; edit distance counts a transposition once', async () => {
    const r = await run('valdiate', example);
    expect(r.code).toBe(2);
    expect(r.err).toBe('kubeseed: unknown command "valdiate"; did you mean "validate"? (kubeseed help lists the commands)\n');
    expect((await run('frobnicate')).err).not.toContain('did you mean');
    expect(editDistance('otu', 'out')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('hots', Object.keys(COMMANDS))).toBe('hosts');
  });
});

describe('-o json|yaml', () => {
  it('plan -o json is JSON (not YAML), -o yaml the same data; --json kept', async () => {
    const json = await run('plan', example, '-o', 'json');
    expect(json.code, json.err).toBe(0);
    const doc = JSON.parse(json.out);
    expect(doc.steps[0]).toMatchObject({ order: 1, id: expect.any(String), host: expect.any(String) });
    expect(doc.hosts.length).toBeGreaterThan(3);
    expect(parseYaml((await run('plan', example, '-o', 'yaml')).out)).toEqual(doc);
    expect(JSON.parse((await run('plan', example, '--json')).out)).toEqual(doc);
    const one = JSON.parse((await run('plan', example, '--host', 'k8s1worker1', '-o', 'json')).out);
    expect(new Set(one.steps.map((s: { host: string }) => s.host))).toEqual(new Set(['k8s1worker1']));
  });

  it('validate and generate print their results as data', async () => {
    const v = JSON.parse((await run('validate', example, '-o', 'json')).out);
    expect(v).toMatchObject({ valid: true, cluster: 'k8s1-cluster', hosts: { 'control-plane': 3 } });
    const g = await run('generate', example, '--out', join(work, 'gen'), '-o', 'yaml');
    expect(g.code, g.err).toBe(0);
    expect(parseYaml(g.out)).toMatchObject({ cluster: 'k8s1-cluster', removedHosts: [] });
  });

  it('every command that prints data takes -o json|yaml and --json', () => {
    const printing = ['validate', 'plan', 'generate', 'demo', 'status', 'hosts', 'retry', 'approve', 'rebind', 'remove', 'version'];
    for (const name of printing) {
      const flags = COMMANDS[name]!.flags;
      expect(
        flags.find((f) => f.name === 'output'),
        name,
      ).toMatchObject({ short: 'o', choices: ['json', 'yaml'] });
      expect(
        flags.some((f) => f.name === 'json'),
        name,
      ).toBe(true);
    }
  });
});

describe('help, from the command table', () => {
  it('`help CMD` and `CMD --help` print every flag with its default, and examples', async () => {
    for (const name of Object.keys(COMMANDS)) {
      const a = await run('help', name);
      const b = await run(name, '--help');
      expect(a.code).toBe(0);
      expect(b.out).toBe(a.out);
      expect(a.out).toMatch(new RegExp(`^Usage: kubeseed ${name}`));
      for (const f of COMMANDS[name]!.flags) {
        const line = a.out.split('\n').find((l) => l.includes(`--${f.name}`) && l.includes(f.help));
        expect(line, `${name} --${f.name}`).toBeDefined();
        if (f.default) expect(line).toContain(`(default: ${f.default})`);
      }
      if (COMMANDS[name]!.examples.length) expect(a.out).toContain(`Examples:\n  ${COMMANDS[name]!.examples[0]}`);
    }
    const gen = (await run('help', 'generate')).out;
    expect(gen).toContain('Usage: kubeseed generate SPEC --out DIR [--rotate] [--dist DIR] [--strict] [-o json|yaml]');
    expect(gen).toContain('kubeseed generate cluster.yaml --out out');
    expect((await run('remove', '--help')).out).toMatch(/-y, --yes +do it without asking/);
    expect((await run('help', 'genrate')).err).toContain('did you mean "generate"?');
  });
});

describe('kubeseed completion', () => {
  const script = (shell: string) =>
    execFileSync(process.execPath, [join(ROOT, 'bin', 'kubeseed.mjs'), 'completion', shell], { encoding: 'utf8' });

  it('bash: passes bash -n, completes commands, flags and flag values when sourced', () => {
    const file = join(work, 'kubeseed.bash');
    writeFileSync(file, script('bash'));
    execFileSync('bash', ['-n', file]);
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kubeseed; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: 'utf8' },
      )
        .trim()
        .split('\n');
    expect(complete('kubeseed', 'gen')).toEqual(['generate']);
    expect(complete('kubeseed', 're')).toEqual(['renew', 'retry', 'rebind', 'remove']);
    expect(complete('kubeseed', 'generate', '--ro')).toEqual(['--rotate']);
    expect(complete('kubeseed', 'remove', 'w1', '--d')).toEqual(['--dry-run']);
    expect(complete('kubeseed', 'plan', 'x.yaml', '-o', '')).toEqual(['json', 'yaml']);
    expect(complete('kubeseed', 'serve', '--log-format', '')).toEqual(['text', 'json']);
    expect(complete('kubeseed', 'completion', 'z')).toEqual(['zsh']);
  });

  it.skipIf(skipUnless('unit completion', { commands: ['zsh'] }))('zsh: passes zsh -n', () => {
    const file = join(work, '_kubeseed');
    writeFileSync(file, script('zsh'));
    execFileSync('zsh', ['-n', file]);
  });

  it.skipIf(skipUnless('unit completion', { commands: ['fish'] }))('fish: passes fish -n and completes a flag', () => {
    const file = join(work, 'kubeseed.fish');
    writeFileSync(file, script('fish'));
    execFileSync('fish', ['-n', file]);
    const out = execFileSync('fish', ['-c', `source ${file}; complete -C 'kubeseed generate --ro'`], { encoding: 'utf8' });
    expect(out).toMatch(/^--rotate\t/m);
  });
});

describe('kubeseed version', () => {
  it('-o json: version, commit from git in a checkout, Node, agents "not built" when absent', async () => {
    const empty = mkdtempSync(join(work, 'dist-'));
    const r = await run('version', '-o', 'json', '--dist', empty);
    expect(r.code, r.err).toBe(0);
    const v = JSON.parse(r.out);
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(v).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.version });
    expect(v.commit.startsWith(head)).toBe(true);
    expect(v.agents).toEqual([
      { arch: 'linux-amd64', file: join(empty, 'kubeseed-agent-linux-x64'), built: false },
      { arch: 'linux-arm64', file: join(empty, 'kubeseed-agent-linux-arm64'), built: false },
    ]);
    expect((await run('version', '--dist', empty)).out).toContain('agent linux-amd64: not built');
  });

  it('reports the digest of a built executable and its version where it runs here', async () => {
    const dist = mkdtempSync(join(work, 'dist-'));
    // A stand-in executable answering --version as the agent does (agent/cli.ts).
    writeFileSync(join(dist, 'kubeseed-agent-linux-x64'), '#!/bin/sh\necho "kubeseed-agent 9.8.7 (node v0, linux/x64)"\n', { mode: 0o755 });
    const v = JSON.parse((await run('version', '-o', 'json', '--dist', dist)).out);
    const amd64 = v.agents.find((a: { arch: string }) => a.arch === 'linux-amd64');
    expect(amd64.sha256).toMatch(/^[0-9a-f]{64}$/);
    if (process.arch === 'x64') expect(amd64.version).toBe('9.8.7');
  });
});
