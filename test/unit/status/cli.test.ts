/**
 * `kubeseed status` against a real coordinator on 127.0.0.1 (HTTPS, the test CA pinned from the
 * state directory): plain lines, terminal bars, JSON, every exit code (0 done, 3 running, 4
 * failed, 1 unreachable or an impostor certificate, 2 bad input), and --watch following the event
 * stream to the end of a rollout the test drives meanwhile.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cmdHosts } from '../../../cli/coordinator-commands.ts';
import type { StatusIo } from '../../../cli/status.ts';
import { cmdStatus } from '../../../cli/status-command.ts';
import { OPERATOR_TOKEN_FILE } from '../../../generator/state/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { credentialOf, OPERATOR_TOKEN, removeDir, type SimulatedRollout, startSimulation, writeStateDir } from './rollout-sim.ts';

interface Run {
  code: number;
  out: string;
  err: string;
}

function makeIo(
  options: { tty?: boolean; env?: NodeJS.ProcessEnv; signal?: AbortSignal; onOut?: (s: string) => void; giveUpAfterMs?: number } = {},
) {
  const io: StatusIo & { out: string; err: string } = {
    out: '',
    err: '',
    stdout(s) {
      io.out += s;
      options.onOut?.(s);
    },
    stderr(s) {
      io.err += s;
    },
    env: options.env ?? {},
    cwd: '/',
    isTTY: options.tty ?? false,
    columns: 100,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.giveUpAfterMs !== undefined ? { giveUpAfterMs: options.giveUpAfterMs } : {}),
  };
  return io;
}

async function run(argv: string[], options: Parameters<typeof makeIo>[0] = {}): Promise<Run> {
  const io = makeIo(options);
  const code = await cmdStatus(argv, io);
  return { code, out: io.out, err: io.err };
}

const dirs: string[] = [];
function stateFor(url: string, options: Parameters<typeof writeStateDir>[1] = {}): string {
  const dir = writeStateDir(url, options);
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) removeDir(d);
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 1;
}

describe('kubeseed status (one shot)', () => {
  let sim: SimulatedRollout;
  let state: string;
  beforeAll(async () => {
    sim = await startSimulation({ listen: true, workers: 2 });
    state = stateFor(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('running: exit 3, one plain line per host when stdout is not a terminal', async () => {
    await sim.enroll('lb1', 'lb2', 'cp1');
    await sim.succeedReleased(['lb1']);
    const r = await run(['--state', state]);
    expect(r.code, r.err).toBe(3);
    expect(r.err).toBe('');
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^test · Kubernetes v1\.37\.0 · stacked · rollout running · hosts 1\/7 done · steps 1\/\d+ · enrolled 3\/7/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(sim.hosts);
    expect(lines.find((l) => l.startsWith('lb1'))).toMatch(/^lb1\s+load-balancer\s+1\/1\s+done$/);
    expect(lines.find((l) => l.startsWith('lb2'))).toMatch(/^lb2\s+load-balancer\s+0\/1\s+running\s+lb-check · \d+s$/);
    expect(lines.find((l) => l.startsWith('w2'))).toMatch(/not-enrolled\s+for enrollment/);
    expect(r.out).not.toMatch(/\x1b\[|█|░/);
  });

  it('draws bars and colors on a terminal', async () => {
    const r = await run(['--state', state], { tty: true });
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/lb1\s+load-balancer\s+\x1b\[32m█+\x1b\[0m\s+1\/1/);
    expect(r.out).toContain('░');
    const plain = await run(['--state', state], { tty: true, env: { NO_COLOR: '1' } });
    expect(plain.out).not.toContain('\x1b[');
    expect(plain.out).toMatch(/lb1\s+load-balancer\s+█+\s+1\/1/);
  });

  it('--json prints the status document', async () => {
    const r = await run(['--state', state, '--json']);
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.out);
    expect(doc.hosts.map((h: { name: string }) => h.name)).toEqual(sim.hosts);
    expect(doc.counts).toEqual({ hosts: 7, enrolled: 3, done: 1, failed: 0 });
    expect(JSON.stringify(doc)).not.toContain(OPERATOR_TOKEN);
  });

  it('failed: exit 4 and the failure log lines, with released secrets redacted', async () => {
    await sim.succeedReleased(['lb2', 'cp1']); // init
    await sim.succeedReleased(['cp1']); // cni
    await sim.enroll('w1');
    await sim.runNext('w1', 'failed', {
      permanent: true,
      reason: 'kubeadm-exit-1',
      logTail: 'joining with abcdef.0123456789abcdef\nerror: port 10250 is in use',
    });
    const r = await run(['--state', state]);
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/^w1\s+worker\s+0\/\d\s+failed\s+kubeadm-join-worker: kubeadm-exit-1 — fix, then `kubeseed retry w1`$/m);
    expect(r.out).toContain('w1 log: error: port 10250 is in use');
    expect(r.out).toContain('w1 log: joining with [REDACTED]');
    expect(r.out).not.toContain('abcdef.0123456789abcdef');
    expect(r.out).toMatch(/rollout FAILED/);
  });

  it('done: exit 0 once every host finished', async () => {
    await sim.app.inject({ method: 'POST', url: '/v1/admin/hosts/w1/retry', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    await sim.enroll('cp2', 'cp3', 'w2');
    await sim.runToEnd();
    const r = await run(['--state', state]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/rollout done · hosts 7\/7 done/);
  });

  it('takes the token from --token, then KUBESEED_OPERATOR_TOKEN, then the state directory', async () => {
    expect((await run(['--state', state, '--token', 'wrong'])).code).toBe(2);
    expect((await run(['--state', state], { env: { KUBESEED_OPERATOR_TOKEN: 'wrong' } })).code).toBe(2);
    expect((await run(['--state', state, '--token', OPERATOR_TOKEN], { env: { KUBESEED_OPERATOR_TOKEN: 'wrong' } })).code).toBe(0);
    const noFile = stateFor(sim.url, { token: null });
    expect((await run(['--state', noFile], { env: { KUBESEED_OPERATOR_TOKEN: OPERATOR_TOKEN } })).code).toBe(0);
  });

  it('reads the URL from cluster.yaml when state.json has none, and --url overrides both', async () => {
    const dir = stateFor('https://127.0.0.1:1');
    expect((await run(['--state', dir])).code).toBe(1);
    expect((await run(['--state', dir, '--url', sim.url])).code).toBe(0);
    rmSync(join(dir, 'state.json'));
    writeFileSync(
      join(dir, 'cluster.yaml'),
      `apiVersion: kubeseed.dev/v1alpha1\nkind: Cluster\nspec:\n  coordinator:\n    url: ${sim.url}/\n`,
    );
    expect((await run(['--state', dir])).code).toBe(0);
  });
});

describe('certificate expiry in kubeseed status and kubeseed hosts', () => {
  const DAY = 86_400_000;
  let sim: SimulatedRollout;
  let state: string;
  // What `kubeseed serve` reads from the state directory (server/certificates.ts), as plain data.
  const now = Date.now();
  const inDays = (d: number) => now + d * DAY + 3_600_000;
  const day = (d: number) => new Date(inDays(d)).toISOString().slice(0, 10);
  beforeAll(async () => {
    sim = await startSimulation({
      listen: true,
      workers: 1,
      certificates: [
        { file: 'tls/server.crt', notAfter: inDays(300), hosts: '*' },
        { file: 'pki/ca.crt', notAfter: inDays(3650), hosts: ['cp1', 'cp2', 'cp3'] },
        { file: 'pki/front-proxy-ca.crt', notAfter: inDays(12), hosts: ['cp2'] },
      ],
    });
    state = stateFor(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('status: the earliest expiry under the heading and a warning below 30 days; --json carries it', async () => {
    const r = await run(['--state', state]);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[1]).toBe(`certificates: earliest expiry ${day(12)} (pki/front-proxy-ca.crt, in 12 days)`);
    expect(lines[2]).toBe(
      `WARNING: certificate pki/front-proxy-ca.crt expires on ${day(12)} (in 12 days): renew it (docs/pki.md, "Renewing certificates")`,
    );
    const doc = JSON.parse((await run(['--state', state, '--json'])).out);
    expect(doc.certificateExpiry).toEqual({ file: 'pki/front-proxy-ca.crt', notAfter: inDays(12) });
    expect(doc.hosts.find((h: { name: string }) => h.name === 'cp1').certificateExpiry).toEqual({
      file: 'pki/ca.crt',
      notAfter: inDays(3650),
    });
  });

  it("hosts: each host's earliest expiry in a column, a warning line per host below 30 days; --json carries it", async () => {
    const io = makeIo();
    expect(await cmdHosts(['--state', state], io)).toBe(0);
    const lines = io.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^HOST\s+ROLE\s+STATE\s+STEP\s+WAITING FOR\s+CERTS EXPIRE$/);
    expect(lines.find((l) => l.startsWith('cp1'))).toMatch(new RegExp(`\\s${day(3650)}$`));
    expect(lines.find((l) => l.startsWith('cp2'))).toMatch(new RegExp(`\\s${day(12)}$`));
    expect(lines.find((l) => l.startsWith('w1'))).toMatch(/\s-$/);
    expect(lines.filter((l) => l.startsWith('WARNING'))).toEqual([
      `WARNING: cp2: certificate pki/front-proxy-ca.crt expires on ${day(12)} (in 12 days): renew it (docs/pki.md, "Renewing certificates")`,
    ]);
    const json = makeIo();
    await cmdHosts(['--state', state, '--json'], json);
    const cp2 = JSON.parse(json.out).find((h: { name: string }) => h.name === 'cp2');
    expect(cp2.certificateExpiry).toEqual({ file: 'pki/front-proxy-ca.crt', notAfter: inDays(12) });
  });

  it('says nothing about certificates when none is near expiry but still shows the date', async () => {
    const quiet = await startSimulation({
      listen: true,
      workers: 1,
      certificates: [{ file: 'tls/server.crt', notAfter: inDays(300), hosts: '*' }],
    });
    try {
      const r = await run(['--state', stateFor(quiet.url)]);
      expect(r.out.split('\n')[1]).toBe(`certificates: earliest expiry ${day(300)} (tls/server.crt, in 300 days)`);
      expect(r.out).not.toContain('WARNING');
    } finally {
      await quiet.close();
    }
  });
});

describe('kubeseed status: exit codes 1 and 2', () => {
  let sim: SimulatedRollout;
  beforeAll(async () => {
    sim = await startSimulation({ listen: true, workers: 1 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('1: nothing listens at the URL — the message names the URL and the fix', async () => {
    const url = `https://127.0.0.1:${await closedPort()}`;
    const state = stateFor(url);
    const r = await run(['--state', state]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot reach the coordinator at ${url} (ECONNREFUSED)`);
    expect(r.err).toContain(`kubeseed serve --state ${state}`);
    expect(r.out).toBe('');
  });

  it('1: a server whose certificate the pinned CA did not sign is not believed', async () => {
    const dir = tempDir('ks-other-ca-');
    dirs.push(dir);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'k'),
        '-out',
        join(dir, 'c'),
        '-days',
        '1',
        '-subj',
        '/CN=impostor-ca',
      ],
      { stdio: 'ignore' },
    );
    const state = stateFor(sim.url, { ca: readFileSync(join(dir, 'c'), 'utf8') });
    const r = await run(['--state', state]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`the server at ${sim.url} did not prove it is this coordinator`);
    expect(r.err).toContain(join(state, 'tls', 'ca.crt'));
  });

  it('2: no token, a refused token (an agent credential), no CA, no URL, bad options', async () => {
    const noToken = await run(['--state', stateFor(sim.url, { token: null })]);
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain(OPERATOR_TOKEN_FILE);
    expect(noToken.err).toContain('kubeseed serve');

    const agent = await run(['--state', stateFor(sim.url, { token: credentialOf('cp1') })]);
    expect(agent.code).toBe(2);
    expect(agent.err).toContain('refused the operator token (401)');

    const empty = tempDir('ks-empty-');
    dirs.push(empty);
    const noCa = await run(['--state', empty]);
    expect(noCa.code).toBe(2);
    expect(noCa.err).toContain(`no coordinator CA at ${join(empty, 'tls', 'ca.crt')}`);

    const noUrl = stateFor(sim.url);
    rmSync(join(noUrl, 'state.json'));
    const missingUrl = await run(['--state', noUrl]);
    expect(missingUrl.code).toBe(2);
    expect(missingUrl.err).toContain('pass --url');

    expect((await run(['--state', stateFor(sim.url), '--url', 'http://127.0.0.1:1'])).code).toBe(2);
    expect((await run(['--bogus'])).err).toContain('unknown option --bogus');
    expect((await run(['--bogus'])).code).toBe(2);
    expect((await run(['extra'])).code).toBe(2);
    expect((await run(['--state'])).code).toBe(2);
  });
});

describe('kubeseed status --watch', () => {
  let sim: SimulatedRollout | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('redraws as the rollout moves and exits 0 when it is done', async () => {
    sim = await startSimulation({ listen: true, workers: 2, loadBalancers: 1, controlPlanes: 1 });
    const state = stateFor(sim.url);
    const frames: string[] = [];
    const watching = run(['--state', state, '--watch'], { onOut: (s) => frames.push(s) });
    await expect.poll(() => frames.length).toBeGreaterThan(0);
    await sim.enroll(...sim.hosts);
    const cp1Done = () =>
      sim!
        .status()
        .hosts.find((h) => h.name === 'cp1')!
        .steps.filter((s) => s.state === 'succeeded').length;
    for (let round = 0; round < 10 && !sim.status().done; round++) {
      await sim.succeedReleased();
      // Wait until the watcher has drawn this round (it refetches on the coordinator's event).
      const expected = new RegExp(`^cp1\\s+control-plane\\s+${cp1Done()}/`, 'm');
      if (!sim.status().done) await expect.poll(() => expected.test(frames.at(-1) ?? ''), { timeout: 10_000 }).toBe(true);
    }
    const r = await watching;
    expect(r.code, r.err).toBe(0);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    const cp1Counts = frames.map((f) => /^cp1\s+control-plane\s+(\d+)\/\d+/m.exec(f)?.[1]).filter(Boolean);
    // The same host's progress as the watcher saw it: it only moves forward, from 0 to the end.
    expect(cp1Counts[0]).toBe('0');
    expect(cp1Counts.at(-1)).toBe('4');
    expect(cp1Counts.map(Number)).toEqual([...cp1Counts.map(Number)].sort((a, b) => a - b));
    expect(new Set(cp1Counts).size).toBeGreaterThanOrEqual(3);
    expect(frames.at(-1)).toMatch(/rollout done/);
  });

  it('exits 4 when a host fails while watching, and --json prints one document per change', async () => {
    sim = await startSimulation({ listen: true, workers: 1, loadBalancers: 1, controlPlanes: 1 });
    const state = stateFor(sim.url);
    const watching = run(['--state', state, '--watch', '--json']);
    await sim.enroll(...sim.hosts);
    await sim.succeedReleased(['lb1']);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await sim.runNext('cp1', 'failed', { permanent: true, reason: 'kubeadm-exit-1', logTail: 'init failed' });
    const r = await watching;
    expect(r.code).toBe(4);
    const docs = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(docs.length).toBeGreaterThanOrEqual(2);
    expect(docs[0].counts.failed).toBe(0);
    expect(docs.at(-1).counts.failed).toBe(1);
  });

  it('Ctrl-C (the abort signal) ends the watch with the last outcome: 3 while running', async () => {
    sim = await startSimulation({ listen: true, workers: 1, loadBalancers: 1, controlPlanes: 1 });
    const state = stateFor(sim.url);
    const controller = new AbortController();
    const frames: string[] = [];
    const watching = run(['--state', state, '--watch'], { signal: controller.signal, tty: true, onOut: (s) => frames.push(s) });
    await expect.poll(() => frames.length).toBeGreaterThan(0);
    // A terminal frame homes the cursor and clears below before drawing.
    expect(frames[0]!.startsWith('\x1b[H\x1b[J')).toBe(true);
    controller.abort();
    expect((await watching).code).toBe(3);
  });

  it('gives up with exit 1 when the coordinator goes away for good', async () => {
    sim = await startSimulation({ listen: true, workers: 1, loadBalancers: 1, controlPlanes: 1 });
    const state = stateFor(sim.url);
    const frames: string[] = [];
    const watching = run(['--state', state, '--watch'], { onOut: (s) => frames.push(s), giveUpAfterMs: 1500 });
    await expect.poll(() => frames.length).toBeGreaterThan(0);
    await sim.close();
    sim = undefined;
    const r = await watching;
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot reach the coordinator at https://127.0.0.1:');
  });
});
