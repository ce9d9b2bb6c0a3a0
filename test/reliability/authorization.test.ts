/**
 * Authorization, end to end through the app: an agent reads only its own host's steps and
 * secrets and only once released; another host's step id, another host's name, replays and
 * foreign keys are refused; the status API, the event stream and admin routes need the operator
 * token — an agent's signature or credential does not open them, and a `?token=` in a URL is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleasedStep } from '../../protocol/index.ts';
import { type FuzzCoordinator, findLeaks, injectSigned, nextStep, reportSuccess, startFuzzCoordinator } from '../support/fuzz-harness.ts';
import { credentialOf, enrollBody, OPERATOR_TOKEN, signedHeaders } from '../unit/server/support.ts';

let fc: FuzzCoordinator;
const agent = (name: string) => fc.agents.get(name)!;
let init: ReleasedStep;

beforeAll(async () => {
  fc = await startFuzzCoordinator({ workers: 2 });
  await fc.app.ready();
  for (const a of fc.agents.values())
    expect((await fc.app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(a) })).statusCode).toBe(200);
});
afterAll(async () => {
  await fc?.close();
});

const stepState = (id: string) =>
  fc.app.coordinator
    .status()
    .hosts.flatMap((h) => h.steps)
    .find((s) => s.id === id)!;

describe('agents see only their own, released steps', () => {
  it('before its gate opens a worker gets nothing (204), and no secret', async () => {
    const res = await injectSigned(fc.app, agent('w1'), 'GET', '/v1/next?wait=0');
    expect(res.statusCode).toBe(204);
    expect(findLeaks(res.body, fc.ledger)).toEqual([]);
  });

  it('cp1 gets its init step with its secrets only after the load balancers are checked', async () => {
    expect(await nextStep(fc.app, agent('cp1'))).toBeNull();
    for (const lb of ['lb1', 'lb2']) {
      const step = (await nextStep(fc.app, agent(lb)))!;
      expect(step.host).toBe(lb);
      expect(findLeaks(JSON.stringify(step), fc.ledger)).toEqual([]);
      await reportSuccess(fc.app, agent(lb), step);
    }
    let step: ReleasedStep | null = null;
    for (let i = 0; i < 50 && !step; i++) step = await nextStep(fc.app, agent('cp1'));
    init = step!;
    expect(init.id).toBe('cp1/kubeadm-init');
    expect(findLeaks(JSON.stringify(init), fc.ledger).length).toBeGreaterThan(0);
  });

  it("another host's signature, name or key never yields cp1's step", async () => {
    // w1 signs but claims to be cp1
    const url = '/v1/next?wait=0';
    const claimed = { ...signedHeaders(agent('w1'), 'GET', url, '', Date.now()), 'x-kubeseed-host': 'cp1' };
    const res = await fc.app.inject({ method: 'GET', url, headers: claimed });
    expect(res.statusCode).toBe(401);
    expect(findLeaks(res.body, fc.ledger)).toEqual([]);
    // w1 asking for its own next still gets nothing (its join waits for the CNI)
    expect((await injectSigned(fc.app, agent('w1'), 'GET', url)).statusCode).toBe(204);
  });

  it("reporting another host's step is 404 and changes nothing; an unreleased own step is 409", async () => {
    const before = stepState(init.id);
    const other = await injectSigned(fc.app, agent('w1'), 'POST', '/v1/report', {
      stepId: init.id,
      attempt: init.attempt,
      outcome: 'failed',
      logTail: 'hijack',
      startedAt: Date.now(),
    });
    expect(other.statusCode).toBe(404);
    expect(stepState(init.id)).toEqual(before);
    const own = await injectSigned(fc.app, agent('w1'), 'POST', '/v1/report', {
      stepId: 'w1/kubeadm-join-worker',
      attempt: 1,
      outcome: 'succeeded',
      logTail: 'early',
      startedAt: Date.now(),
    });
    expect(own.statusCode).toBe(409);
    expect(stepState('w1/kubeadm-join-worker').state).not.toBe('succeeded');
  });

  it('a replayed request is refused, even a byte-identical one', async () => {
    const first = await injectSigned(fc.app, agent('cp1'), 'GET', '/v1/next?wait=0');
    expect(first.statusCode).toBe(200);
    const replay = await fc.app.inject({ method: 'GET', url: '/v1/next?wait=0', headers: first.request.headers });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().message).toMatch(/nonce|replay/i);
    expect(findLeaks(replay.body, fc.ledger)).toEqual([]);
  });

  it("enrolling under another host's name or with a spent credential from another machine is refused", async () => {
    const asOther = await fc.app.inject({
      method: 'POST',
      url: '/v1/enroll',
      payload: enrollBody(agent('w1'), { host: 'cp2', credential: credentialOf('w1') }),
      remoteAddress: '192.0.2.10',
    });
    expect(asOther.statusCode).toBe(401);
    const clone = await fc.app.inject({
      method: 'POST',
      url: '/v1/enroll',
      payload: enrollBody({ ...agent('w2'), facts: { ...agent('w2').facts, machineId: 'f'.repeat(32), macs: ['52:54:00:ff:ff:ff'] } }),
      remoteAddress: '192.0.2.11',
    });
    expect(clone.statusCode).toBe(409);
    expect(clone.json().code).toBe('IDENTITY_MISMATCH');
    const events = fc.app.coordinator.status().securityEvents as { kind: string; host?: string }[];
    expect(events.some((e) => e.kind === 'identity-mismatch' && e.host === 'w2')).toBe(true);
  });
});

describe('operator routes need the operator token', () => {
  const routes = [
    { method: 'GET', url: '/v1/status' },
    { method: 'GET', url: '/v1/events' },
    { method: 'GET', url: '/v1/admin/hosts' },
    { method: 'POST', url: '/v1/admin/hosts/w1/retry' },
    { method: 'POST', url: '/v1/admin/hosts/w1/approve' },
    { method: 'POST', url: '/v1/admin/hosts/w1/rebind' },
    { method: 'POST', url: '/v1/admin/hosts/w1/remove' },
  ] as const;

  it.each(routes)('$method $url: 401 without a token, with a wrong one, with an agent signature or credential', async ({ method, url }) => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token' },
      { authorization: `Bearer ${credentialOf('w1')}` },
      signedHeaders(agent('cp1'), method, url, '', Date.now()),
      { ...signedHeaders(agent('cp1'), method, url, '', Date.now()), authorization: `Bearer ${credentialOf('cp1')}` },
    ];
    for (const headers of attempts) {
      const res = await fc.app.inject({ method, url, headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(findLeaks(res.body, fc.ledger)).toEqual([]);
    }
    // A token in the URL is refused (URLs end up in logs and shell history).
    const inQuery = await fc.app.inject({ method, url: `${url}?token=${OPERATOR_TOKEN}` });
    expect(inQuery.statusCode).toBeGreaterThanOrEqual(400);
    expect(inQuery.statusCode).toBeLessThan(500);
    expect(inQuery.statusCode).not.toBe(200);
  });

  it('with the token: status answers and carries no secret value', async () => {
    const res = await fc.app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(res.statusCode).toBe(200);
    expect(findLeaks(res.body, fc.ledger)).toEqual([]);
    const hosts = await fc.app.inject({ url: '/v1/admin/hosts', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(hosts.statusCode).toBe(200);
    expect(findLeaks(hosts.body, fc.ledger)).toEqual([]);
  });
});
