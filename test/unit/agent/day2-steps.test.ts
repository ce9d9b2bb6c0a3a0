/**
 * The agent's day-2 executors (agent/steps/day2-upgrade.ts, day2-renew.ts) against the TEST
 * DOUBLES: kubeadm upgrade apply/node and certs renew, kubectl drain/uncordon, systemctl.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { afterEach, describe, expect, it } from 'vitest';
import { assertKubeadmArgv, buildKubeadmArgv } from '../../../agent/kubeadm-argv.ts';
import { createNodeExec, createRootFs, systemClock } from '../../../agent/node-io.ts';
import { DEFAULT_STEP_TIMING, executeStep, type StepContext } from '../../../agent/steps/index.ts';
import { DOUBLES_DIR, doubleEnv, readDoubleLog } from '../../../doubles/index.ts';
import { REPORT_REQUEST_SCHEMA } from '../../../protocol/schemas.ts';
import type { StepKind } from '../../../protocol/steps.ts';
import { opensslCa, opensslLeaf } from '../../support/openssl.ts';
import { wireStep } from '../../support/wire-step.ts';
import { makeTempRoot, scriptedNet } from './support.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Two double hosts (cp1 initialised, w1 registered) on one cluster state; `ctx` per host for executeStep. */
function cluster() {
  const shared = makeTempRoot('ks-day2-');
  cleanups.push(shared.cleanup);
  const stateFile = join(shared.root, 'cluster.json');
  const log = join(shared.root, 'calls.log');
  const host = (name: string) => {
    const root = join(shared.root, name);
    mkdirSync(root, { recursive: true });
    const env = doubleEnv({ root, log, clusterState: stateFile, kubernetesVersion: 'v1.37.1' });
    const put = (path: string, content: string, mode = 0o600) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content, { mode });
    };
    const net = scriptedNet();
    const ctx: StepContext = {
      fs: createRootFs(root),
      exec: createNodeExec({ env }),
      net,
      clock: systemClock,
      log: () => undefined,
      stateDir: '/var/lib/kubeseed',
      timing: { ...DEFAULT_STEP_TIMING, pollMs: 20, apiReadyTimeoutMs: 2_000, etcdHealthTimeoutMs: 300, staticPodRestartMs: 10 },
    };
    const sh = (...argv: string[]) => spawnSync(join(DOUBLES_DIR, argv[0] ?? ''), argv.slice(1), { env, encoding: 'utf8' });
    return { root, put, ctx, net, sh, read: (p: string) => readFileSync(join(root, p), 'utf8') };
  };
  const cp1 = host('cp1');
  cp1.put(
    '/c.yaml',
    'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  name: cp1\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: api:6443\n',
  );
  expect(cp1.sh('kubeadm', 'init', '--config', '/c.yaml').status).toBe(0);
  cp1.put('/cni.yaml', 'kind: DaemonSet\n');
  expect(cp1.sh('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '-f', '/cni.yaml').status).toBe(0);
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8'));
  const patchState = (fn: (s: { pods?: unknown[]; pdbs?: Array<Record<string, unknown>> } & Record<string, unknown>) => void) => {
    const s = state();
    fn(s);
    writeFileSync(stateFile, JSON.stringify(s));
  };
  const calls = (tool: string) => readDoubleLog(log).filter((c) => c.tool === tool);
  return { cp1, host, state, patchState, calls };
}

const validateReport = new Ajv({ allErrors: true, strict: false }).compile(REPORT_REQUEST_SCHEMA);

let serial = 0;
const run = (kind: StepKind, host: string, params: Record<string, unknown>, ctx: StepContext, files: Array<Record<string, unknown>> = []) =>
  executeStep(
    wireStep({ id: `upgrade-1.37.2/${host}/${kind}/${++serial}`, kind, host, attempt: 1, files: files as never, params, redact: [] }),
    ctx,
  );

describe('day-2 upgrade executors', () => {
  it('kubeadm-upgrade-apply: refuses while kubeadm is not at the target, then runs `kubeadm upgrade apply vX --yes` once', async () => {
    const c = cluster();
    const params = { nodeName: 'cp1', version: '1.37.2', packageManager: 'none', expectNodes: ['cp1'] };
    const early = await run('kubeadm-upgrade-apply', 'cp1', params, c.cp1.ctx);
    expect(early).toMatchObject({ outcome: 'failed', reason: 'kubeadm-not-at-target' });
    expect(early.logTail).toContain('install kubeadm 1.37.2 first');
    c.cp1.put('/.doubles/kubeadm-version', 'v1.37.2\n', 0o644); // what the package install leaves
    const ok = await run('kubeadm-upgrade-apply', 'cp1', params, c.cp1.ctx);
    expect(ok.outcome, ok.logTail).toBe('succeeded');
    expect(c.calls('kubeadm').at(-1)?.argv).toEqual(['upgrade', 'apply', 'v1.37.2', '--yes']);
    expect(c.state().kubernetesVersion).toBe('v1.37.2');
  });

  it('kubeadm-upgrade-apply does not start while a node is missing or not Ready: it names them and runs no kubeadm', async () => {
    const c = cluster();
    c.cp1.put('/.doubles/kubeadm-version', 'v1.37.2\n', 0o644);
    const params = { nodeName: 'cp1', version: '1.37.2', packageManager: 'none', expectNodes: ['cp1', 'w1'] };
    const before = c.calls('kubeadm').length;
    const refused = await run('kubeadm-upgrade-apply', 'cp1', params, c.cp1.ctx);
    expect(refused).toMatchObject({ outcome: 'failed', reason: 'nodes-not-ready' });
    expect(refused.logTail).toContain('not Ready: w1');
    expect(c.calls('kubeadm').length).toBe(before);
    // w1 joins (Ready: the CNI is applied): the retry upgrades.
    const w1 = c.host('w1');
    w1.put(
      '/j.yaml',
      'apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\nnodeRegistration:\n  name: w1\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: api:6443\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\n',
    );
    expect(w1.sh('kubeadm', 'join', '--config', '/j.yaml').status).toBe(0);
    const ok = await run('kubeadm-upgrade-apply', 'cp1', params, c.cp1.ctx);
    expect(ok.outcome, ok.logTail).toBe('succeeded');
  });

  it('apt hosts: kubeadm is unheld, installed at <version>-* and held again before the upgrade (recorded, never run here)', async () => {
    const c = cluster();
    const argvs: string[][] = [];
    // apt must not run on the test machine: a recording Exec answers for it.
    const exec: StepContext['exec'] = {
      run: async (argv) => {
        argvs.push([...argv]);
        const output = argv[0] === 'kubeadm' && argv[1] === 'version' ? 'v1.37.2\n' : '';
        return { code: 0, output, notFound: false, timedOut: false };
      },
    };
    const r = await run(
      'kubeadm-upgrade-node',
      'cp1',
      { nodeName: 'cp1', version: '1.37.2', packageManager: 'apt' },
      { ...c.cp1.ctx, exec },
    );
    expect(r.outcome, r.logTail).toBe('succeeded');
    expect(argvs).toEqual([
      ['apt-mark', 'unhold', 'kubeadm'],
      ['apt-get', 'update'],
      ['apt-get', 'install', '-y', '--allow-change-held-packages', 'kubeadm=1.37.2-*'],
      ['apt-mark', 'hold', 'kubeadm'],
      ['kubeadm', 'version', '-o', 'short'],
      ['kubeadm', 'upgrade', 'node'],
    ]);
  });

  it("apt hosts with an apt-source script: it runs first (the target minor's repository), before apt-get update; a failing one stops the step", async () => {
    const c = cluster();
    const argvs: string[][] = [];
    let scriptCode = 0;
    const script = {
      path: '/etc/kubeseed/kubernetes-apt-source.sh',
      content: '#!/bin/bash\n',
      mode: 0o700,
      secret: false,
      removeAfter: true,
    };
    const exec: StepContext['exec'] = {
      run: async (argv) => {
        argvs.push([...argv]);
        if (argv[0] === '/bin/bash')
          return {
            code: scriptCode,
            output: scriptCode ? 'kubeseed-prepare: ERROR: key-mismatch: …' : '',
            notFound: false,
            timedOut: false,
          };
        return { code: 0, output: '', notFound: false, timedOut: false };
      },
    };
    const params = {
      nodeName: 'cp1',
      version: '1.38.0',
      packageManager: 'apt',
      aptSourceScript: script.path,
      packages: ['kubelet', 'kubectl'],
    };
    const ok = await run('kubelet-upgrade', 'cp1', params, { ...c.cp1.ctx, exec }, [script]);
    expect(ok.outcome, ok.logTail).toBe('succeeded');
    expect(argvs.slice(0, 3)).toEqual([
      ['/bin/bash', script.path],
      ['apt-mark', 'unhold', 'kubelet', 'kubectl'],
      ['apt-get', 'update'],
    ]);
    expect(ok.logTail).toContain(`wrote ${script.path}`);
    expect(existsSync(join(c.cp1.root, script.path))).toBe(false);
    argvs.length = 0;
    scriptCode = 1;
    const bad = await run('kubelet-upgrade', 'cp1', params, { ...c.cp1.ctx, exec }, [script]);
    expect(bad).toMatchObject({ outcome: 'failed', reason: 'apt-source-failed' });
    expect(bad.logTail).toContain('could not point the Kubernetes apt source at 1.38: kubeseed-prepare: ERROR: key-mismatch');
    expect(argvs).toEqual([['/bin/bash', script.path]]);
  });

  it('a worker: drain waits on a PodDisruptionBudget until its timeout (failed, retryable), then drains; upgrade node, kubelet, uncordon', async () => {
    const c = cluster();
    const w1 = c.host('w1');
    c.patchState((s) => {
      (s.nodes as Record<string, unknown>).w1 = { role: 'worker', labels: {}, kubeletVersion: 'v1.37.1' };
      s.pods = [{ namespace: 'app', name: 'web-1', node: 'w1', labels: { app: 'web' } }];
      s.pdbs = [{ namespace: 'app', name: 'web', matchLabels: { app: 'web' }, disruptionsAllowed: 0 }];
    });
    w1.put('/.doubles/node-name', 'w1\n', 0o644);
    w1.put('/.doubles/kubeadm-version', 'v1.37.2\n', 0o644);
    const kubeconfig = {
      path: '/etc/kubeseed/day2-admin.conf',
      content: c.cp1.read('etc/kubernetes/admin.conf'),
      mode: 0o600,
      secret: true,
      removeAfter: true,
    };
    const drain = { nodeName: 'w1', kubeconfig: kubeconfig.path, timeoutSeconds: 120, ignoreDaemonSets: true, deleteEmptyDirData: true };
    const blocked = await run('node-drain', 'w1', drain, w1.ctx, [kubeconfig]);
    expect(blocked).toMatchObject({ outcome: 'failed', reason: 'drain-blocked-by-pdb' });
    expect(blocked.permanent).toBeUndefined();
    expect(existsSync(join(w1.root, kubeconfig.path))).toBe(false); // the admin kubeconfig never stays behind
    c.patchState((s) => {
      (s.pdbs ?? [])[0] = { ...(s.pdbs ?? [])[0], disruptionsAllowed: 1 } as never;
    });
    expect((await run('node-drain', 'w1', drain, w1.ctx, [kubeconfig])).outcome).toBe('succeeded');
    expect(c.calls('kubectl').at(-1)?.argv).toEqual([
      '--kubeconfig',
      kubeconfig.path,
      'drain',
      'w1',
      '--timeout=120s',
      '--ignore-daemonsets',
      '--delete-emptydir-data',
    ]);
    expect(c.state().nodes.w1.unschedulable).toBe(true);
    const node = await run('kubeadm-upgrade-node', 'w1', { nodeName: 'w1', version: '1.37.2', packageManager: 'none' }, w1.ctx);
    expect(node.outcome, node.logTail).toBe('succeeded');
    const kubelet = await run(
      'kubelet-upgrade',
      'w1',
      { nodeName: 'w1', version: '1.37.2', packageManager: 'none', packages: ['kubelet', 'kubectl'] },
      w1.ctx,
    );
    expect(kubelet.outcome, kubelet.logTail).toBe('succeeded');
    expect(c.calls('systemctl').map((x) => x.argv.join(' '))).toEqual(expect.arrayContaining(['daemon-reload', 'restart kubelet']));
    expect((await run('node-uncordon', 'w1', { nodeName: 'w1', kubeconfig: kubeconfig.path }, w1.ctx, [kubeconfig])).outcome).toBe(
      'succeeded',
    );
    expect(c.state().nodes.w1.unschedulable).toBe(false);
  });

  it('a drain without a timeout is refused before kubectl runs; bad versions and node names are permanent failures', async () => {
    const c = cluster();
    const noTimeout = await run(
      'node-drain',
      'cp1',
      { nodeName: 'cp1', kubeconfig: '/etc/kubernetes/admin.conf', timeoutSeconds: 0 },
      c.cp1.ctx,
    );
    expect(noTimeout).toMatchObject({ outcome: 'failed', reason: 'bad-params', permanent: true });
    const badVersion = await run(
      'kubelet-upgrade',
      'cp1',
      { nodeName: 'cp1', version: '1.37.2; reboot', packageManager: 'none', packages: ['kubelet'] },
      c.cp1.ctx,
    );
    expect(badVersion).toMatchObject({ outcome: 'failed', reason: 'bad-params', permanent: true });
    const badNode = await run('node-uncordon', 'cp1', { nodeName: '--all', kubeconfig: '/etc/kubernetes/admin.conf' }, c.cp1.ctx);
    expect(badNode).toMatchObject({ outcome: 'failed', reason: 'bad-params', permanent: true });
    expect(c.calls('kubectl').some((x) => x.argv.includes('drain') || x.argv.includes('uncordon'))).toBe(false);
  });

  it('the kubeadm argv policy admits only a release version, --yes and `certs renew all`; never --force', () => {
    expect(buildKubeadmArgv('upgrade-apply', { version: 'v1.37.2', yes: true })).toEqual([
      'kubeadm',
      'upgrade',
      'apply',
      'v1.37.2',
      '--yes',
    ]);
    expect(() => buildKubeadmArgv('upgrade-apply', { version: 'latest' })).toThrow(/release version/);
    expect(() => buildKubeadmArgv('upgrade-node', { version: 'v1.37.2' })).toThrow(/not allowed/);
    expect(() => assertKubeadmArgv(['kubeadm', 'upgrade', 'apply', 'v1.37.2', '--force'])).toThrow(/--force/);
    expect(() => assertKubeadmArgv(['kubeadm', 'certs', 'renew', 'apiserver'])).toThrow(/not allowed/);
    expect(() => assertKubeadmArgv(['kubeadm', 'certs', 'renew', 'all'])).not.toThrow();
  });
});

describe('day-2 renewal executors', () => {
  it('control-plane-cert-renew: writes the coordinator-held leaf, runs kubeadm certs renew all, restarts each static Pod, waits for /readyz', async () => {
    const c = cluster();
    // External etcd: kubeadm does not manage apiserver-etcd-client there, the coordinator does.
    c.patchState((s) => {
      s.etcd = 'external';
    });
    const leaf = {
      path: '/etc/kubernetes/pki/apiserver-etcd-client.crt',
      content: 'renewed by the coordinator\n',
      mode: 0o644,
      secret: false,
    };
    const before = c.cp1.read('etc/kubernetes/manifests/kube-apiserver.yaml');
    const r = await run(
      'control-plane-cert-renew',
      'cp1',
      { nodeName: 'cp1', restartStaticPods: ['kube-apiserver', 'kube-scheduler'] },
      c.cp1.ctx,
      [leaf],
    );
    expect(r.outcome, r.logTail).toBe('succeeded');
    expect(c.calls('kubeadm').at(-1)?.argv).toEqual(['certs', 'renew', 'all']);
    expect(r.logTail).toContain('moved /etc/kubernetes/manifests/kube-apiserver.yaml out');
    expect(c.cp1.read('etc/kubernetes/manifests/kube-apiserver.yaml')).toBe(before);
    expect(existsSync(join(c.cp1.root, 'etc/kubernetes/kubeseed-restart/kube-apiserver.yaml'))).toBe(false);
    expect(c.cp1.read('etc/kubernetes/pki/apiserver-etcd-client.crt')).toBe('renewed by the coordinator\n');
    const bad = await run('control-plane-cert-renew', 'cp1', { nodeName: 'cp1', restartStaticPods: ['../../etc/passwd'] }, c.cp1.ctx);
    expect(bad).toMatchObject({ outcome: 'failed', reason: 'bad-params', permanent: true });
  });

  it('etcd-cert-renew: restarts etcd, then needs this member healthy and a quorum before it succeeds', async () => {
    const c = cluster();
    const e1 = c.host('e1');
    e1.put('/etc/systemd/system/etcd.service', '[Service]\nExecStart=/usr/bin/etcd\n', 0o644);
    for (const f of ['ca.crt', 'healthcheck-client.crt', 'healthcheck-client.key']) e1.put(`/etc/kubernetes/pki/etcd/${f}`, `${f}\n`);
    const endpoints = ['https://10.0.1.11:2379', 'https://10.0.1.12:2379', 'https://10.0.1.13:2379'];
    const params = {
      nodeName: 'e1',
      etcdService: 'etcd',
      etcdEndpoints: endpoints,
      localEndpoint: endpoints[0],
      etcdClient: {
        caFile: '/etc/kubernetes/pki/etcd/ca.crt',
        certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
        keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
      },
    };
    const files = [{ path: '/etc/kubernetes/pki/etcd/server.crt', content: 'new server cert\n', mode: 0o644, secret: false }];
    // Two members down: this one is healthy but there is no quorum.
    e1.net.tlsHandler = (url) => ({
      status: 200,
      body: url.startsWith(endpoints[0] as string) ? '{"health":"true"}' : '{"health":"false"}',
    });
    const noQuorum = await run('etcd-cert-renew', 'e1', params, e1.ctx, files);
    expect(noQuorum).toMatchObject({ outcome: 'failed', reason: 'etcd-unhealthy' });
    expect(noQuorum.logTail).toContain('with 2 of 3 members');
    e1.net.tlsHandler = (url) => ({
      status: 200,
      body: url.startsWith(endpoints[2] as string) ? '{"health":"false"}' : '{"health":"true"}',
    });
    const ok = await run('etcd-cert-renew', 'e1', params, e1.ctx, files);
    expect(ok).toMatchObject({ outcome: 'succeeded', results: { etcdHealthy: true } });
    expect(c.calls('systemctl').map((x) => x.argv.join(' '))).toContain('restart etcd');
    expect(e1.read('etc/kubernetes/pki/etcd/server.crt')).toBe('new server cert\n');
  });
});

describe('the certificates kubeadm keeps on a control plane (issue 22: reported for `kubeseed certs`)', () => {
  it('control-plane-cert-renew reports each readable one with its notAfter and serial, after the renewal; an unreadable one is said, not reported', async () => {
    const c = cluster();
    const work = join(c.cp1.root, 'openssl');
    mkdirSync(work);
    // Made by the real openssl the way kubeadm makes them (a 10-year CA, 365-day leaves).
    const ca = opensslCa(work, 'ca', '/CN=kubernetes', 3650);
    c.cp1.put('/etc/kubernetes/pki/ca.crt', ca.crt, 0o644);
    c.cp1.put('/etc/kubernetes/pki/ca.key', ca.key);
    const apiserver = opensslLeaf(work, 'ca', 'apiserver', '/CN=kube-apiserver', 365);
    c.cp1.put('/etc/kubernetes/pki/apiserver.crt', apiserver.crt, 0o644);
    c.cp1.put('/etc/kubernetes/pki/apiserver.key', apiserver.key);
    const admin = opensslLeaf(work, 'ca', 'admin', '/O=kubeadm:cluster-admins/CN=kubernetes-admin', 365);
    c.cp1.put(
      '/etc/kubernetes/admin.conf',
      `apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: ${Buffer.from(admin.crt).toString('base64')}\n    client-key-data: ${Buffer.from(admin.key).toString('base64')}\n`,
    );
    // A file that is not a certificate (kubeadm never writes one: a damaged host).
    c.cp1.put('/etc/kubernetes/pki/front-proxy-client.crt', 'not a certificate\n', 0o644);
    const before = new X509Certificate(apiserver.crt).serialNumber;

    const r = await run('control-plane-cert-renew', 'cp1', { nodeName: 'cp1', restartStaticPods: ['kube-apiserver'] }, c.cp1.ctx);
    expect(r.outcome, r.logTail).toBe('succeeded');
    const reported = new Map((r.results?.kubeadmCertificates ?? []).map((x) => [x.path, x]));
    const days = (path: string) => Math.round(((reported.get(path)?.notAfter ?? 0) - Date.now()) / 86_400_000);

    // The double re-signed the real apiserver leaf (kubeadm certs renew: same key, new serial, 365 days).
    const onHost = new X509Certificate(c.cp1.read('etc/kubernetes/pki/apiserver.crt'));
    expect(reported.get('/etc/kubernetes/pki/apiserver.crt')).toEqual({
      path: '/etc/kubernetes/pki/apiserver.crt',
      subject: 'CN=kube-apiserver',
      issuer: 'CN=kubernetes',
      serial: onHost.serialNumber,
      notAfter: Date.parse(onHost.validTo),
    });
    expect(onHost.serialNumber).not.toBe(before);
    expect(days('/etc/kubernetes/pki/apiserver.crt')).toBe(365);
    // Stacked etcd: the double's init made real etcd leaves, valid as long as kubeadm makes them.
    expect(reported.get('/etc/kubernetes/pki/etcd/server.crt')?.subject).toBe('CN=cp1');
    expect(days('/etc/kubernetes/pki/etcd/server.crt')).toBe(365);
    // The kubeconfig's embedded client certificate, named by the kubeconfig, as renewed (certs renew re-signs it in place).
    expect(reported.get('/etc/kubernetes/admin.conf')?.subject).toBe('O=kubeadm:cluster-admins, CN=kubernetes-admin');
    expect(reported.get('/etc/kubernetes/admin.conf')?.serial).not.toBe(new X509Certificate(admin.crt).serialNumber);
    expect(days('/etc/kubernetes/admin.conf')).toBe(365);
    // What is not a certificate is said in the log, not reported.
    expect(reported.has('/etc/kubernetes/pki/front-proxy-client.crt')).toBe(false);
    expect(r.logTail).toMatch(/not a readable certificate, not reported to the coordinator: .*front-proxy-client\.crt/);
    // What the coordinator accepts: the report validates against the wire schema.
    expect(validateReport(r), JSON.stringify(validateReport.errors)).toBe(true);
  });

  it('only the kinds that create or renew them report them (a worker step does not)', async () => {
    const c = cluster();
    const r = await run('node-uncordon', 'cp1', { nodeName: 'cp1', kubeconfig: '/etc/kubernetes/admin.conf' }, c.cp1.ctx);
    expect(r.outcome, r.logTail).toBe('succeeded');
    expect(r.results?.kubeadmCertificates).toBeUndefined();
  });
});
