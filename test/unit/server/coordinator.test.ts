/**
 * The coordinator core with a fake clock and a fake API server: bootstrap tokens minted and
 * renewed through the API, failed joins cleaned up (Node deleted, reset) and re-delivered with the
 * PKI, `remove` after the rollout, late-added hosts on restart, upload-certs audit, and log
 * redaction of every released value.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ReleasedStep } from '../../../protocol/index.ts';
import { buildApp } from '../../../server/app.ts';
import { Coordinator } from '../../../server/coordinator.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { addWorkers, FAKE_PKI_KEY, type FixtureOptions, makePlan } from './fixtures.ts';
import { createAgent, enrollBody, FakeClock, FakeKubernetes, makeInputs } from './support.ts';

const MIN = 60_000;
const RESULTS = { etcdVoter: true, nodeRegistered: true, apiServerReady: true };

function setup(options: FixtureOptions = {}, store = new MemoryStore(), plan = makePlan(options)) {
  const clock = new FakeClock();
  const kubernetes = new FakeKubernetes();
  const coordinator = new Coordinator(makeInputs(plan, { clock }), {
    store,
    kubernetes,
    scheduler: { backoffBaseMs: 1000, maxAttempts: 3 },
  });
  return { coordinator, clock, kubernetes, store, plan };
}

async function enrollAll(c: Coordinator, hosts: string[]): Promise<void> {
  for (const [i, host] of hosts.entries()) await c.enroll(enrollBody(createAgent(host, i)), '127.0.0.1');
}

/** Polls every host once; returns the steps handed out. */
async function poll(c: Coordinator, hosts: string[]): Promise<ReleasedStep[]> {
  const out: ReleasedStep[] = [];
  for (const host of hosts) {
    const answer = await c.next(host, 0);
    if (answer?.step) out.push(answer.step);
  }
  return out;
}

async function succeed(c: Coordinator, step: ReleasedStep): Promise<void> {
  await c.report(step.host, { stepId: step.id, attempt: step.attempt, outcome: 'succeeded', logTail: '', startedAt: 0, results: RESULTS });
}

/** Runs every released step to success until nothing more is released, except steps `hold` says to keep. */
async function drive(c: Coordinator, hosts: string[], hold: (s: ReleasedStep) => boolean = () => false): Promise<ReleasedStep[]> {
  const seen: ReleasedStep[] = [];
  for (let round = 0; round < 50; round++) {
    const steps = (await poll(c, hosts)).filter((s) => !seen.some((x) => x.id === s.id && x.attempt === s.attempt));
    if (steps.length === 0) break;
    for (const step of steps) {
      seen.push(step);
      if (!hold(step)) await succeed(c, step);
    }
  }
  return seen;
}

const HOSTS = (plan: ReturnType<typeof makePlan>) => plan.hosts.map((h) => h.name);

describe('bootstrap tokens through the API server', () => {
  it('joins after renewBefore get a new token created through the API, with the TTL as expiration', async () => {
    const { coordinator, clock, kubernetes, plan } = setup({ workers: 2, workerParallelism: 1 });
    await coordinator.start();
    await enrollAll(coordinator, HOSTS(plan));
    const steps = await drive(coordinator, HOSTS(plan), (s) => s.kind === 'kubeadm-join-worker');
    const w1 = steps.find((s) => s.id === 'w1/kubeadm-join-worker')!;
    const initToken = coordinator.snapshot().tokens[0]!;
    expect(initToken.via).toBe('init');
    expect(w1.files[0]!.content).toContain(initToken.token);
    expect(kubernetes.tokens).toHaveLength(0);
    clock.advance(45 * MIN);
    await succeed(coordinator, w1);
    await new Promise((r) => setTimeout(r, 20));
    expect(kubernetes.tokens).toHaveLength(1);
    const created = kubernetes.tokens[0]!;
    expect(created.expiresAt).toBe(clock.now() + 3600_000);
    const w2 = (await coordinator.next('w2', 0))!.step!;
    expect(w2.files[0]!.content).toContain(`${created.id}.${created.secret}`);
    expect(w2.redact).toContain(`${created.id}.${created.secret}`);
  });

  it('while the API refuses, joins wait visibly; they go once it answers', async () => {
    const { coordinator, clock, kubernetes } = setup({ workers: 1, controlPlanes: 1 });
    await coordinator.start();
    await enrollAll(coordinator, ['lb1', 'lb2', 'cp1']);
    await drive(coordinator, ['lb1', 'lb2', 'cp1']);
    clock.advance(2 * 60 * MIN);
    kubernetes.failTokens = true;
    await enrollAll(coordinator, ['w1']);
    await new Promise((r) => setTimeout(r, 20));
    expect(await coordinator.next('w1', 0)).toBeNull();
    expect(coordinator.waitingFor('w1')).toMatch(/bootstrap token/);
    kubernetes.failTokens = false;
    clock.advance(2 * MIN);
    coordinator.reconcile();
    await new Promise((r) => setTimeout(r, 20));
    expect((await coordinator.next('w1', 0))?.step?.kind).toBe('kubeadm-join-worker');
  });
});

describe('failed joins', () => {
  it('a failed control-plane join: member removed on cp1, Node deleted through the API, cp2 reset, then the join again with the PKI', async () => {
    const { coordinator, clock, kubernetes, plan } = setup({ workers: 0 });
    await coordinator.start();
    await enrollAll(coordinator, HOSTS(plan));
    const seen = await drive(coordinator, HOSTS(plan), (s) => s.kind === 'kubeadm-join-control-plane');
    const join1 = seen.find((s) => s.id === 'cp2/kubeadm-join-control-plane')!;
    expect(join1.files.some((f) => f.content.startsWith(FAKE_PKI_KEY))).toBe(true);
    await coordinator.report('cp2', {
      stepId: join1.id,
      attempt: 1,
      outcome: 'failed',
      reason: 'kubeadm-exit-1',
      logTail: 'boom',
      startedAt: 0,
    });
    await new Promise((r) => setTimeout(r, 20));
    const memberRemove = (await coordinator.next('cp1', 0))!.step!;
    expect(memberRemove).toMatchObject({ kind: 'etcd-member-remove', params: { memberName: 'cp2' } });
    const reset = (await coordinator.next('cp2', 0))!.step!;
    expect(reset.kind).toBe('reset');
    await succeed(coordinator, memberRemove);
    // The Node is deleted only after the reset stopped cp2's kubelet (else it registers again).
    expect(kubernetes.deletedNodes).toEqual([]);
    await succeed(coordinator, reset);
    await new Promise((r) => setTimeout(r, 20));
    expect(kubernetes.deletedNodes).toEqual(['cp2']);
    const status = coordinator.status();
    expect(status.hosts.find((h) => h.name === 'cp2')!.steps.find((s) => s.id === join1.id)).toMatchObject({
      state: 'retry-wait',
      lastReport: { reason: 'kubeadm-exit-1' },
    });
    // No half-added member is left, so cp3 may take the join slot meanwhile; cp2 follows.
    const cp3 = (await coordinator.next('cp3', 0))!.step!;
    await succeed(coordinator, cp3);
    clock.advance(1000);
    coordinator.reconcile();
    const join2 = (await coordinator.next('cp2', 0))!.step!;
    expect(join2).toMatchObject({ id: join1.id, attempt: 2 });
    expect(join2.files.some((f) => f.content.startsWith(FAKE_PKI_KEY))).toBe(true);
    // Every hand-out is audited (the same attempt fetched twice is two entries).
    expect([
      ...new Set(
        coordinator
          .auditTrail('cp2')
          .filter((e) => e.step === join1.id)
          .map((e) => e.attempt),
      ),
    ]).toEqual([1, 2]);
  });

  it('kubeseed retry re-queues a host that ran out of attempts', async () => {
    const { coordinator, clock, plan } = setup({ workers: 1, controlPlanes: 1 });
    await coordinator.start();
    await enrollAll(coordinator, HOSTS(plan));
    await drive(coordinator, ['lb1', 'lb2', 'cp1']);
    for (let i = 0; i < 3; i++) {
      let step = (await coordinator.next('w1', 0))!.step!;
      if (step.kind === 'reset') {
        await succeed(coordinator, step);
        clock.advance(10 * MIN);
        coordinator.reconcile();
        step = (await coordinator.next('w1', 0))!.step!;
      }
      expect(step.kind).toBe('kubeadm-join-worker');
      await coordinator.report('w1', { stepId: step.id, attempt: step.attempt, outcome: 'failed', logTail: '', startedAt: 0 });
      await new Promise((r) => setTimeout(r, 5));
    }
    const reset = (await coordinator.next('w1', 0))!.step!;
    await succeed(coordinator, reset);
    clock.advance(60 * MIN);
    coordinator.reconcile();
    expect(await coordinator.next('w1', 0)).toBeNull();
    expect(coordinator.status().hosts.find((h) => h.name === 'w1')!.failed).toBe(true);
    expect(await coordinator.retry('w1')).toEqual({ requeued: ['w1/kubeadm-join-worker'] });
    await new Promise((r) => setTimeout(r, 20));
    expect((await coordinator.next('w1', 0))?.step?.kind).toBe('kubeadm-join-worker');
  });
});

describe('remove and late-added hosts', () => {
  it('remove after the rollout: cp3 leaves etcd (via cp1) and its Node is deleted', async () => {
    const { coordinator, kubernetes, plan } = setup({ workers: 1 });
    await coordinator.start();
    await enrollAll(coordinator, HOSTS(plan));
    const hosts = HOSTS(plan).filter((h) => h !== 'cp1');
    // cp1 keeps polling (its agent has later steps); the others finish.
    await drive(coordinator, HOSTS(plan));
    expect(coordinator.status().done).toBe(true);
    const result = await coordinator.remove('cp3');
    expect(result.cleanup.map((id) => id.split('#')[0])).toEqual(['cp1/etcd-member-remove', '@coordinator/delete-node']);
    await new Promise((r) => setTimeout(r, 20));
    expect(kubernetes.deletedNodes).toEqual(['cp3']);
    const step = (await coordinator.next('cp1', 0))!.step!;
    expect(step).toMatchObject({ kind: 'etcd-member-remove', params: { memberName: 'cp3' } });
    expect(hosts).not.toContain('cp1');
  });

  it('hosts added to the spec later join the finished cluster after a restart (token via the API)', async () => {
    const store = new MemoryStore();
    const first = setup({ workers: 1 }, store);
    await first.coordinator.start();
    await enrollAll(first.coordinator, HOSTS(first.plan));
    await drive(first.coordinator, HOSTS(first.plan));
    first.coordinator.stop();
    const grown = addWorkers(first.plan, ['w7', 'w8']);
    const second = setup({}, store, grown);
    second.clock.advance(5 * 60 * MIN);
    await second.coordinator.start();
    await enrollAll(second.coordinator, ['w7', 'w8']);
    await new Promise((r) => setTimeout(r, 20));
    expect(second.kubernetes.tokens).toHaveLength(1);
    const steps = await poll(second.coordinator, ['w7', 'w8']);
    expect(steps.map((s) => s.id).sort()).toEqual(['w7/kubeadm-join-worker', 'w8/kubeadm-join-worker']);
    for (const s of steps) await succeed(second.coordinator, s);
    expect(second.coordinator.status().done).toBe(true);
  });
});

describe('rebind and approve', () => {
  it('rebind after a join: the old Node is deleted and the rebuilt machine joins again', async () => {
    const { coordinator, kubernetes, plan } = setup({ workers: 1 });
    await coordinator.start();
    await enrollAll(coordinator, HOSTS(plan));
    await drive(coordinator, HOSTS(plan));
    expect(coordinator.status().done).toBe(true);
    await coordinator.rebind('w1');
    expect(coordinator.status().hosts.find((h) => h.name === 'w1')).toMatchObject({ enrolled: false, done: false });
    await coordinator.enroll(enrollBody(createAgent('w1', 42)), '127.0.0.1');
    const reset = (await coordinator.next('w1', 0))!.step!;
    expect(reset.kind).toBe('reset');
    await succeed(coordinator, reset);
    await new Promise((r) => setTimeout(r, 20));
    expect(kubernetes.deletedNodes).toEqual(['w1']);
    const join = (await coordinator.next('w1', 0))!.step!;
    expect(join).toMatchObject({ id: 'w1/kubeadm-join-worker', attempt: 2 });
    await succeed(coordinator, join);
    expect((await coordinator.next('w1', 0))?.done).toBe(true);
  });

  it('a host the verifier marks for approval waits until `approve`', async () => {
    const plan = makePlan({ workers: 1 });
    const clock = new FakeClock();
    const inputs = makeInputs(plan, { clock });
    const coordinator = new Coordinator(
      {
        ...inputs,
        enrollment: {
          verify: (host, cred) => ({
            ...(inputs.enrollment.verify(host, cred) as { host: string }),
            requiresApproval: host === 'lb1',
          }),
        },
      },
      { store: new MemoryStore() },
    );
    await coordinator.start();
    const answer = await coordinator.enroll(enrollBody(createAgent('lb1')), '127.0.0.1');
    expect(answer.awaitingApproval).toBe(true);
    expect(await coordinator.next('lb1', 0)).toBeNull();
    expect(coordinator.waitingFor('lb1')).toMatch(/kubeseed approve lb1/);
    await coordinator.approve('lb1');
    expect((await coordinator.next('lb1', 0))?.step?.kind).toBe('lb-check');
  });
});

describe('upload-certs mode', () => {
  it('the upload step is audited as a certificate-key hand-out', async () => {
    const { coordinator, clock, plan } = setup({ distribution: 'upload-certs', workers: 0 });
    await coordinator.start();
    await enrollAll(coordinator, HOSTS(plan));
    const seen = await drive(coordinator, HOSTS(plan), (s) => s.kind === 'kubeadm-join-control-plane');
    const join = seen.find((s) => s.kind === 'kubeadm-join-control-plane')!;
    clock.advance(110 * MIN);
    await succeed(coordinator, join);
    await new Promise((r) => setTimeout(r, 20));
    const upload = (await poll(coordinator, ['cp1', 'cp2'])).find((s) => s.kind === 'upload-certs')!;
    expect(upload).toBeDefined();
    expect(coordinator.auditTrail().at(-1)).toMatchObject({ step: upload.id, secrets: ['certificate-key'] });
    await succeed(coordinator, upload);
    expect((await coordinator.next('cp3', 0))?.step?.kind).toBe('kubeadm-join-control-plane');
  });
});

describe('log redaction', () => {
  it('no released value, token or operator token reaches the structured log', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const plan = makePlan({ workers: 1 });
    const clock = new FakeClock(Date.now());
    const app = buildApp(makeInputs(plan, { clock }), {
      store: new MemoryStore(),
      kubernetes: new FakeKubernetes(),
      logger: { level: 'debug', stream },
    });
    await app.ready();
    const c = app.coordinator;
    await enrollAll(c, HOSTS(plan));
    const steps = await drive(c, HOSTS(plan));
    const secrets = [...new Set(steps.flatMap((s) => s.redact))];
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    const token = c.snapshot().tokens[0]!.token;
    const status = JSON.stringify(
      (await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${makeInputs(plan).operatorToken}` } })).json(),
    );
    for (const secret of [...secrets, token]) expect(status).not.toContain(secret);
    app.log.info({ note: `agent said ${token} and ${secrets[0]}` }, `message with ${token}`);
    await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${makeInputs(plan).operatorToken}` } });
    await app.close();
    const log = lines.join('');
    expect(log).toContain('step released');
    for (const secret of [...secrets, token, makeInputs(plan).operatorToken]) expect(log).not.toContain(secret);
    expect(log).toContain('[REDACTED]');
  });
});
