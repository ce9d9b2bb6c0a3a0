/**
 * The whole agent loop against a fake coordinator over real HTTPS on 127.0.0.1 (certificates made
 * in the test, pinned CA), with the TEST DOUBLES on PATH: enroll → preflight → next → step →
 * report → done.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPinnedHttp } from '../../../agent/http.ts';
import { createNodeExec, createRootFs, cryptoRandom, systemClock } from '../../../agent/node-io.ts';
import { type AgentDeps, runAgent } from '../../../agent/run.ts';
import { doubleEnv, readDoubleLog } from '../../../doubles/index.ts';
import type { EnrollResponse, ReleasedStep, ReleasedStepOf, ReportRequest } from '../../../protocol/wire.ts';
import {
  type FakeCoordinator,
  type Handler,
  makeTempRoot,
  makeTlsMaterial,
  PACKAGE_CHECKS,
  type RecordedRequest,
  scriptedNet,
  seedHealthyHost,
  startFakeCoordinator,
  type TlsMaterial,
} from './support.ts';

const TOKEN = 'abcdef.0123456789abcdef';
const CREDENTIAL = 'kscred-0f9e8d7c6b5a49382716';
const INIT_CONFIG = `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: "${TOKEN}"
nodeRegistration:
  name: cp-1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.1
controlPlaneEndpoint: api.example:6443
`;
const INIT_STEP: ReleasedStep = {
  id: 'cp-1/kubeadm-init',
  kind: 'kubeadm-init',
  host: 'cp-1',
  attempt: 1,
  files: [{ path: '/etc/kubeseed/kubeadm-init.yaml', content: INIT_CONFIG, mode: 0o600, secret: true, removeAfter: true }],
  params: { kubeadmConfigPath: '/etc/kubeseed/kubeadm-init.yaml', nodeName: 'cp-1', endpoint: { host: 'api.example', port: 6443 } },
  redact: [TOKEN],
};
const enrollResponse = (): EnrollResponse => ({
  host: 'cp-1',
  role: 'control-plane',
  serverTime: Date.now(),
  awaitingApproval: false,
  kubernetesVersion: '1.37.1',
  endpoint: { host: 'api.example', port: 6443, vip: '10.0.0.10' },
});

let tls: TlsMaterial;
let otherTls: TlsMaterial;
const cleanups: Array<() => Promise<void> | void> = [];
beforeAll(() => {
  tls = makeTlsMaterial();
  otherTls = makeTlsMaterial();
});
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A coordinator that releases `steps` in order, then says done. */
function scriptedCoordinator(
  steps: Array<ReleasedStep | Record<string, unknown>>,
  extra?: (r: RecordedRequest) => ReturnType<Handler> | null,
): Handler {
  const queue = [...steps];
  let outstanding = false;
  return (req) => {
    const special = extra?.(req);
    if (special) return special;
    // As the coordinator does: prepareHost when the host's plan starts with prepare-host.
    const prepares = steps.some((s) => (s as { kind?: string }).kind === 'prepare-host');
    if (req.path === '/v1/enroll') return { status: 200, body: { ...enrollResponse(), ...(prepares ? { prepareHost: true } : {}) } };
    if (req.path === '/v1/heartbeat') return { status: 204 };
    if (req.path === '/v1/report') {
      outstanding = false;
      return { status: 200, body: { accepted: true } };
    }
    if (req.path.startsWith('/v1/next')) {
      if (outstanding) return { status: 204, delayMs: 1_100 };
      const step = queue.shift();
      if (!step) return { status: 200, body: { step: null, done: true, serverTime: Date.now() } };
      outstanding = true;
      return { status: 200, body: { step, done: false, serverTime: Date.now() } };
    }
    return { status: 404, body: { error: 'Not Found', code: 'NOT_FOUND', message: req.path } };
  };
}

async function host(coordinator: FakeCoordinator, options: { caPem?: string; sleep?: string } = {}) {
  const r = makeTempRoot('ks-loop-');
  cleanups.push(r.cleanup);
  seedHealthyHost(r.write);
  // The prepare script of prepare-host (a host path: the agent runs it below the root, Fs.realPath).
  const prepare = '/usr/local/lib/kubeseed/prepare-host.sh';
  r.write(prepare, '#!/bin/bash\necho "kubeseed-prepare: done"\n', 0o755);
  r.write(
    '/etc/kubeseed/agent.json',
    JSON.stringify({
      coordinatorUrl: coordinator.url,
      caFile: '/etc/kubeseed/ca.crt',
      credentialFile: '/etc/kubeseed/credential',
      host: 'cp-1',
    }),
  );
  r.write('/etc/kubeseed/ca.crt', options.caPem ?? tls.caPem);
  r.write('/etc/kubeseed/credential', `${CREDENTIAL}\n`, 0o600);
  r.write('/run/systemd/system/.keep', '');
  const log = join(r.root, 'calls.log');
  const net = scriptedNet();
  net.dns.set('api.example', ['10.0.0.10']);
  net.tcpAnswers.set('*', 'refused');
  const lines: string[] = [];
  const deps = (signal?: AbortSignal, observe?: AgentDeps['observe']): AgentDeps => ({
    fs: createRootFs(r.root),
    exec: createNodeExec({ env: doubleEnv({ root: r.root, log, ...(options.sleep ? { sleepMs: options.sleep } : {}) }) }),
    net,
    clock: systemClock,
    random: cryptoRandom,
    createHttp: (config, ca) => createPinnedHttp([config.coordinatorUrl, ...config.replicaUrls], ca),
    system: { hostname: () => 'cp-1', arch: 'x64' },
    writeLine: (l) => lines.push(l),
    timing: { pollMs: 20, apiReadyTimeoutMs: 2_000 },
    ...(signal ? { signal } : {}),
    ...(observe ? { observe } : {}),
  });
  return { root: r.root, deps, lines, prepare, calls: () => readDoubleLog(log), at: (p: string) => join(r.root, p) };
}

async function coordinator(handler: Handler, material = tls) {
  const c = await startFakeCoordinator(material, handler);
  cleanups.push(() => c.close());
  return c;
}

describe('agent loop against a fake coordinator (HTTPS, pinned CA, signed requests)', () => {
  it('enroll → preflight → prepare-host → full preflight → kubeadm init → report → done: disables itself and deletes the credential', async () => {
    const prepareStep: ReleasedStepOf<'prepare-host'> = {
      id: 'cp-1/prepare-host',
      kind: 'prepare-host',
      host: 'cp-1',
      attempt: 1,
      files: [],
      params: { nodeName: 'cp-1', prepareScript: '' },
      redact: [],
    };
    const fake = await coordinator(scriptedCoordinator([prepareStep, INIT_STEP]));
    const h = await host(fake);
    prepareStep.params.prepareScript = h.prepare;
    const result = await runAgent({ configPath: '/etc/kubeseed/agent.json' }, h.deps());
    expect(result).toMatchObject({ exitCode: 0, state: { phase: 'done' } });

    const paths = fake.requests.map((r) => `${r.method} ${r.path.replace(/\?.*/, '')}`);
    expect(paths[0]).toBe('POST /v1/enroll');
    expect(paths.filter((p) => p === 'POST /v1/report')).toHaveLength(2);
    const prepared = fake.requests.find((r) => r.path === '/v1/report')?.body as ReportRequest;
    expect(prepared).toMatchObject({ stepId: 'cp-1/prepare-host', outcome: 'succeeded' });
    expect(prepared.logTail).toContain('kubeseed-prepare: done');
    // The package checks (kubeadm version) ran after preparation, not before: one preflight each side.
    const checks = h.lines.filter((l) => l.includes('"event":"preflight-check"')).map((l) => JSON.parse(l).check);
    expect(checks).toEqual(['cloud-init', 'clock', 'packages', 'cloud-init', 'clock', ...PACKAGE_CHECKS]);
    expect(paths.at(-1)).toBe('POST /v1/heartbeat');
    const enroll = fake.requests[0]?.body as {
      credential: string;
      host: string;
      publicKey: string;
      facts: { macs: string[]; machineId: string };
    };
    expect(enroll).toMatchObject({
      credential: CREDENTIAL,
      host: 'cp-1',
      facts: { macs: ['52:54:00:12:34:56'], machineId: '0123456789abcdef0123456789abcdef' },
      // cloud-init's own outcome (the TEST DOUBLE's `status --long --format json`), read without --wait.
      cloudInit: { status: 'done', extendedStatus: 'done', exitCode: 0, errors: [], recoverableErrors: [] },
    });
    expect(enroll.publicKey).toContain('BEGIN PUBLIC KEY');
    expect(h.calls().filter((c) => c.tool === 'cloud-init' && c.argv.includes('--format'))).toHaveLength(1);
    expect(fake.requests[0]?.signed).toBe(false);
    for (const r of fake.requests.slice(1)) expect(r.signatureValid, `${r.method} ${r.path}`).toBe(true);

    const report = fake.requests.filter((r) => r.path === '/v1/report')[1]?.body as ReportRequest;
    expect(report).toMatchObject({ stepId: 'cp-1/kubeadm-init', attempt: 1, outcome: 'succeeded', results: { apiServerReady: true } });
    expect(report.logTail).toContain('[bootstrap-token] Using token: [REDACTED]');
    expect(report.logTail).not.toContain(TOKEN);

    expect(statSync(h.at('var/lib/kubeseed/agent-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(h.at('var/lib/kubeseed/session.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(h.at('var/lib/kubeseed/done'))).toBe(true);
    expect(existsSync(h.at('var/lib/kubeseed/steps/cp-1%2Fkubeadm-init.done'))).toBe(true);
    expect(existsSync(h.at('etc/kubeseed/credential'))).toBe(false);
    expect(existsSync(h.at('etc/kubeseed/kubeadm-init.yaml'))).toBe(false);
    expect(
      h
        .calls()
        .filter((c) => c.tool === 'systemctl')
        .map((c) => c.argv),
    ).toEqual([['disable', 'kubeseed-agent.service']]);
    expect(
      h
        .calls()
        .filter((c) => c.tool === 'kubeadm')
        .map((c) => c.argv[0]),
    ).toEqual(['version', 'init']);

    const journal = h.lines.join('\n');
    for (const secret of [TOKEN, CREDENTIAL]) expect(journal).not.toContain(secret);
    for (const line of h.lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(journal).toContain('"event":"host-done"');

    // A restart after done does nothing and talks to nobody.
    const before = fake.requests.length;
    const again = await runAgent({ configPath: '/etc/kubeseed/agent.json' }, h.deps());
    expect(again).toMatchObject({ exitCode: 0, state: { phase: 'done' } });
    expect(fake.requests.length).toBe(before);
  });

  it('a restart mid-rollout resumes from the saved session (no second enroll) and never re-runs init', async () => {
    const fake = await coordinator(scriptedCoordinator([INIT_STEP, { ...INIT_STEP, attempt: 2 }]));
    const h = await host(fake);
    const first = await runAgent({ configPath: '/etc/kubeseed/agent.json', once: true }, h.deps());
    expect(first.state.phase).toBe('waiting');
    expect(fake.requests.filter((r) => r.path === '/v1/enroll')).toHaveLength(1);
    const second = await runAgent({ configPath: '/etc/kubeseed/agent.json' }, h.deps());
    expect(second.state.phase).toBe('done');
    expect(fake.requests.filter((r) => r.path === '/v1/enroll')).toHaveLength(1);
    const reports = fake.requests.filter((r) => r.path === '/v1/report').map((r) => r.body as ReportRequest);
    expect(reports.map((r) => [r.attempt, r.outcome])).toEqual([
      [1, 'succeeded'],
      [2, 'succeeded'],
    ]);
    expect(reports[1]?.logTail).toMatch(/already succeeded/);
    expect(h.calls().filter((c) => c.tool === 'kubeadm' && c.argv[0] === 'init')).toHaveLength(1);
  });

  it('an unknown step kind is reported failed (unknown-step) and the agent carries on; 5xx on next backs off', async () => {
    let failedOnce = false;
    const fake = await coordinator(
      scriptedCoordinator([{ ...INIT_STEP, id: 'future', kind: 'kubeadm-upgrade' }], (req) => {
        if (req.path.startsWith('/v1/next') && !failedOnce) {
          failedOnce = true;
          return { status: 503, body: { error: 'Service Unavailable', code: 'UNAVAILABLE', message: 'restarting' } };
        }
        return null;
      }),
    );
    const h = await host(fake);
    const result = await runAgent({ configPath: '/etc/kubeseed/agent.json' }, h.deps());
    expect(result.state.phase).toBe('done');
    const report = fake.requests.find((r) => r.path === '/v1/report')?.body as ReportRequest;
    expect(report).toMatchObject({ stepId: 'future', outcome: 'failed', reason: 'unknown-step', permanent: true });
    expect(h.lines.join('\n')).toContain('"event":"next-failed"');
  });

  it('a long step keeps heartbeating while it runs', async () => {
    const fake = await coordinator(scriptedCoordinator([INIT_STEP]));
    const h = await host(fake, { sleep: 'kubeadm init=700' });
    const result = await runAgent({ configPath: '/etc/kubeseed/agent.json' }, { ...h.deps(), heartbeatMs: 150 });
    expect(result.state.phase).toBe('done');
    const beats = fake.requests.filter((r) => r.path === '/v1/heartbeat' && (r.body as { phase: string }).phase === 'step');
    expect(beats.length).toBeGreaterThanOrEqual(3); // one at the start, then every 150 ms of a ≥ 700 ms init
    expect((beats.at(-1)?.body as { message?: string } | undefined)?.message).toMatch(
      /kubeadm-init cp-1\/kubeadm-init attempt 1: running for \d+ s/,
    );
  });

  it('SIGTERM during a long poll ends the agent at once (the request is aborted)', async () => {
    const fake = await coordinator(
      scriptedCoordinator([], (req) => (req.path.startsWith('/v1/next') ? { status: 204, delayMs: 20_000 } : null)),
    );
    const h = await host(fake);
    const controller = new AbortController();
    let abortedAt = 0;
    const result = await runAgent(
      { configPath: '/etc/kubeseed/agent.json' },
      h.deps(controller.signal, (state) => {
        if (state.phase === 'waiting' && !abortedAt) {
          setTimeout(() => {
            abortedAt = Date.now();
            controller.abort();
          }, 100);
        }
      }),
    );
    expect(Date.now() - abortedAt).toBeLessThan(2_000);
    expect(result.exitCode).toBe(0);
  });

  it('trusts only the pinned CA: a coordinator with another CA is never enrolled with', async () => {
    const fake = await coordinator(scriptedCoordinator([]), otherTls);
    const h = await host(fake);
    const controller = new AbortController();
    const result = await runAgent(
      { configPath: '/etc/kubeseed/agent.json' },
      h.deps(controller.signal, (state) => {
        if (state.phase === 'enroll-backoff') controller.abort();
      }),
    );
    expect(result.state.phase).toBe('enroll-backoff');
    expect(fake.requests).toHaveLength(0);
    expect(h.lines.join('\n')).toMatch(/"event":"enroll-failed".*certificate/);
    expect(existsSync(h.at('etc/kubeseed/credential'))).toBe(true);
  });

  it('a refused enrollment waits loudly instead of exiting; a broken config exits 78', async () => {
    const fake = await coordinator(() => ({
      status: 403,
      body: { error: 'Forbidden', code: 'CREDENTIAL_SPENT', message: 'credential already used' },
    }));
    const h = await host(fake);
    const controller = new AbortController();
    const result = await runAgent(
      { configPath: '/etc/kubeseed/agent.json' },
      h.deps(controller.signal, (state) => {
        if (state.phase === 'enroll-backoff') controller.abort();
      }),
    );
    expect(result.exitCode).toBe(0);
    expect(h.lines.join('\n')).toMatch(/"level":"error","event":"enroll-refused".*CREDENTIAL_SPENT/);
    expect(h.lines.join('\n')).not.toContain(CREDENTIAL);

    const broken = await runAgent({ configPath: '/etc/kubeseed/missing.json' }, h.deps());
    expect(broken).toMatchObject({ exitCode: 78, state: { phase: 'disabled' } });
    expect(readFileSync(h.at('etc/kubeseed/agent.json'), 'utf8')).toContain(fake.url);
  });
});
