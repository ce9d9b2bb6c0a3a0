/**
 * `serve` and `generate` at the edges, as real child processes of bin/kubeseed.mjs: serve's lock on
 * its state directory (a second serve refuses naming the PID; a dead holder's lock is taken over
 * with a note), logs for people by default and JSON on request, `--listen nonsense` exit 2;
 * generate naming the hosts it removed and the coordinator restart, refusing a file as --out
 * before writing anything, and Ctrl-C (SIGINT) leaving no lock and no half-written state.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadState } from '../../../generator/state/index.ts';
import { ROOT } from '../../support/fixtures.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { untilListening } from '../server/child-server.ts';
import { runMain } from './run-main.ts';

const work = tempDir('ks-edges-');
const BIN = join(ROOT, 'bin', 'kubeseed.mjs');
const started: ChildProcess[] = [];
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }
});

const run = (...argv: string[]) => runMain(argv, { cwd: work });

function cli(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  started.push(child);
  return child;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => {
    out += String(c);
  });
  child.stderr!.on('data', (c) => {
    err += String(c);
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

const example = readFileSync(join(ROOT, 'examples', 'ha-stacked.yaml'), 'utf8');

describe('kubeseed serve', () => {
  let state: string;
  let dist: string;
  beforeAll(async () => {
    const out = join(work, 'serve-out');
    writeFileSync(join(work, 'serve.yaml'), example);
    expect((await run('generate', join(work, 'serve.yaml'), '--out', out)).code).toBe(0);
    state = join(out, 'coordinator');
    // Stand-ins where serve looks for the agent executables.
    dist = join(work, 'dist');
    mkdirSync(dist, { recursive: true });
    for (const f of ['kubeseed-agent-linux-x64', 'kubeseed-agent-linux-arm64']) writeFileSync(join(dist, f), 'agent stand-in\n');
  });
  const serveArgs = (...extra: string[]) => ['serve', '--state', state, '--listen', '127.0.0.1:0', '--dist', dist, ...extra];

  it('--listen nonsense is a usage error (exit 2) naming the form', async () => {
    const r = await run('serve', '--state', state, '--listen', 'nonsense');
    expect(r.code).toBe(2);
    expect(r.err).toContain('kubeseed serve: --listen: listen address "nonsense" is not host:port');
  });

  it('locks its state directory: a second serve refuses naming the PID; the lock goes with the first', async () => {
    let first = '';
    const one = await untilListening(cli(serveArgs()), 60_000, (t) => {
      first += t;
    });
    // The holder's pid and when it started (generator/state/lock.ts).
    expect(readFileSync(join(state, 'serve.lock'), 'utf8')).toMatch(new RegExp(`^${one.pid} [0-9a-f-]+/\\d+\n$`));
    // People's log lines by default: "time LEVEL message", never pino's JSON.
    await new Promise((r) => setTimeout(r, 200));
    expect(first).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO +Server listening at https:\/\/127\.0\.0\.1:\d+/m);
    expect(first).not.toMatch(/^\{"level"/m);

    const second = await exitOf(cli(serveArgs()));
    expect(second.code).toBe(1);
    expect(second.err).toContain(`is in use by another \`kubeseed serve\` (pid ${one.pid})`);

    const stopped = exitOf(one);
    one.kill('SIGINT');
    expect((await stopped).code).toBe(0);
    expect(existsSync(join(state, 'serve.lock'))).toBe(false);
  });

  it('takes over a lock left by a process that is gone, with a note; --log-format json and --log-level', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(state, 'serve.lock'), `${gone.stdout}\n`);
    let text = '';
    const child = await untilListening(cli(serveArgs('--log-format', 'json', '--log-level', 'info')), 60_000, (t) => {
      text += t;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(text).toContain(`note: taking over ${join(state, 'serve.lock')} from pid ${gone.stdout}, which is gone`);
    const json = text.split('\n').filter((l) => l.startsWith('{'));
    expect(json.some((l) => String(JSON.parse(l).msg).startsWith('Server listening at'))).toBe(true);
    const stopped = exitOf(child);
    child.kill('SIGINT');
    await stopped;

    let quiet = '';
    const warnOnly = await untilListening(cli(serveArgs('--log-level', 'warn')), 60_000, (t) => {
      quiet += t;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(quiet).not.toMatch(/ INFO /);
    const done = exitOf(warnOnly);
    warnOnly.kill('SIGINT');
    await done;
  });
});

describe('kubeseed generate', () => {
  it('names the hosts it removed, and says a running coordinator must be restarted', async () => {
    const spec = join(work, 'gen.yaml');
    const out = join(work, 'gen-out');
    writeFileSync(spec, example);
    const first = await run('generate', spec, '--out', out);
    expect(first.code, first.err).toBe(0);
    expect(first.out).not.toContain('removed');
    expect(first.err).not.toContain('restart');
    writeFileSync(spec, example.replace(/ {4}- name: k8s1worker2\n(?: {6}.*\n)+/, ''));
    const second = await run('generate', spec, '--out', out);
    expect(second.code, second.err).toBe(0);
    expect(second.out).toContain('removed 1 host(s) no longer in the spec: k8s1worker2 (their user-data, plan and credentials are gone)');
    expect(second.err).toMatch(
      /note: a `kubeseed serve --state .*gen-out\/coordinator` that is already running keeps the old plan .* restart it/,
    );
    expect(existsSync(join(out, 'hosts', 'k8s1worker2'))).toBe(false);
  });

  it('an --out that is a file (or under a file) is a usage error before anything is written', async () => {
    const spec = join(work, 'gen.yaml');
    const file = join(work, 'a-file');
    writeFileSync(file, 'keep me\n');
    const before = readdirSync(work).sort();
    for (const out of [file, join(file, 'sub')]) {
      const r = await run('generate', spec, '--out', out);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`--out ${out}: `);
      expect(r.err).toContain('a file, not a directory');
    }
    expect(readFileSync(file, 'utf8')).toBe('keep me\n');
    expect(readdirSync(work).sort()).toEqual(before);
  });

  it('Ctrl-C (SIGINT) leaves no lock and no half-written state; a re-run finishes', async () => {
    const workers = Array.from(
      { length: 600 },
      (_, i) => `    - { name: w${String(i).padStart(3, '0')}, role: worker, labels: { node-role.kubernetes.io/worker: "" } }`,
    ).join('\n');
    const spec = join(work, 'big.yaml');
    // A /14 pod subnet holds 1,024 node ranges of /24: room for the 600 workers.
    writeFileSync(spec, `${example.replace('podSubnet: 100.64.0.0/16', 'podSubnet: 100.64.0.0/14').trimEnd()}\n${workers}\n`);
    const out = join(work, 'big-out');
    const child = cli(['generate', spec, '--out', out]);
    const result = exitOf(child);
    // Interrupt once the first host's files are being written (the state is complete by then); 600 hosts
    // keep the writer busy long enough that the signal lands mid-way also on a loaded machine.
    const deadline = Date.now() + 120_000;
    while (
      !(existsSync(join(out, 'hosts')) && readdirSync(join(out, 'hosts')).length > 0) &&
      Date.now() < deadline &&
      child.exitCode === null
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const r = await result;
    expect(r.code, r.err).toBe(130);
    expect(r.err).toContain('kubeseed generate: interrupted');
    expect(existsSync(join(out, 'coordinator', 'generate.lock'))).toBe(false);
    expect(readdirSync(join(out, 'coordinator')).filter((f) => f.includes('.tmp') || f.includes('.lock'))).toEqual([]);
    await loadState(join(out, 'coordinator'), {});
    // Mid-way, some hosts are missing; a signal that lands after the last safe point (a fast machine:
    // CI once wrote all 608 within the poll interval) ends as an interrupt too, with every file written.
    // Either way, what is there is whole.
    const hosts = readdirSync(join(out, 'hosts'));
    expect(hosts.length).toBeLessThanOrEqual(608);
    console.log(`[edges] Ctrl-C landed with ${hosts.length} of 608 host directories written`);
    for (const host of hosts) {
      const userData = join(out, 'hosts', host, 'user-data');
      if (!existsSync(userData) || statSync(userData).size === 0) continue;
      const text = readFileSync(userData, 'utf8');
      expect(text.startsWith('#cloud-config'), host).toBe(true);
      expect(() => parseYaml(text), host).not.toThrow();
    }
    const again = await run('generate', spec, '--out', out);
    expect(again.code, again.err).toBe(0);
    expect(readdirSync(join(out, 'hosts'))).toHaveLength(608);
  }, 240_000);
});
