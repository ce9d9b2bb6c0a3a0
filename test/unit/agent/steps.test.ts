/**
 * Executor tests: real child processes (the TEST DOUBLES for kubeadm/kubectl/systemctl on PATH),
 * a temporary root per host, a scripted Net for TCP and etcd.
 */

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeExec, createNodeNet, createRootFs, systemClock } from '../../../agent/node-io.ts';
import { readSentinel, writeSentinel } from '../../../agent/sentinel.ts';
import { DEFAULT_STEP_TIMING, executeStep as executeReleasedStep, type StepContext } from '../../../agent/steps/index.ts';
import { DOUBLES_DIR, type DoubleCall, doubleEnv, readDoubleLog } from '../../../doubles/index.ts';
import { ETCD_KUBELET_CONFIG } from '../../../generator/plan/host-files.ts';
import type { ReleasedStep } from '../../../protocol/wire.ts';
import { ETCD_KUBELET_DROPIN_PATH, etcdKubeletConfiguration, renderEtcdKubeletDropin } from '../../../templates/etcd.ts';
import { type WireStep, wireStep } from '../../support/wire-step.ts';
import { makeTempRoot, type ScriptedNet, scriptedNet } from './support.ts';

/** Steps as tests write them (loose params, see test/support/wire-step.ts). */
const executeStep = (step: WireStep | ReleasedStep, ctx: StepContext) => executeReleasedStep(wireStep(step as WireStep), ctx);

const TOKEN = 'abcdef.0123456789abcdef';
const CERT_KEY = 'e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204';
const CA_HASH = `sha256:${'a1'.repeat(32)}`;
const STATE = '/var/lib/kubeseed';

const INIT_CONFIG = (withKey: boolean, etcd = 'local:\n    dataDir: /var/lib/etcd') => `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: "${TOKEN}"
  ttl: 2h
${withKey ? `certificateKey: "${CERT_KEY}"\n` : ''}nodeRegistration:
  name: cp-1
  kubeletExtraArgs:
  - name: node-ip
    value: 10.0.0.11
localAPIEndpoint:
  advertiseAddress: 10.0.0.11
  bindPort: 6443
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.1
controlPlaneEndpoint: api.example:6443
networking:
  podSubnet: 10.244.0.0/16
etcd:
  ${etcd}
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
`;

const JOIN_CONFIG = (name: string, controlPlane: boolean) => `apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
nodeRegistration:
  name: ${name}
discovery:
  bootstrapToken:
    apiServerEndpoint: api.example:6443
    token: "${TOKEN}"
    caCertHashes: ["${CA_HASH}"]
${controlPlane ? 'controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: 10.0.0.12\n    bindPort: 6443\ntimeouts:\n  etcdAPICall: 5m\n' : ''}`;

const SHARED_PKI = ['ca.crt', 'ca.key', 'sa.key', 'sa.pub', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'etcd/ca.crt', 'etcd/ca.key'].map(
  (f) => ({
    path: `/etc/kubernetes/pki/${f}`,
    content: f.endsWith('.key') ? `-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI${f}\n-----END PRIVATE KEY-----\n` : `cert ${f}\n`,
    mode: f.endsWith('.key') ? 0o600 : 0o644,
    secret: f.endsWith('.key'),
  }),
);

interface Host {
  root: string;
  ctx: StepContext;
  net: ScriptedNet;
  lines: string[];
  write(path: string, content: string, mode?: number): void;
  exists(path: string): boolean;
  mode(path: string): number;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function cluster(options: { fail?: string; active?: string[]; env?: Record<string, string> } = {}) {
  const shared = makeTempRoot('ks-cluster-');
  cleanups.push(shared.cleanup);
  const log = join(shared.root, 'calls.log');
  const state = join(shared.root, 'cluster.json');
  const host = (): Host => {
    const r = makeTempRoot('ks-host-');
    cleanups.push(r.cleanup);
    const lines: string[] = [];
    const net = scriptedNet();
    net.tcpAnswers.set('*', 'accepted');
    const env = {
      ...doubleEnv({
        root: r.root,
        log,
        clusterState: state,
        ...(options.fail ? { fail: options.fail } : {}),
        ...(options.active ? { active: options.active } : {}),
      }),
      ...options.env,
    };
    const ctx: StepContext = {
      fs: createRootFs(r.root),
      exec: createNodeExec({ env }),
      net,
      clock: systemClock,
      log: (level, event, fields) => lines.push(JSON.stringify({ level, event, ...fields })),
      stateDir: STATE,
      timing: {
        ...DEFAULT_STEP_TIMING,
        pollMs: 20,
        lbReadyTimeoutMs: 400,
        etcdHealthTimeoutMs: 400,
        apiReadyTimeoutMs: 2_000,
        nodeRegisteredTimeoutMs: 2_000,
        etcdVoterTimeoutMs: 2_000,
        nodesReadyTimeoutMs: 600,
        commandTimeoutMs: 30_000,
      },
    };
    const { existsSync, statSync } = require('node:fs') as typeof import('node:fs');
    return {
      root: r.root,
      ctx,
      net,
      lines,
      write: r.write,
      exists: (p) => existsSync(join(r.root, p)),
      mode: (p) => statSync(join(r.root, p)).mode & 0o777,
    };
  };
  const calls = (tool?: string): DoubleCall[] => readDoubleLog(log).filter((c) => !tool || c.tool === tool);
  return { host, calls, log, state };
}

function initStep(overrides: Partial<WireStep> = {}, withKey = true): WireStep {
  return {
    id: 'cp-1/kubeadm-init',
    kind: 'kubeadm-init',
    host: 'cp-1',
    attempt: 1,
    files: [
      ...SHARED_PKI,
      { path: '/etc/kubeseed/kubeadm-init.yaml', content: INIT_CONFIG(withKey), mode: 0o600, secret: true, removeAfter: true },
    ],
    params: { kubeadmConfigPath: '/etc/kubeseed/kubeadm-init.yaml', nodeName: 'cp-1' },
    redact: withKey ? [TOKEN, CERT_KEY] : [TOKEN],
    ...overrides,
  };
}

function joinStep(name: string, controlPlane: boolean, overrides: Partial<WireStep> = {}): WireStep {
  return {
    id: `join-${name}`,
    kind: controlPlane ? 'kubeadm-join-control-plane' : 'kubeadm-join-worker',
    host: name,
    attempt: 1,
    files: [
      ...(controlPlane ? SHARED_PKI : []),
      { path: '/etc/kubeseed/kubeadm-join.yaml', content: JOIN_CONFIG(name, controlPlane), mode: 0o600, secret: true, removeAfter: true },
    ],
    params: {
      kubeadmConfigPath: '/etc/kubeseed/kubeadm-join.yaml',
      nodeName: name,
      endpoint: { host: 'api.example', port: 6443, vip: '10.0.0.10' },
      ...(controlPlane ? { localApiEndpoint: { address: '10.0.0.12', port: 6443 } } : {}),
    },
    redact: [TOKEN],
    ...overrides,
  };
}

describe('kubeadm-init', () => {
  it('writes the config 0600, runs kubeadm with only the allowed flags, deletes the config, writes a sentinel, redacts', async () => {
    const c = cluster();
    const h = c.host();
    const report = await executeStep(initStep(), h.ctx);
    expect(report).toMatchObject({ stepId: 'cp-1/kubeadm-init', attempt: 1, outcome: 'succeeded', results: { apiServerReady: true } });
    const [init] = c.calls('kubeadm');
    expect(init?.argv).toEqual([
      'init',
      '--config',
      '/etc/kubeseed/kubeadm-init.yaml',
      '--upload-certs',
      '--skip-token-print',
      '--skip-certificate-key-print',
    ]);
    expect(init?.exit).toBe(0);
    expect(init?.configMode).toBe(0o600);
    expect(h.exists('/etc/kubeseed/kubeadm-init.yaml')).toBe(false);
    expect(h.mode('/etc/kubernetes/pki/ca.key')).toBe(0o600);
    expect(h.mode('/etc/kubernetes/pki/ca.crt')).toBe(0o644);
    expect(await readSentinel(h.ctx.fs, STATE, 'cp-1/kubeadm-init')).toMatchObject({
      kind: 'kubeadm-init',
      attempt: 1,
      results: { apiServerReady: true },
    });
    expect(h.mode(`${STATE}/steps/cp-1%2Fkubeadm-init.done`)).toBe(0o600);
    // the double printed the token and the certificate key: neither may leave the agent
    expect(report.logTail).toContain('[bootstrap-token] Using token: [REDACTED]');
    expect(report.logTail).toContain('[REDACTED]');
    for (const secret of [TOKEN, CERT_KEY]) {
      expect(report.logTail).not.toContain(secret);
      expect(h.lines.join('\n')).not.toContain(secret);
    }
    expect(c.calls('kubectl').map((x) => x.argv)).toContainEqual(['--kubeconfig', '/etc/kubernetes/admin.conf', 'get', '--raw', '/readyz']);
  });

  it('omits --upload-certs when the config has no certificateKey', async () => {
    const c = cluster();
    await executeStep(initStep({}, false), c.host().ctx);
    expect(c.calls('kubeadm')[0]?.argv).toEqual([
      'init',
      '--config',
      '/etc/kubeseed/kubeadm-init.yaml',
      '--skip-token-print',
      '--skip-certificate-key-print',
    ]);
  });

  it('never runs init twice: a re-release (any step id) is answered from the sentinel', async () => {
    const c = cluster();
    const h = c.host();
    await executeStep(initStep(), h.ctx);
    const again = await executeStep(initStep({ attempt: 2 }), h.ctx);
    const otherId = await executeStep(initStep({ id: 'cp-1/kubeadm-init#2' }), h.ctx);
    expect(again).toMatchObject({ outcome: 'succeeded', attempt: 2, results: { apiServerReady: true } });
    expect(again.logTail).toMatch(/already succeeded/);
    expect(otherId.outcome).toBe('succeeded');
    expect(c.calls('kubeadm')).toHaveLength(1);
    expect(h.exists('/etc/kubeseed/kubeadm-init.yaml')).toBe(false);
    // admin.conf gone: refuse loudly rather than init again
    h.ctx.fs.remove('/etc/kubernetes/admin.conf');
    await h.ctx.fs.remove('/etc/kubernetes/admin.conf');
    const broken = await executeStep(initStep({ attempt: 3 }), h.ctx);
    expect(broken).toMatchObject({ outcome: 'failed', reason: 'init-sentinel-without-admin-conf', permanent: true });
    expect(c.calls('kubeadm')).toHaveLength(1);
  });

  it('a failed init is reported with the exit code, deletes the config and leaves no sentinel', async () => {
    const c = cluster({ fail: 'kubeadm init=1' });
    const h = c.host();
    const report = await executeStep(initStep(), h.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'kubeadm-exit-1' });
    expect(report.logTail).toContain('injected failure');
    expect(h.exists('/etc/kubeseed/kubeadm-init.yaml')).toBe(false);
    expect(await readSentinel(h.ctx.fs, STATE, 'cp-1/kubeadm-init')).toBeNull();
  });

  it('an interrupted init (files, no sentinel) is reported half-done-init without running kubeadm; reset then init works', async () => {
    const c = cluster();
    const h = c.host();
    h.write('/etc/kubernetes/admin.conf', 'x');
    h.write('/etc/kubernetes/manifests/kube-apiserver.yaml', 'x');
    const report = await executeStep(initStep(), h.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'half-done-init' });
    expect(report.logTail).toContain('/etc/kubernetes/manifests/kube-apiserver.yaml');
    expect(c.calls('kubeadm')).toHaveLength(0);
    expect(h.exists('/etc/kubeseed/kubeadm-init.yaml')).toBe(false);
    expect(
      (await executeStep({ id: 'cp-1/reset#1', kind: 'reset', host: 'cp-1', attempt: 1, files: [], params: {}, redact: [] }, h.ctx))
        .outcome,
    ).toBe('succeeded');
    expect((await executeStep(initStep({ attempt: 2 }), h.ctx)).outcome).toBe('succeeded');
  });

  it('refuses argv the policy forbids before anything runs', async () => {
    const c = cluster();
    const report = await executeStep(
      initStep({ params: { kubeadmConfigPath: '/etc/kubeseed/kubeadm-init.yaml', ignorePreflightErrors: ['all --token=x'] } }),
      c.host().ctx,
    );
    expect(report).toMatchObject({ outcome: 'failed', reason: 'kubeadm-argv-refused', permanent: true });
    expect(c.calls('kubeadm')).toHaveLength(0);
  });
});

describe('joins, half-done joins and reset', () => {
  async function initCluster(c: ReturnType<typeof cluster>) {
    const cp1 = c.host();
    expect((await executeStep(initStep(), cp1.ctx)).outcome).toBe('succeeded');
    return cp1;
  }

  it('a worker joins with --config only and registers', async () => {
    const c = cluster();
    await initCluster(c);
    const w = c.host();
    const report = await executeStep(joinStep('w-1', false), w.ctx);
    expect(report).toMatchObject({ outcome: 'succeeded', results: { nodeRegistered: true } });
    expect(c.calls('kubeadm').at(-1)?.argv).toEqual(['join', '--config', '/etc/kubeseed/kubeadm-join.yaml']);
    expect(c.calls('kubeadm').at(-1)?.configMode).toBe(0o600);
    expect(w.exists('/etc/kubeseed/kubeadm-join.yaml')).toBe(false);
    expect(c.calls('kubectl').at(-1)?.argv).toEqual(['--kubeconfig', '/etc/kubernetes/kubelet.conf', 'get', 'node', 'w-1', '-o', 'name']);
  });

  it("the kubelet package's manifests/.kubelet-keep is not a leftover: a fresh host joins without a reset", async () => {
    const c = cluster();
    await initCluster(c);
    const w = c.host();
    expect(w.exists('/etc/kubernetes/manifests/.kubelet-keep')).toBe(true); // what the kubelet deb ships (kubelet.spec)
    const report = await executeStep(joinStep('w-1', false), w.ctx);
    expect(report, report.logTail).toMatchObject({ outcome: 'succeeded' });
    expect(report.logTail).not.toMatch(/half-done|kubelet-keep/);
  });

  it("a control-plane join is ready when the new member's own API server answers /readyz, not the load balancer", async () => {
    // Not ready for longer than kubeadm join and the node check after it take on a loaded machine.
    const c = cluster({ env: { KUBESEED_DOUBLE_APISERVER_READY_MS: '5000' } });
    await initCluster(c);
    const cp2 = c.host();
    cp2.ctx.timing = { ...cp2.ctx.timing, apiReadyTimeoutMs: 20_000 };
    cp2.net.tlsHandler = () => ({
      status: 200,
      body: JSON.stringify({
        members: [
          { ID: '11', name: 'cp-1' },
          { ID: '22', name: 'cp-2' },
        ],
      }),
    });
    const report = await executeStep(joinStep('cp-2', true), cp2.ctx);
    expect(report, report.logTail).toMatchObject({ outcome: 'succeeded', results: { apiServerReady: true } });
    const probes = c.calls('kubectl').filter((x) => x.argv.includes('/readyz') && x.root === cp2.root);
    expect(probes.length).toBeGreaterThan(1); // it waited while the member was not ready
    for (const p of probes)
      expect(p.argv).toEqual([
        '--kubeconfig',
        '/etc/kubernetes/admin.conf',
        '--server',
        'https://10.0.0.12:6443',
        'get',
        '--raw',
        '/readyz',
      ]);
    expect(probes.at(-1)?.exit).toBe(0);
    expect(report.logTail).toMatch(/API server https:\/\/10\.0\.0\.12:6443 \/readyz: ok after \d+ tries/);
  });

  it('a stacked control plane waits until its etcd member is a voter and no learner is left', async () => {
    const c = cluster();
    await initCluster(c);
    const cp2 = c.host();
    let calls = 0;
    cp2.net.tlsHandler = (url, method) => {
      expect(url).toBe('https://127.0.0.1:2379/v3/cluster/member/list');
      expect(method).toBe('POST');
      calls++;
      const learner = calls < 3;
      return {
        status: 200,
        body: JSON.stringify({
          members: [
            { ID: '11', name: 'cp-1' },
            { ID: '22', name: 'cp-2', isLearner: learner },
          ],
        }),
      };
    };
    const report = await executeStep(joinStep('cp-2', true), cp2.ctx);
    expect(report, report.logTail).toMatchObject({
      outcome: 'succeeded',
      results: { nodeRegistered: true, etcdVoter: true, apiServerReady: true },
    });
    expect(calls).toBe(3);
    expect(cp2.mode('/etc/kubernetes/pki/sa.key')).toBe(0o600);
  });

  it('a learner that never gets promoted fails the join with etcd-learner', async () => {
    const c = cluster();
    await initCluster(c);
    const cp2 = c.host();
    cp2.net.tlsHandler = () => ({
      status: 200,
      body: JSON.stringify({
        members: [
          { ID: '11', name: 'cp-1' },
          { ID: '22', name: 'cp-2', isLearner: true },
        ],
      }),
    });
    const step = joinStep('cp-2', true);
    const report = await executeStep({ ...step, params: { ...step.params, etcdEndpoints: ['https://10.0.0.12:2379'] } }, cp2.ctx);
    expect(new Set(cp2.net.tls.map((t) => t.url))).toEqual(new Set(['https://10.0.0.12:2379/v3/cluster/member/list'])); // the released URL wins
    expect(report).toMatchObject({ outcome: 'failed', reason: 'etcd-learner', results: { etcdVoter: false, nodeRegistered: true } });
  });

  it('a stacked join against the etcd-gateway TEST DOUBLE: real TLS with client certificates, learner then voter', async () => {
    // The learner outlives kubeadm join and the node/readyz checks after it (seconds on a loaded machine).
    const c = cluster({ env: { KUBESEED_DOUBLE_LEARNER_MS: '6000' } });
    await initCluster(c);
    const cp2 = c.host();
    cp2.ctx.net = createNodeNet();
    cp2.ctx.timing = { ...cp2.ctx.timing, etcdVoterTimeoutMs: 15_000 };
    const port = await new Promise<number>((done) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => done(p));
      });
    });
    const gateway = spawn(join(DOUBLES_DIR, 'etcd-gateway'), ['--listen', `127.0.0.1:${port}`], {
      env: { ...doubleEnv({ root: cp2.root, log: c.log, clusterState: c.state }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => gateway.kill('SIGKILL'));
    const step = joinStep('cp-2', true);
    const started = Date.now();
    const report = await executeStep({ ...step, params: { ...step.params, etcdEndpoints: [`https://127.0.0.1:${port}`] } }, cp2.ctx);
    expect(report, report.logTail).toMatchObject({ outcome: 'succeeded', results: { etcdVoter: true, nodeRegistered: true } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(500); // it waited for the learner's promotion
    expect(report.logTail).toMatch(/is a voter and no learner is left: ok after \d+ tries/);
    expect(c.calls('etcd-gateway').length).toBeGreaterThan(1);
  });

  it('a half-done join is reported (not retried in place); reset cleans up; the retry succeeds', async () => {
    const c = cluster({ fail: 'kubeadm join=1' });
    await initCluster(c);
    const w = c.host();
    w.write('/etc/cni/net.d/10-calico.conflist', '{}');
    const first = await executeStep(joinStep('w-1', false), w.ctx);
    expect(first).toMatchObject({ outcome: 'failed', reason: 'kubeadm-exit-1' });
    expect(w.exists('/etc/kubernetes/kubelet.conf')).toBe(true); // what the failed attempt left
    const second = await executeStep(joinStep('w-1', false, { attempt: 2 }), w.ctx);
    expect(second).toMatchObject({ outcome: 'failed', reason: 'half-done-join', attempt: 2 });
    expect(second.logTail).toContain('/etc/kubernetes/kubelet.conf');
    const joinsBefore = c.calls('kubeadm').filter((x) => x.argv[0] === 'join').length;
    expect(joinsBefore).toBe(1);
    const reset = await executeStep({ id: 'reset-w-1', kind: 'reset', host: 'w-1', attempt: 1, files: [], params: {}, redact: [] }, w.ctx);
    expect(reset.outcome).toBe('succeeded');
    expect(c.calls('kubeadm').at(-1)?.argv).toEqual(['reset', '-f']);
    expect(w.exists('/etc/kubernetes/kubelet.conf')).toBe(false);
    expect(w.exists('/etc/cni/net.d/10-calico.conflist')).toBe(false);
    const third = await executeStep(joinStep('w-1', false, { attempt: 3 }), w.ctx);
    expect(third).toMatchObject({ outcome: 'succeeded', attempt: 3 });
  });

  it('the double refuses a join when manifests are left over (what real kubeadm preflight does)', async () => {
    const c = cluster();
    await initCluster(c);
    const cp2 = c.host();
    // bypass the agent's own leftover check to prove the double enforces it too
    cp2.write('/etc/kubernetes/manifests/kube-vip.yaml', 'x');
    const report = await executeStep(joinStep('cp-2', true), cp2.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'half-done-join' });
    expect(c.calls('kubeadm').filter((x) => x.argv[0] === 'join')).toHaveLength(0);
  });

  it('reset is refused on the host whose init succeeded', async () => {
    const c = cluster();
    const cp1 = await initCluster(c);
    const report = await executeStep(
      { id: 'reset-cp-1', kind: 'reset', host: 'cp-1', attempt: 1, files: [], params: {}, redact: [] },
      cp1.ctx,
    );
    expect(report).toMatchObject({ outcome: 'failed', reason: 'init-already-succeeded', permanent: true });
    expect(cp1.exists('/etc/kubernetes/admin.conf')).toBe(true);
  });

  it('a join whose endpoint times out fails with endpoint-unreachable before kubeadm runs', async () => {
    const c = cluster();
    await initCluster(c);
    const w = c.host();
    w.net.tcpAnswers.set('*', 'timeout');
    const report = await executeStep(joinStep('w-1', false), w.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'endpoint-unreachable' });
    expect(c.calls('kubeadm').filter((x) => x.argv[0] === 'join')).toHaveLength(0);
  });
});

describe('after init: upload-certs, CNI, kube-vip, labels, verify, member removal', () => {
  it('runs the rest of a control plane rollout through the doubles', async () => {
    const c = cluster();
    const cp1 = c.host();
    cp1.write(
      '/etc/kubernetes/manifests/kube-vip.yaml',
      'volumes:\n- hostPath:\n    path: /etc/kubernetes/super-admin.conf\n  name: kubeconfig\n',
      0o600,
    );
    // kubeadm init refuses a non-empty manifests dir only on join; init with kube-vip pre-placed is the documented path
    expect((await executeStep(initStep(), cp1.ctx)).outcome).toBe('succeeded');

    const vip = await executeStep(
      { id: 'kv-cp-1', kind: 'kube-vip-manifest', host: 'cp-1', attempt: 1, files: [], params: { kubeVipPhase: 'init' }, redact: [] },
      cp1.ctx,
    );
    expect(vip.outcome).toBe('succeeded');
    const manifest = readFileSync(join(cp1.root, 'etc/kubernetes/manifests/kube-vip.yaml'), 'utf8');
    expect(manifest).toContain('path: /etc/kubernetes/admin.conf');
    expect(manifest).not.toContain('super-admin');

    const upload = await executeStep(
      {
        id: 'upload-1',
        kind: 'upload-certs',
        host: 'cp-1',
        attempt: 1,
        files: [{ path: '/etc/kubeseed/upload.yaml', content: INIT_CONFIG(true), mode: 0o600, secret: true }],
        params: { kubeadmConfigPath: '/etc/kubeseed/upload.yaml' },
        redact: [CERT_KEY, TOKEN],
      },
      cp1.ctx,
    );
    expect(upload.outcome).toBe('succeeded');
    expect(c.calls('kubeadm').at(-1)?.argv).toEqual([
      'init',
      'phase',
      'upload-certs',
      '--config',
      '/etc/kubeseed/upload.yaml',
      '--upload-certs',
      '--skip-certificate-key-print',
    ]);
    expect(upload.logTail).not.toContain(CERT_KEY);
    expect(cp1.exists('/etc/kubeseed/upload.yaml')).toBe(false);

    const verifyEarly = await executeStep(
      { id: 'verify-0', kind: 'verify', host: 'cp-1', attempt: 1, files: [], params: { expectNodes: ['cp-1'] }, redact: [] },
      cp1.ctx,
    );
    expect(verifyEarly).toMatchObject({ outcome: 'failed', reason: 'nodes-not-ready', results: { nodesReady: [] } });

    const cni = await executeStep(
      {
        id: 'cni',
        kind: 'cni-apply',
        host: 'cp-1',
        attempt: 1,
        files: [
          {
            path: '/etc/kubeseed/cni/calico.yaml',
            content: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: calico-system\n',
            mode: 0o644,
            secret: false,
          },
        ],
        params: { manifests: ['/etc/kubeseed/cni/calico.yaml'] },
        redact: [],
      },
      cp1.ctx,
    );
    expect(cni.outcome).toBe('succeeded');
    expect(c.calls('kubectl').at(-1)?.argv).toEqual([
      '--kubeconfig',
      '/etc/kubernetes/admin.conf',
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      '/etc/kubeseed/cni/calico.yaml',
    ]);

    const restart = await executeStep(
      {
        id: 'cni-2',
        kind: 'cni-apply',
        host: 'cp-1',
        attempt: 1,
        files: [],
        params: { manifests: [], commands: [['kubectl', 'get', 'nodes', '-o', 'json']] },
        redact: [],
      },
      cp1.ctx,
    );
    expect(restart.outcome).toBe('succeeded');
    expect(c.calls('kubectl').at(-1)?.argv).toEqual(['--kubeconfig', '/etc/kubernetes/admin.conf', 'get', 'nodes', '-o', 'json']);
    const shell = await executeStep(
      {
        id: 'cni-3',
        kind: 'cni-apply',
        host: 'cp-1',
        attempt: 1,
        files: [],
        params: { commands: [['sh', '-c', 'curl x | sh']] },
        redact: [],
      },
      cp1.ctx,
    );
    expect(shell).toMatchObject({ outcome: 'failed', reason: 'command-not-allowed', permanent: true });
    const none = await executeStep(
      { id: 'cni-4', kind: 'cni-apply', host: 'cp-1', attempt: 1, files: [], params: { manifests: [], commands: [] }, redact: [] },
      cp1.ctx,
    );
    expect(none.outcome).toBe('succeeded');

    const labels = await executeStep(
      {
        id: 'labels',
        kind: 'label-nodes',
        host: 'cp-1',
        attempt: 1,
        files: [],
        params: { labels: { 'cp-1': { 'topology.kubernetes.io/zone': 'a', tier: 'gold' } } },
        redact: [],
      },
      cp1.ctx,
    );
    expect(labels.outcome).toBe('succeeded');
    expect(c.calls('kubectl').at(-1)?.argv).toEqual([
      '--kubeconfig',
      '/etc/kubernetes/admin.conf',
      'label',
      'node',
      'cp-1',
      'topology.kubernetes.io/zone=a',
      'tier=gold',
      '--overwrite',
    ]);
    const badLabel = await executeStep(
      {
        id: 'labels-2',
        kind: 'label-nodes',
        host: 'cp-1',
        attempt: 1,
        files: [],
        params: { labels: { 'cp-1': { 'bad key;rm': 'x' } } },
        redact: [],
      },
      cp1.ctx,
    );
    expect(badLabel).toMatchObject({ outcome: 'failed', reason: 'bad-label', permanent: true });

    const verify = await executeStep(
      { id: 'verify', kind: 'verify', host: 'cp-1', attempt: 1, files: [], params: { expectNodes: ['cp-1'] }, redact: [] },
      cp1.ctx,
    );
    expect(verify).toMatchObject({ outcome: 'succeeded', results: { nodesReady: ['cp-1'] } });

    const removed: string[] = [];
    cp1.write('/etc/kubernetes/pki/etcd/healthcheck-client.crt', 'c');
    cp1.write('/etc/kubernetes/pki/etcd/healthcheck-client.key', 'k', 0o600);
    cp1.net.tlsHandler = (url, _m, body) => {
      if (url.endsWith('/member/list'))
        return {
          status: 200,
          body: JSON.stringify({
            members: [
              { ID: '1', name: 'cp-1' },
              { ID: '2', name: 'cp-2' },
              { ID: '3', name: '', isLearner: true },
            ],
          }),
        };
      removed.push(JSON.parse(body ?? '{}').ID);
      return { status: 200, body: '{}' };
    };
    const remove = await executeStep(
      { id: 'rm-cp-2', kind: 'etcd-member-remove', host: 'cp-1', attempt: 1, files: [], params: { memberName: 'cp-2' }, redact: [] },
      cp1.ctx,
    );
    expect(remove.outcome).toBe('succeeded');
    expect(removed).toEqual(['2', '3']);
    expect(c.calls('kubectl').at(-1)?.argv).toEqual([
      '--kubeconfig',
      '/etc/kubernetes/admin.conf',
      'delete',
      'node',
      'cp-2',
      '--ignore-not-found',
    ]);
  });
});

describe('etcd-start and lb-check', () => {
  const etcdStep = (mode: 'static-pod' | 'binary'): WireStep => ({
    id: `etcd-${mode}`,
    kind: 'etcd-start',
    host: 'etcd-1',
    attempt: 1,
    files: [
      { path: '/etc/kubernetes/pki/etcd/ca.crt', content: 'ca', mode: 0o644, secret: false },
      {
        path: '/etc/kubernetes/pki/etcd/server.key',
        content: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n',
        mode: 0o644,
        secret: true,
      },
      { path: '/etc/kubernetes/pki/etcd/healthcheck-client.crt', content: 'hc', mode: 0o644, secret: false },
      { path: '/etc/kubernetes/pki/etcd/healthcheck-client.key', content: 'hk', mode: 0o600, secret: true },
      { path: '/etc/kubeseed/kubeadm-etcd.yaml', content: INIT_CONFIG(false), mode: 0o600, secret: false },
    ],
    params: {
      etcdMode: mode,
      kubeadmConfigPath: '/etc/kubeseed/kubeadm-etcd.yaml',
      etcdEndpoints: ['https://10.0.1.11:2379', 'https://10.0.1.12:2379', 'https://10.0.1.13:2379'],
    },
    redact: [],
  });

  it('static pod: kubeadm init phase etcd local, then TLS health of every member', async () => {
    const c = cluster();
    const h = c.host();
    const report = await executeStep(etcdStep('static-pod'), h.ctx);
    expect(report).toMatchObject({ outcome: 'succeeded', results: { etcdHealthy: true } });
    expect(c.calls('kubeadm')[0]?.argv).toEqual(['init', 'phase', 'etcd', 'local', '--config', '/etc/kubeseed/kubeadm-etcd.yaml']);
    expect(h.mode('/etc/kubernetes/pki/etcd/server.key')).toBe(0o600); // secret: never wider than 0600
    expect(new Set(h.net.tls.map((t) => t.url))).toEqual(
      new Set(['https://10.0.1.11:2379/health', 'https://10.0.1.12:2379/health', 'https://10.0.1.13:2379/health']),
    );
  });

  it('static pod: the kubelet is reloaded and restarted, so it runs the etcd drop-in written after boot (kubeadm HA etcd procedure)', async () => {
    const c = cluster();
    const h = c.host();
    const env = doubleEnv({ root: h.root, log: c.log, clusterState: c.state, host: false });
    const sh = (...argv: string[]) => spawnSync(argv[0] ?? '', argv.slice(1), { env, encoding: 'utf8' });
    // Boot: systemd loads the packaged kubelet unit and starts it (it crash-loops until it has a config).
    expect(sh('systemctl', 'daemon-reload').status).toBe(0);
    expect(sh('systemctl', 'enable', '--now', 'kubelet').status).toBe(0);
    // The user-data's files, written after systemd loaded the units.
    h.write(ETCD_KUBELET_DROPIN_PATH, renderEtcdKubeletDropin({ kubeletConfigPath: ETCD_KUBELET_CONFIG }));
    h.write(ETCD_KUBELET_CONFIG, JSON.stringify(etcdKubeletConfiguration()));
    // This member answers /health only while the kubelet runs its etcd static pod.
    const runsEtcd = () => (JSON.parse(sh('kubelet', '--double-status').stdout).staticPods ?? []).includes('etcd.yaml');
    h.net.tlsHandler = (url) =>
      url.includes('10.0.1.11') && !runsEtcd() ? { status: 503, body: 'connection refused' } : { status: 200, body: '{"health":"true"}' };
    const report = await executeStep({ ...etcdStep('static-pod'), host: 'etcd-1' }, h.ctx);
    expect(report, report.logTail).toMatchObject({ outcome: 'succeeded', results: { etcdHealthy: true } });
    const order = c
      .calls()
      .filter((x) => x.root === h.root && (x.tool === 'systemctl' || x.tool === 'kubeadm'))
      .map((x) => `${x.tool} ${x.argv.join(' ')}`);
    expect(order.slice(2)).toEqual([
      'systemctl daemon-reload',
      'systemctl restart kubelet',
      'kubeadm init phase etcd local --config /etc/kubeseed/kubeadm-etcd.yaml',
    ]);
    expect(JSON.parse(sh('kubelet', '--double-status').stdout)).toMatchObject({
      running: true,
      argv: ['/usr/bin/kubelet', `--config=${ETCD_KUBELET_CONFIG}`],
      staticPods: ['etcd.yaml'],
    });
  });

  it('binary: systemd unit; one unhealthy member fails with etcd-unhealthy', async () => {
    const c = cluster();
    const h = c.host();
    h.write('/etc/systemd/system/etcd.service', '[Service]\nExecStart=/usr/local/bin/etcd --name etcd-1\n'); // from the user-data
    h.net.tlsHandler = (url) =>
      url.includes('10.0.1.13') ? { status: 503, body: '{"health":"false"}' } : { status: 200, body: '{"health":"true"}' };
    const report = await executeStep(etcdStep('binary'), h.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'etcd-unhealthy', results: { etcdHealthy: false } });
    expect(c.calls('systemctl').map((x) => x.argv)).toEqual([['daemon-reload'], ['enable', '--now', 'etcd']]);
  });

  it('lb-check: service running, port open, VIP answering', async () => {
    const c = cluster({ active: ['haproxy'] });
    const h = c.host();
    h.net.tcpAnswers.set('127.0.0.1:6443', 'accepted');
    h.net.tcpAnswers.set('10.0.0.10:6443', 'accepted');
    const step: WireStep = {
      id: 'lb',
      kind: 'lb-check',
      host: 'lb-1',
      attempt: 1,
      files: [],
      params: { lbService: 'haproxy', endpoint: { host: 'api.example', port: 6443, vip: '10.0.0.10' } },
      redact: [],
    };
    expect(await executeStep(step, h.ctx)).toMatchObject({ outcome: 'succeeded', results: { portOpen: true, vipHeld: true } });
    const down = c.host();
    down.net.tcpAnswers.set('*', 'refused'); // neither loopback nor this host's own addresses answer
    expect(await executeStep({ ...step, params: { ...step.params, lbService: 'nginx' } }, down.ctx)).toMatchObject({
      outcome: 'failed',
      reason: 'lb-not-ready',
      results: { portOpen: false },
    });
  });
});

describe('dispatcher', () => {
  it('an unknown kind is a failed report, never a throw', async () => {
    const c = cluster();
    const report = await executeStep(
      { id: 'x', kind: 'kubeadm-upgrade' as never, host: 'h', attempt: 2, files: [], params: {}, redact: [] },
      c.host().ctx,
    );
    expect(report).toMatchObject({ stepId: 'x', attempt: 2, outcome: 'failed', reason: 'unknown-step', permanent: true });
  });

  it('a completed step is answered from its sentinel; observations re-run', async () => {
    const c = cluster();
    const h = c.host();
    await writeSentinel(h.ctx.fs, STATE, { stepId: 'labels', kind: 'label-nodes', attempt: 1, finishedAt: 1, results: {} });
    expect(
      await executeStep(
        { id: 'labels', kind: 'label-nodes', host: 'h', attempt: 2, files: [], params: { labels: { a: { b: 'c' } } }, redact: [] },
        h.ctx,
      ),
    ).toMatchObject({ outcome: 'succeeded' });
    expect(c.calls('kubectl')).toHaveLength(0);
  });
});
