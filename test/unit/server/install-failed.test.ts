/**
 * POST /v1/install-failed (the install script's beacon, ADR 0019) and cloud-init's report at
 * enrollment, through `app.inject()`: the host's credential marks it `install failed: <reason>`,
 * durably, shown by GET /v1/status and /v1/admin/hosts with its tail and as a security event; a
 * wrong credential is 401 and counted with failed enrollments; bodies are bounded; a repeat only
 * counts; an enrolled host cannot be marked; a later enrollment clears the mark.
 */
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { FLEET_KEY } from '../../../generator/state/types.ts';
import type { CloudInitReport, InstallFailedRequest } from '../../../protocol/index.ts';
import { buildApp } from '../../../server/app.ts';
import { cloudInitWarning } from '../../../server/host-notes.ts';
import { JournalStore, MemoryStore, type Store } from '../../../server/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, credentialOf, enrollBody, FakeClock, FakeKubernetes, makeInputs, OPERATOR_TOKEN } from './support.ts';

const apps: FastifyInstance[] = [];
const dirs: string[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const FLEET_CREDENTIAL = 'ksfleet_fleet-credential-for-tests-0123456789';

function setup(options: { store?: Store; enrollFailureLimit?: number; beaconsPerSource?: number } = {}) {
  const plan = makePlan({ workers: 2 });
  const clock = new FakeClock(Date.now());
  const base = makeInputs(plan, { clock });
  const inputs = {
    ...base,
    enrollment: {
      verify: (host: string | undefined, credential: string) =>
        host === undefined && credential === FLEET_CREDENTIAL ? { host: FLEET_KEY } : base.enrollment.verify(host, credential),
    },
  };
  const app = buildApp(inputs, {
    store: options.store ?? new MemoryStore(),
    kubernetes: new FakeKubernetes(),
    defaultWaitMs: 50,
    ...(options.enrollFailureLimit ? { enrollFailureLimit: options.enrollFailureLimit } : {}),
    ...(options.beaconsPerSource ? { claimLimits: { perSource: options.beaconsPerSource } } : {}),
  });
  apps.push(app);
  return { app, clock };
}

function beacon(host: string | undefined, overrides: Partial<InstallFailedRequest> = {}): InstallFailedRequest {
  return {
    protocol: 1,
    credential: host ? credentialOf(host) : FLEET_CREDENTIAL,
    ...(host ? { host } : {}),
    reason: 'agent-checksum-mismatch',
    logTail:
      'kubeseed-install-agent: downloading https://mirror.example/agent/linux-amd64\nsha256sum: WARNING: 1 computed checksum did NOT match\n',
    hostname: 'w1-vm',
    machineId: '0123456789abcdef0123456789abcdef',
    arch: 'x86_64',
    ...overrides,
  };
}

const post = (app: FastifyInstance, body: unknown) => app.inject({ method: 'POST', url: '/v1/install-failed', payload: body as object });
const status = async (app: FastifyInstance) =>
  (await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json();
const hostOf = async (app: FastifyInstance, name: string) => (await status(app)).hosts.find((h: { name: string }) => h.name === name);

describe('POST /v1/install-failed', () => {
  it('with the host credential marks the host install failed, with its tail, in status, hosts and the security events', async () => {
    const { app } = setup();
    const r = await post(app, beacon('w1'));
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ recorded: true });
    const w1 = await hostOf(app, 'w1');
    expect(w1.enrolled).toBe(false);
    expect(w1.installFailed).toMatchObject({ reason: 'agent-checksum-mismatch', hostname: 'w1-vm', arch: 'x86_64', count: 1 });
    expect(w1.installFailed.logTail).toContain('did NOT match');
    const hosts = (await app.inject({ url: '/v1/admin/hosts', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json().hosts;
    expect(hosts.find((h: { name: string }) => h.name === 'w1').installFailed.reason).toBe('agent-checksum-mismatch');
    const events = (await status(app)).securityEvents;
    expect(events).toContainEqual(expect.objectContaining({ kind: 'install-failed', host: 'w1' }));
    expect(JSON.stringify(await status(app))).not.toContain(credentialOf('w1'));
  });

  it('is durable: a restarted coordinator still shows the mark', async () => {
    const dir = tempDir('ks-beacon-store-');
    dirs.push(dir);
    const store = new JournalStore(dir);
    await store.open();
    const first = setup({ store });
    await first.app.ready();
    expect((await post(first.app, beacon('w2', { reason: 'disk-full' }))).statusCode).toBe(200);
    await first.app.close();
    apps.pop();
    await store.close();
    const reopened = new JournalStore(dir);
    await reopened.open();
    const second = setup({ store: reopened });
    expect((await hostOf(second.app, 'w2')).installFailed.reason).toBe('disk-full');
    await second.app.close();
    apps.pop();
    await reopened.close();
  });

  it('a wrong credential is 401, marks nothing, and counts with failed enrollments toward 429', async () => {
    const { app } = setup({ enrollFailureLimit: 3 });
    for (let i = 0; i < 3; i++) {
      const r = await post(app, beacon('w1', { credential: `wrong-${i}-0123456789` }));
      expect(r.statusCode).toBe(401);
      expect(r.json().code).toBe('UNAUTHORIZED');
    }
    expect((await hostOf(app, 'w1')).installFailed).toBeUndefined();
    // The address is now blocked for beacons and enrollments alike, even with the right credential.
    const blocked = await post(app, beacon('w1'));
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    const enroll = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(createAgent('w1')) });
    expect(enroll.statusCode).toBe(429);
    expect((await status(app)).securityEvents).toContainEqual(expect.objectContaining({ kind: 'enrollment-rate-limited' }));
  });

  it('refuses an oversized body (413), an over-long tail and an unknown reason (400)', async () => {
    const { app } = setup();
    const huge = await post(app, { ...beacon('w1'), logTail: 'x'.repeat(20_000) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().message).toContain('16384');
    const long = await post(app, beacon('w1', { logTail: 'y'.repeat(4097) }));
    expect(long.statusCode).toBe(400);
    const reason = await post(app, { ...beacon('w1'), reason: 'the-agent-is-sad' });
    expect(reason.statusCode).toBe(400);
    const extra = await post(app, { ...beacon('w1'), publicKey: 'x' });
    expect(extra.statusCode).toBe(400);
    expect((await hostOf(app, 'w1')).installFailed).toBeUndefined();
  });

  it('a replay is harmless: it only counts again; the credential still enrolls, and enrollment clears the mark', async () => {
    const { app, clock } = setup();
    const body = beacon('w1');
    expect((await post(app, body)).statusCode).toBe(200);
    const firstAt = (await hostOf(app, 'w1')).installFailed.at;
    clock.advance(5_000);
    expect((await post(app, body)).statusCode).toBe(200);
    const marked = await hostOf(app, 'w1');
    expect(marked.installFailed).toMatchObject({ reason: 'agent-checksum-mismatch', count: 2, firstAt });
    expect(marked.enrolled).toBe(false);
    expect(marked.steps.every((s: { state: string }) => s.state === 'pending')).toBe(true);
    const cloudInit: CloudInitReport = {
      status: 'done',
      extendedStatus: 'degraded done',
      exitCode: 2,
      errors: [],
      recoverableErrors: ['DEPRECATED: Key "lock-passwd" is deprecated'],
    };
    const enroll = await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(createAgent('w1'), { cloudInit }) });
    expect(enroll.statusCode, enroll.body).toBe(200);
    const enrolled = await hostOf(app, 'w1');
    expect(enrolled.installFailed).toBeUndefined();
    expect(enrolled.cloudInit).toMatchObject({
      status: 'done',
      exitCode: 2,
      recoverableErrors: ['DEPRECATED: Key "lock-passwd" is deprecated'],
    });
    expect(cloudInitWarning(enrolled.cloudInit)).toBe(
      'cloud-init: degraded done (1 recoverable): DEPRECATED: Key "lock-passwd" is deprecated',
    );
    // Once enrolled, a beacon cannot overwrite what the running agent reports.
    const late = await post(app, body);
    expect(late.statusCode).toBe(409);
    expect((await hostOf(app, 'w1')).installFailed).toBeUndefined();
  });

  it('keeps the tail printable, without the presented credential, bounded', async () => {
    const { app } = setup();
    const tail = `curl: (22) 404\u001b]52;c;ZXZpbA==\u0007 credential ${credentialOf('w1')}\r\nend\n`;
    expect((await post(app, beacon('w1', { logTail: tail }))).statusCode).toBe(200);
    const shown = (await hostOf(app, 'w1')).installFailed.logTail as string;
    expect(shown).not.toContain(credentialOf('w1'));
    expect(shown).toContain('[REDACTED]');
    expect(shown).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(shown).toContain('curl: (22) 404');
  });

  it('from a fleet machine is a security event tied to no host (its facts are self-reported)', async () => {
    const { app } = setup();
    const r = await post(app, beacon(undefined, { hostname: 'w1' }));
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ recorded: false });
    const s = await status(app);
    expect(s.hosts.every((h: { installFailed?: unknown }) => h.installFailed === undefined)).toBe(true);
    const event = s.securityEvents.find((e: { kind: string }) => e.kind === 'install-failed');
    expect(event.host).toBeUndefined();
    expect(event.message).toContain('agent-checksum-mismatch');
  });

  it('is rate-limited per source address like unauthenticated claims (429 with Retry-After, one security event)', async () => {
    const { app } = setup({ beaconsPerSource: 2 });
    expect((await post(app, beacon('w1'))).statusCode).toBe(200);
    expect((await post(app, beacon('w2'))).statusCode).toBe(200);
    const third = await post(app, beacon('w1'));
    expect(third.statusCode).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect((await post(app, beacon('w1'))).statusCode).toBe(429);
    const limited = (await status(app)).securityEvents.filter((e: { kind: string }) => e.kind === 'claim-rate-limited');
    expect(limited).toHaveLength(1);
    expect((await hostOf(app, 'w1')).installFailed.count).toBe(1);
  });
});

describe('cloud-init report at enrollment', () => {
  it('is refused beyond its bounds (too many messages, too long)', async () => {
    const { app } = setup();
    const many: CloudInitReport = { status: 'error', exitCode: 1, errors: Array(21).fill('e'), recoverableErrors: [] };
    expect(
      (await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(createAgent('w1'), { cloudInit: many }) })).statusCode,
    ).toBe(400);
    const long: CloudInitReport = { status: 'error', exitCode: 1, errors: ['x'.repeat(501)], recoverableErrors: [] };
    expect(
      (await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(createAgent('w1'), { cloudInit: long }) })).statusCode,
    ).toBe(400);
  });

  it('a clean cloud-init gives no warning; errors give one', async () => {
    expect(cloudInitWarning({ status: 'done', exitCode: 0, errors: [], recoverableErrors: [], at: 0 })).toBeNull();
    expect(
      cloudInitWarning({
        status: 'error',
        exitCode: 1,
        errors: ["('write_files', OSError(30, 'Read-only file system'))"],
        recoverableErrors: [],
        at: 0,
      }),
    ).toBe("cloud-init: error (1 error): ('write_files', OSError(30, 'Read-only file system'))");
  });
});
