/**
 * Secret hygiene of a real rollout: `kubeseed demo --json --keep` (a real coordinator, real agent
 * processes, the kubeadm/kubectl/systemctl TEST DOUBLES that print tokens the way kubeadm does).
 * While it runs the test reads the status API and the SSE event stream with the operator token;
 * afterwards it collects every log, report, output and file of the kept work directory and fails
 * if any minted bootstrap token, certificate key, private key (PEM body), enrollment credential or
 * the operator token appears anywhere but where it must be: the coordinator state directory, the
 * operator's credential list and each host's user-data (all 0600), and the hosts' own secret files
 * (0600). File modes are checked (state dir 0700/0600, host keys and configs with secrets 0600),
 * and the audit trail (records in the store) lists every hand-out (host, kind, step, attempt) and
 * never a value.
 */
import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../server/rollout/audit.ts';
import { JournalStore } from '../../server/store/index.ts';
import { findLeaks, randomPrivateKeyPem, SecretLedger } from '../support/fuzz-harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let work = '';
afterAll(() => {
  if (work && !process.env.KUBESEED_KEEP_DEMO) rmSync(work, { recursive: true, force: true });
});

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

const mode = (path: string) => statSync(path).mode & 0o777;

interface Captured {
  stdout: string;
  stderr: string;
  status: string[];
  events: string;
  code: number | null;
}

async function runDemo(): Promise<Captured> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'kubeseed.mjs'), 'demo', '--json', '--keep', '--workers', '4'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const captured: Captured = { stdout: '', stderr: '', status: [], events: '', code: null };
  child.stdout.on('data', (d) => {
    captured.stdout += String(d);
  });
  let watching: Promise<void> | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      captured.code = code;
      resolve();
    }),
  );
  const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
  child.stderr.on('data', (d) => {
    captured.stderr += String(d);
    const out = /generated (\S+)\/hosts\//.exec(captured.stderr)?.[1];
    const url = /coordinator listening on (https:\/\/\S+)/.exec(captured.stderr)?.[1];
    if (out && url && !watching) watching = watch(out, url, captured, exited);
  });
  await exited;
  clearTimeout(kill);
  await watching;
  return captured;
}

/** Reads the status API and the SSE stream (operator token from the state directory) until the demo exits. */
async function watch(out: string, url: string, captured: Captured, exited: Promise<void>): Promise<void> {
  const state = join(out, 'coordinator');
  const token = readFileSync(join(state, 'operator-token'), 'utf8').trim();
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(state, 'tls', 'ca.crt'), 'utf8') } });
  const headers = { authorization: `Bearer ${token}` };
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const stream = (async () => {
    try {
      const res = await request(`${url}/v1/events`, { dispatcher, headers, bodyTimeout: 0 });
      for await (const chunk of res.body) {
        captured.events += String(chunk);
        if (done) break;
      }
    } catch {
      // the coordinator went away with the demo
    }
  })();
  while (!done) {
    try {
      const res = await request(`${url}/v1/status`, { dispatcher, headers });
      captured.status.push(await res.body.text());
    } catch {
      // closing
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  await Promise.race([stream, new Promise((r) => setTimeout(r, 2000))]);
  await dispatcher.destroy();
}

describe('the leak scanner', () => {
  it('finds tokens, keys wrapped, unwrapped and JSON-escaped, and ignores the public half of a key', () => {
    const ledger = new SecretLedger();
    const key = randomPrivateKeyPem();
    ledger.add('bootstrap token', 'abcdef.0123456789abcdef');
    ledger.add('private key', key);
    expect(findLeaks('kubeadm join --token abcdef.0123456789abcdef', ledger)).toEqual(['bootstrap token']);
    expect(findLeaks(JSON.stringify({ output: key }), ledger)).toEqual(['private key']);
    expect(findLeaks(`log: ${key.split('\n')[1]}`, ledger)).toEqual(['private key']);
    const pub = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
    expect(findLeaks(pub, ledger)).toEqual([]);
    expect(findLeaks('[bootstrap-token] Using token: [REDACTED]', ledger)).toEqual([]);
  });
});

describe('secret hygiene of a real rollout (kubeseed demo)', () => {
  it('no minted secret outside its 0600 homes; 0700/0600 modes; the audit log lists every hand-out and no value', async () => {
    const demo = await runDemo();
    work = /kept (\S+)/.exec(demo.stderr)?.[1] ?? '';
    expect(work, demo.stderr).not.toBe('');
    expect(demo.code, demo.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(demo.stdout).ok).toBe(true);
    expect(demo.status.length).toBeGreaterThan(3);
    expect(demo.events).toContain('event: step');

    const out = join(work, 'out');
    const state = join(out, 'coordinator');
    const ledger = new SecretLedger();
    const secrets = JSON.parse(readFileSync(join(state, 'secrets.json'), 'utf8')) as { bootstrapToken: string; certificateKey: string };
    ledger.add('bootstrap token', secrets.bootstrapToken);
    ledger.add('certificate key', secrets.certificateKey);
    ledger.add('operator token', readFileSync(join(state, 'operator-token'), 'utf8').trim());
    // Tokens the coordinator minted while it ran live only in its store.
    const journal = walk(join(state, 'store'))
      .map((f) => readFileSync(f, 'latin1'))
      .join('\n');
    for (const token of new Set(journal.match(/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g) ?? [])) ledger.add('minted bootstrap token', token);
    const credentials = JSON.parse(readFileSync(join(out, 'credentials', 'enrollment.json'), 'utf8')) as { hosts: Record<string, string> };
    for (const [host, credential] of Object.entries(credentials.hosts)) ledger.add(`enrollment credential of ${host}`, credential);
    const stateFiles = walk(state);
    for (const f of stateFiles.filter((f) => f.endsWith('.key'))) ledger.add(`private key ${relative(state, f)}`, readFileSync(f, 'utf8'));
    const hostKeys = walk(join(work, 'roots')).filter((f) => f.endsWith('agent-key.pem'));
    for (const f of hostKeys) ledger.add(`agent key ${relative(work, f)}`, readFileSync(f, 'utf8'));
    expect(Object.keys(credentials.hosts).length).toBe(10);
    expect(hostKeys.length).toBe(10);
    expect(ledger.values.size).toBeGreaterThan(30);

    // Where secrets must live (each such file 0600), and everything else, which must hold none.
    const isHostSecretFile = (rel: string) => /^roots\/[^/]+\/(etc\/kubernetes\/|var\/lib\/kubeseed\/agent-key\.pem$)/.test(rel);
    const isSecretHome = (rel: string) =>
      rel.startsWith('out/coordinator/') ||
      rel === 'out/credentials/enrollment.json' ||
      /^out\/hosts\/[^/]+\/(user-data|seed\.iso|config\.ign)$/.test(rel) ||
      isHostSecretFile(rel);
    const leaks: string[] = [];
    const badModes: string[] = [];
    let scanned = 0;
    for (const file of walk(work)) {
      const rel = relative(work, file);
      // The simulated cluster's own API state (what would be Secrets inside Kubernetes).
      if (rel === 'cluster-state.json') continue;
      const text = readFileSync(file, 'latin1');
      const found = findLeaks(text, ledger);
      if (isSecretHome(rel)) {
        if (found.length && mode(file) !== 0o600) badModes.push(`${rel} holds ${found.join(', ')} with mode ${mode(file).toString(8)}`);
        continue;
      }
      scanned++;
      if (found.length) leaks.push(`${rel}: ${found.join(', ')}`);
    }
    const streams: [string, string][] = [
      ['demo stdout', demo.stdout],
      ['demo stderr', demo.stderr],
      ['SSE stream', demo.events],
      ...demo.status.map((s, i): [string, string] => [`status response ${i}`, s]),
    ];
    for (const [name, text] of streams) {
      const found = findLeaks(text, ledger);
      if (found.length) leaks.push(`${name}: ${found.join(', ')}`);
    }
    console.log(
      `[reliability] leaks found (demo rollout): ${leaks.length} — ${scanned} files, ${streams.length} outputs/responses scanned for ${ledger.values.size} secrets`,
    );
    expect(leaks).toEqual([]);
    expect(badModes).toEqual([]);
    // The scan meant something: the kubeadm double printed the token and the agent redacted it.
    const agentLogs = walk(work)
      .filter((f) => f.endsWith('.agent.log'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(agentLogs).toContain('Using token: [REDACTED]');

    // The coordinator state directory: 0700 directories, 0600 files.
    const wrongState: string[] = [];
    const checkDir = (dir: string) => {
      if (mode(dir) !== 0o700) wrongState.push(`${relative(work, dir)}/ ${mode(dir).toString(8)}`);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) checkDir(path);
        else if (mode(path) !== 0o600) wrongState.push(`${relative(work, path)} ${mode(path).toString(8)}`);
      }
    };
    checkDir(state);
    expect(wrongState).toEqual([]);

    // Hosts: private keys and configs that carry secrets are 0600; the spent credential is gone.
    const hostProblems: string[] = [];
    for (const file of walk(join(work, 'roots'))) {
      const rel = relative(work, file);
      const text = readFileSync(file, 'latin1');
      const secretShaped = /PRIVATE KEY-----|client-key-data|token:|certificateKey/.test(text) || findLeaks(text, ledger).length > 0;
      if (secretShaped && mode(file) !== 0o600) hostProblems.push(`${rel} ${mode(file).toString(8)}`);
      if (rel.endsWith('/etc/kubeseed/credential')) hostProblems.push(`${rel} still present after the host finished`);
    }
    expect(hostProblems).toEqual([]);

    // The audit trail (records in the journal): one entry per hand-out of a secret, never a value.
    const store = new JournalStore(join(state, 'store'));
    await store.open();
    const audit = listAudit(store);
    await store.close();
    expect(findLeaks(JSON.stringify(audit), ledger)).toEqual([]);
    for (const entry of audit) expect(Object.keys(entry).sort()).toEqual(['at', 'attempt', 'host', 'secrets', 'step']);
    const last = JSON.parse(demo.status.at(-1)!) as {
      hosts: { name: string; steps: { id: string; kind: string; attempt: number; state: string }[] }[];
    };
    const handedOut = last.hosts.flatMap((h) =>
      h.steps
        .filter(
          (s) =>
            ['etcd-start', 'kubeadm-init', 'kubeadm-join-control-plane', 'kubeadm-join-worker'].includes(s.kind) && s.state === 'succeeded',
        )
        .map((s) => `${h.name} ${s.id}`),
    );
    expect(handedOut.length).toBe(10);
    const audited = new Set(audit.map((e) => `${e.host} ${e.step}`));
    expect(handedOut.filter((h) => !audited.has(h))).toEqual([]);
    expect(existsSync(join(state, 'audit.log'))).toBe(false);
  });
});
