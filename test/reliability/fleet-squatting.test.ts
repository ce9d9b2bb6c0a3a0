/**
 * Fleet squatting (issue 18, High, and two Low items), against the real state `kubeseed generate`
 * writes for the fleet/PXE example and the real enrollment verifier `kubeseed serve` uses: an
 * attacker who reaches the coordinator sends `credential: "unauthenticated"` with forged facts.
 * Each attack is tried, must be refused, and is printed with its answer. Also: the real machine is
 * never locked out, the operator approves one candidate by key fingerprint, claims are rate-limited
 * (429 + Retry-After), the boot listener installs nothing on an unknown MAC and names no host,
 * known and unknown host names answer alike, and a flood keeps the first and latest events.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { loadState } from '../../generator/state/index.ts';
import type { EnrollRequest, MachineFacts } from '../../protocol/index.ts';
import { buildApp } from '../../server/app.ts';
import { startBootListener } from '../../server/boot-listener.ts';
import { loadCoordinatorState } from '../../server/load-state.ts';
import { MemoryStore } from '../../server/store/index.ts';
import { ROOT } from '../support/fixtures.ts';
import { tempDir } from '../support/temp-dir.ts';
import { type AgentIdentity, createAgent, FakeClock, FakeKubernetes, OPERATOR_TOKEN, signedHeaders } from '../unit/server/support.ts';

const work = tempDir('ks-squat-');
const out = join(work, 'out');
const stateDir = join(out, 'coordinator');
const silent = { stdout: () => {}, stderr: () => {}, env: {}, cwd: work, isTTY: false };
const clock = new FakeClock();
let app: FastifyInstance;
let store: MemoryStore;
/** Every secret in the state directory: CA keys, the bootstrap token, credentials. */
let secrets: string[] = [];
const tried: string[] = [];

/** The example plus a worker that declares neither MAC nor UUID (hostname-only matching). */
const SPEC = `${readFileSync(join(ROOT, 'examples/fleet-pxe.yaml'), 'utf8').trimEnd()}\n    - { name: n3, role: worker }\n`;

beforeAll(async () => {
  writeFileSync(join(work, 'fleet.yaml'), SPEC);
  expect(await main(['generate', join(work, 'fleet.yaml'), '--out', out], silent)).toBe(0);
  const state = await loadState(stateDir);
  secrets = [
    state.pki.ca.key,
    state.pki.sa.key,
    state.pki.frontProxyCa.key,
    state.pki.etcdCa.key,
    state.secrets.bootstrapToken,
    state.secrets.certificateKey,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  expect(secrets.length).toBeGreaterThanOrEqual(5);
  const loaded = await loadCoordinatorState(stateDir, {});
  store = new MemoryStore();
  app = buildApp({ ...loaded, kubernetes: undefined, operatorToken: OPERATOR_TOKEN, clock } as never, {
    store,
    kubernetes: new FakeKubernetes(),
    logger: false,
    defaultWaitMs: 0,
  });
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(work, { recursive: true, force: true });
  console.log(`fleet squatting: attacks tried and refused:\n  ${tried.join('\n  ')}`);
});

const M1_MAC = '3c:ec:ef:00:01:01';
let sources = 0;
/** A fresh documentation address per call, so the per-address limits do not mix the attacks. */
const nextSource = () => `192.0.2.${(sources++ % 250) + 1}`;

function machine(name: string, facts: Partial<MachineFacts>, index: number): AgentIdentity {
  const agent = createAgent(name, index);
  agent.facts = { ...agent.facts, ...facts };
  return agent;
}

function claim(agent: AgentIdentity, extra: Partial<EnrollRequest> = {}): EnrollRequest {
  return { protocol: 1, credential: 'unauthenticated', publicKey: agent.publicKeyPem, facts: agent.facts, ...extra };
}

async function enroll(body: EnrollRequest, source = nextSource()) {
  const res = await app.inject({ method: 'POST', url: '/v1/enroll', payload: body, remoteAddress: source });
  return { status: res.statusCode, body: res.body, json: JSON.parse(res.body) as Record<string, unknown>, headers: res.headers };
}

function refused(attack: string, answer: { status: number; body: string }): void {
  tried.push(`${attack} → ${answer.status} ${answer.body.slice(0, 140)}`);
}

function fingerprint(pem: string): string {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

/** Secrets found in a response body, raw or JSON-escaped (PEM newlines travel as `\n`). */
function leaks(text: string): string[] {
  return secrets.filter((s) => text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1))).map((s) => s.slice(0, 30));
}

const admin = (method: 'GET' | 'POST', url: string, payload?: object) =>
  app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
    ...(payload ? { payload } : {}),
  });

const attacker = machine('attacker', { hostname: 'm1', machineId: 'attacker', macs: ['52:54:00:66:66:66'], smbiosUuid: '' }, 600);
const spoofer = machine('spoofer', { hostname: 'm1', machineId: 'spoofer', macs: [M1_MAC], smbiosUuid: '' }, 601);
const realM1 = machine('m1', { hostname: 'ubuntu', machineId: 'real-m1', macs: [M1_MAC, '3c:ec:ef:00:09:01'] }, 602);

describe('fleet squatting', () => {
  it('a hostname alone does not claim a host that declares a MAC (the issue reproduction)', async () => {
    const answer = await enroll(claim(attacker));
    refused('hostname m1 without its MAC, credential "unauthenticated"', answer);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(leaks(answer.body)).toEqual([]);
  });

  it('a worker that declares neither MAC nor UUID is matched by hostname, and only held for approval', async () => {
    // n3 declares neither: hostname-only is allowed for a worker, and only as a candidate.
    const worker = await enroll(claim(machine('n3-machine', { hostname: 'n3', machineId: 'n3-real', macs: ['52:54:00:33:33:33'] }, 603)));
    expect(worker.status).toBe(200);
    expect(worker.json).toMatchObject({ host: 'n3', awaitingApproval: true });
  });

  it('a claim with the spoofed MAC waits beside the real machine instead of locking it out', async () => {
    const squat = await enroll(claim(spoofer));
    refused('a claim of m1 with its spoofed MAC (held as a candidate, not bound)', squat);
    expect(squat.status).toBe(200);
    expect(leaks(squat.body)).toEqual([]);
    expect(squat.json).toMatchObject({ host: 'm1', awaitingApproval: true });
    const real = await enroll(claim(realM1));
    tried.push(`the real m1 after the squatter → ${real.status} (not locked out)`);
    expect(real.status).toBe(200);
    expect(real.json).toMatchObject({ host: 'm1', awaitingApproval: true });
  });

  it('the operator sees both candidates with their fingerprints; approve without --key is refused when there are two', async () => {
    const hosts = JSON.parse((await admin('GET', '/v1/admin/hosts')).body) as {
      hosts: {
        name: string;
        candidates?: { keyFingerprint: string; machineId: string; macs: string[]; sourceAddress: string; firstSeen: number }[];
      }[];
    };
    const m1 = hosts.hosts.find((h) => h.name === 'm1')!;
    expect(m1.candidates?.map((c) => c.machineId).sort()).toEqual(['real-m1', 'spoofer']);
    for (const c of m1.candidates!) {
      expect(c.keyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(c.sourceAddress).toMatch(/^192\.0\.2\./);
      expect(c.firstSeen).toBeGreaterThan(0);
    }
    const status = JSON.parse((await admin('GET', '/v1/status')).body) as { hosts: { name: string; candidates?: unknown[] }[] };
    expect(status.hosts.find((h) => h.name === 'm1')!.candidates).toHaveLength(2);
    const blind = await admin('POST', '/v1/admin/hosts/m1/approve');
    expect(blind.statusCode).toBe(409);
    expect(blind.body).toContain(fingerprint(realM1.publicKeyPem));
    expect(blind.body).toContain(fingerprint(spoofer.publicKeyPem));
  });

  it('the CLI: `kubeseed hosts` lists the candidates, `kubeseed approve m1` without --key exits 2 listing them', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as { port: number };
    writeFileSync(join(stateDir, 'operator-token'), `${OPERATOR_TOKEN}\n`, { mode: 0o600 });
    const cli = async (argv: string[]) => {
      let out = '';
      let err = '';
      const io = {
        ...silent,
        stdout: (t: string) => {
          out += t;
        },
        stderr: (t: string) => {
          err += t;
        },
      };
      const code = await main([...argv, '--state', stateDir, '--url', `https://127.0.0.1:${address.port}`], io);
      return { code, out, err };
    };
    const hosts = await cli(['hosts']);
    expect(hosts.code).toBe(0);
    expect(hosts.out).toContain('m1: 2 machine(s) wait for approval');
    expect(hosts.out).toContain(fingerprint(realM1.publicKeyPem));
    expect(hosts.out).toContain('machine-id spoofer');
    const blind = await cli(['approve', 'm1']);
    expect(blind.code).toBe(2);
    expect(blind.err).toContain('2 machines claim m1');
    expect(blind.err).toContain(fingerprint(spoofer.publicKeyPem));
    expect((await cli(['approve', 'm1', '--key', 'not-a-fingerprint'])).code).toBe(2);
  });

  it('approval by key binds the real machine; the squatter is rejected, recorded, and never receives a key', async () => {
    const ok = await admin('POST', '/v1/admin/hosts/m1/approve', { key: fingerprint(realM1.publicKeyPem) });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ approved: true, rejected: 1 });
    const again = await enroll(claim(spoofer));
    refused('the rejected squatter enrolls again after the approval', again);
    expect(again.status).toBe(409);
    const asSquatter = { ...spoofer, host: 'm1' };
    const signed = await app.inject({
      method: 'GET',
      url: '/v1/next?wait=0',
      headers: signedHeaders(asSquatter, 'GET', '/v1/next?wait=0', '', clock.now()),
    });
    refused('the rejected squatter asks for m1’s steps, signing as m1 with its own key', { status: signed.statusCode, body: signed.body });
    expect(signed.statusCode).toBe(401);
    expect(leaks(signed.body)).toEqual([]);
    // The real m1 re-enrolls (as its agent does after awaiting approval), prepares (its first step on a
    // cloud-init host) and gets kubeadm init with the CA keys.
    const real = await enroll(claim(realM1));
    expect(real.json).toMatchObject({ host: 'm1', awaitingApproval: false });
    const asM1 = { ...realM1, host: 'm1' };
    let body = '';
    for (let i = 0; i < 20 && !body.includes('kubeadm-init'); i++) {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/next?wait=0',
        headers: signedHeaders(asM1, 'GET', '/v1/next?wait=0', '', clock.now()),
      });
      body = res.body;
      const step = res.statusCode === 200 ? (JSON.parse(body) as { step?: { id: string; kind: string; attempt: number } }).step : undefined;
      if (step?.kind === 'prepare-host') {
        const at = clock.now();
        const report = JSON.stringify({
          stepId: step.id,
          attempt: step.attempt,
          outcome: 'succeeded',
          logTail: 'kubeseed-prepare: done\n',
          startedAt: at,
          finishedAt: at,
        });
        const done = await app.inject({
          method: 'POST',
          url: '/v1/report',
          payload: report,
          headers: { ...signedHeaders(asM1, 'POST', '/v1/report', report, at), 'content-type': 'application/json' },
        });
        expect(done.statusCode, done.body).toBe(200);
      }
    }
    expect(body).toContain('kubeadm-init');
    expect(leaks(body).length).toBeGreaterThan(0);
    const events = JSON.parse((await admin('GET', '/v1/status')).body).securityEvents as { kind: string; message: string }[];
    expect(events.some((e) => e.kind === 'candidate-rejected' && e.message.includes('spoofer'))).toBe(true);
  });

  it('every unauthenticated claim is a security event with its source address', async () => {
    const events = JSON.parse((await admin('GET', '/v1/status')).body).securityEvents as { kind: string; sourceAddress: string }[];
    const claims = events.filter((e) => e.kind === 'unauthenticated-claim');
    // attacker, n3, spoofer, real m1 (refreshes of a waiting candidate are not new claims)
    expect(claims.length).toBeGreaterThanOrEqual(4);
    expect(claims.every((e) => /^192\.0\.2\./.test(e.sourceAddress))).toBe(true);
  });

  it('unauthenticated claims are rate-limited per source address (429 with Retry-After)', async () => {
    clock.advance(120_000);
    const source = '198.51.100.7';
    let last = { status: 0, body: '', headers: {} as Record<string, unknown> };
    for (let i = 0; i < 30 && last.status !== 429; i++) {
      last = await enroll(claim(machine(`w${i}`, { hostname: 'n3', machineId: `flood-${i}`, macs: [] }, 700 + i)), source);
    }
    refused(`a burst of claims from ${source}`, last);
    expect(last.status).toBe(429);
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('and globally, from many source addresses', async () => {
    clock.advance(120_000);
    let last = { status: 0, body: '', headers: {} as Record<string, unknown> };
    for (let i = 0; i < 400 && last.status !== 429; i++) {
      last = await enroll(claim(machine(`g${i}`, { hostname: 'n3', machineId: `global-${i}`, macs: [] }, 800 + i)), `203.0.113.${i % 250}`);
    }
    refused('claims spread over 250 source addresses', last);
    expect(last.status).toBe(429);
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('known and unknown host names get the same answer to a wrong credential (no enumeration)', async () => {
    clock.advance(120_000);
    const probe = machine('probe', {}, 900);
    const known = await enroll({ ...claim(probe), host: 'm2', credential: 'wrong' });
    const unknown = await enroll({ ...claim(probe), host: 'nosuchhost', credential: 'wrong' });
    refused('probing host names with a wrong credential', unknown);
    expect(unknown.status).toBe(known.status);
    expect(unknown.json).toEqual(known.json);
  });

  it('security events cannot be flooded out: the first and latest of each kind stay, the rest are counted', async () => {
    // One early event of its own kind: a per-host credential presented by another machine.
    const creds = JSON.parse(readFileSync(join(out, 'credentials/enrollment.json'), 'utf8')) as { hosts: Record<string, string> };
    const n1 = machine('n1', { macs: ['3c:ec:ef:00:02:01'], machineId: 'n1-real' }, 901);
    expect((await enroll({ ...claim(n1), host: 'n1', credential: creds.hosts.n1! })).status).toBe(200);
    const clone = machine('n1', { macs: ['3c:ec:ef:00:02:01'], machineId: 'n1-clone' }, 902);
    expect((await enroll({ ...claim(clone), host: 'n1', credential: creds.hosts.n1! })).status).toBe(409);
    // Then a flood: 150 source addresses each reach the failed-enrollment limit (one event each).
    for (let s = 0; s < 150; s++) {
      for (let i = 0; i < 10; i++) await enroll({ ...claim(clone), host: 'n1', credential: 'wrong' }, `100.64.${s >> 8}.${s & 255}`);
    }
    clock.advance(120_000);
    const status = JSON.parse((await admin('GET', '/v1/status')).body) as { securityEvents: { kind: string; count?: number }[] };
    tried.push(`security-event flood from 150 addresses → ${status.securityEvents.length} events kept`);
    const kinds = status.securityEvents.map((e) => e.kind);
    expect(kinds).toContain('identity-mismatch');
    const limited = status.securityEvents.filter((e) => e.kind === 'enrollment-rate-limited');
    expect(limited.at(-1)?.count).toBeGreaterThanOrEqual(150);
    expect(limited[0]?.count).toBe(1);
    expect(store.list('security/').length).toBeLessThanOrEqual(200);
  });
});

describe('the boot listener for a MAC the spec does not name', () => {
  let listener: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    const loaded = await loadCoordinatorState(stateDir, {});
    listener = await startBootListener(loaded.plan.spec, stateDir, '127.0.0.1:0');
  });
  afterAll(async () => listener?.close());
  const get = async (path: string) => {
    const res = await request(`${listener.url}${path}`);
    return { status: res.statusCode, body: await res.body.text() };
  };

  it('installs no operating system by default (no kernel, no autoinstall)', async () => {
    const answer = await get('/ipxe?mac=52-54-00-de-ad-01');
    refused('PXE boot of a MAC not in the spec', answer);
    expect(answer.body).not.toMatch(/^kernel /m);
    expect(answer.body).not.toContain('autoinstall');
    expect(answer.body).toMatch(/^exit/m);
  });

  it('the script for a named MAC does not name the host', async () => {
    const answer = await get('/ipxe?mac=3c-ec-ef-00-01-01');
    expect(answer.body).toMatch(/^kernel /m);
    expect(answer.body).not.toMatch(/\bm1\b/);
  });
});
