/**
 * The TEST DOUBLES must refuse what real kubeadm/kubectl refuse — otherwise the agent and e2e tests
 * that lean on them prove nothing. Each case runs the double as a process in a temporary root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeExec } from '../../../agent/node-io.ts';
import { DOUBLES_DIR, type DoubleHostOptions, doubleEnv, readDoubleLog } from '../../../doubles/index.ts';
import { makeTempRoot } from './support.ts';

const TOKEN = 'abcdef.0123456789abcdef';
const KEY = 'e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204';
const HASH = `sha256:${'ab'.repeat(32)}`;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function sandbox(extra: Record<string, string> = {}, host: DoubleHostOptions = {}) {
  const r = makeTempRoot('ks-double-');
  cleanups.push(r.cleanup);
  const log = join(r.root, 'calls.log');
  const env = { ...doubleEnv({ root: r.root, log, host }), ...extra };
  const put = (path: string, content: string, mode = 0o600) => {
    const full = join(r.root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content, { mode });
  };
  /** Runs a double in this sandbox, with `more` added to its environment. */
  const runWith = (more: Record<string, string>, tool: string, ...args: string[]) => {
    const res = spawnSync(join(DOUBLES_DIR, tool), args, { env: { ...env, ...more }, encoding: 'utf8' });
    return { code: res.status, out: res.stdout, err: res.stderr };
  };
  const run = (tool: string, ...args: string[]) => runWith({}, tool, ...args);
  return { root: r.root, log, put, run, runWith, env };
}

const init = (extra = '') => `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: "${TOKEN}"
certificateKey: "${KEY}"
nodeRegistration:
  name: cp-1
${extra}---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
controlPlaneEndpoint: api:6443
`;
const join_ = (extra = '', hash = HASH, token = TOKEN) => `apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
nodeRegistration:
  name: w-1
discovery:
  bootstrapToken:
    apiServerEndpoint: api:6443
    token: "${token}"
    caCertHashes: ["${hash}"]
${extra}`;

/** A sandbox whose control plane ran `kubeadm init` (after `prepare`, which can place files first). */
function initialised(prepare: (s: ReturnType<typeof sandbox>) => void = () => {}) {
  const s = sandbox();
  prepare(s);
  s.put('/i.yaml', init());
  const r = s.run('kubeadm', 'init', '--config', '/i.yaml');
  expect(r.code, r.err).toBe(0);
  return s;
}

/** Another machine of the cluster whose control plane ran in `cp`: its own root, the cluster state shared. */
const machineOf = (cp: { root: string }, extra: Record<string, string> = {}) =>
  sandbox({ KUBESEED_DOUBLE_CLUSTER_STATE: join(cp.root, '.doubles', 'cluster.json'), ...extra });

describe('kubeadm TEST DOUBLE', () => {
  it('refuses to run without a test root', () => {
    const res = spawnSync(join(DOUBLES_DIR, 'kubeadm'), ['version'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
    expect(res.status).toBe(97);
    expect(res.stderr).toMatch(/KUBESEED_TEST_ROOT/);
  });

  it.each([
    [['init', '--config', '/c.yaml', '--token', TOKEN], 1, /can not mix '--config' with arguments \[token\]/],
    [
      ['join', '--config', '/c.yaml', '--certificate-key', KEY, '--control-plane'],
      1,
      /can not mix '--config' with arguments \[certificate-key control-plane\]/,
    ],
    [['join', '--config', '/c.yaml', '--discovery-token-ca-cert-hash', HASH], 1, /can not mix/],
    [['join', '--token', TOKEN, 'api:6443'], 1, /positional|unknown|not allowed/],
    [['init', '--pod-network-cidr', '10.0.0.0/8'], 2, /argv policy/],
    [['join', '--config', '/c.yaml', '--skip-token-print'], 1, /unknown flag: --skip-token-print/],
    [['token', 'create'], 1, /unknown command/],
    [['reset'], 1, /-f/],
  ])('argv %j → exit %i', (argv, code, message) => {
    const s = sandbox();
    s.put('/c.yaml', init());
    const r = s.run('kubeadm', ...argv);
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message);
    expect(readDoubleLog(s.log)[0]).toMatchObject({ tool: 'kubeadm', argv, exit: code });
  });

  it.each([
    ['v1beta3', init().replaceAll('v1beta4', 'v1beta3'), /no kind "InitConfiguration" is registered for version "kubeadm.k8s.io\/v1beta3"/],
    ['an unknown top-level field', init('tokenTTL: 1h\n'), /unknown field "tokenTTL"/],
    [
      'an unknown nested field',
      init('localAPIEndpoint:\n  advertiseAdress: 10.0.0.1\n'),
      /unknown field "localAPIEndpoint.advertiseAdress"/,
    ],
    [
      'extraArgs as a map (v1beta3 shape)',
      `${init()}apiServer:\n  extraArgs: {audit-log-maxage: "30"}\n`,
      /apiServer.extraArgs: expected a list/,
    ],
    ['a bad token', init().replace(TOKEN, 'ABCDEF.0123456789abcdef'), /bootstrap token is invalid/],
    ['a short certificate key', init().replace(KEY, 'abc'), /certificateKey: Invalid value/],
    ['an unknown kind', `${init()}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfig\n`, /no kind "ClusterConfig"/],
    [
      'local and external etcd',
      `${init()}etcd:\n  local: {dataDir: /var/lib/etcd}\n  external: {endpoints: [https://e:2379]}\n`,
      /mutually exclusive/,
    ],
    [
      'an unknown KubeletConfiguration key',
      `${init()}---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDrvier: systemd\n`,
      /unknown field "cgroupDrvier"/,
    ],
  ])('init refuses %s', (_name, config, message) => {
    const s = sandbox();
    s.put('/c.yaml', config);
    const r = s.run('kubeadm', 'init', '--config', '/c.yaml');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    expect(existsSync(join(s.root, 'etc/kubernetes/admin.conf'))).toBe(false);
  });

  it('init prints the token and certificate key (so redaction is tested) and writes what kubeadm writes', () => {
    const s = sandbox();
    s.put('/c.yaml', init());
    s.put('/etc/kubernetes/manifests/kube-vip.yaml', 'x'); // allowed before init: only the control-plane manifests are checked
    const r = s.run('kubeadm', 'init', '--config', '/c.yaml', '--upload-certs', '--skip-token-print', '--skip-certificate-key-print');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`[bootstrap-token] Using token: ${TOKEN}`);
    expect(r.out).toContain(KEY);
    for (const f of [
      'admin.conf',
      'super-admin.conf',
      'kubelet.conf',
      'manifests/etcd.yaml',
      'pki/ca.key',
      'pki/etcd/healthcheck-client.key',
    ]) {
      expect(existsSync(join(s.root, 'etc/kubernetes', f)), f).toBe(true);
    }
    expect(readDoubleLog(s.log).find((c) => c.tool === 'kubeadm')).toMatchObject({ exit: 0, configMode: 0o600, nodeName: 'cp-1' });
    const again = s.run('kubeadm', 'init', '--config', '/c.yaml');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml/);
  });

  it('join: needs a running control plane, no kubelet.conf, valid discovery', () => {
    const s = sandbox();
    s.put('/i.yaml', init());
    s.put('/j.yaml', join_());
    expect(s.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/connection refused/);
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    expect(s.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/FileAvailable--etc-kubernetes-kubelet.conf/); // same root as the init
    const w = machineOf(s);
    w.put('/j.yaml', join_('', 'sha256:1234'));
    expect(w.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/caCertHashes: Invalid value/);
    w.put('/j.yaml', join_().replace(/ {4}caCertHashes.*\n/, ''));
    expect(w.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/without caCertHashes/);
    w.put('/etc/kubernetes/kubelet.conf', 'x');
    w.put('/j.yaml', join_());
    expect(w.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/FileAvailable--etc-kubernetes-kubelet.conf/);
    expect(
      w.run('kubeadm', 'join', '--config', '/j.yaml', '--ignore-preflight-errors=FileAvailable--etc-kubernetes-kubelet.conf').code,
    ).toBe(0);
  });

  it('control-plane join: shared CA files, or an uploaded kubeadm-certs that has not expired', () => {
    const s = sandbox({ KUBESEED_DOUBLE_CERTS_TTL_MS: '2000' });
    s.put('/i.yaml', init());
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml', '--upload-certs').code).toBe(0);
    const state = join(s.root, '.doubles', 'cluster.json');
    const cp = sandbox({ KUBESEED_DOUBLE_CLUSTER_STATE: state, KUBESEED_DOUBLE_CERTS_TTL_MS: '2000' });
    cp.put('/j.yaml', join_('controlPlane:\n  localAPIEndpoint: {advertiseAddress: 10.0.0.12}\n'));
    expect(cp.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/missing \/etc\/kubernetes\/pki\/ca.crt/);
    cp.put('/j.yaml', join_(`controlPlane:\n  certificateKey: "${KEY}"\n`));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2100);
    expect(cp.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/might have expired/);
    expect(s.run('kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs', '--config', '/i.yaml').code).toBe(0);
    expect(cp.run('kubeadm', 'join', '--config', '/j.yaml').code).toBe(0);
  });

  it('fails the first N calls on request and then succeeds; a failed join leaves kubelet.conf', () => {
    const s = sandbox({ KUBESEED_DOUBLE_FAIL: 'kubeadm init=1' });
    s.put('/i.yaml', init());
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').err).toMatch(/injected failure/);
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    expect(
      readDoubleLog(s.log)
        .filter((c) => c.tool === 'kubeadm')
        .map((c) => c.exit),
    ).toEqual([1, 0]);
  });

  it('join writes the cluster CA from cluster-info to caCertPath and trusts it in kubelet.conf (kubelet.go runKubeletStartJoinPhase)', () => {
    // Any PEM stands for the cluster CA here: the double hands on what init found, as cluster-info does.
    const ca = '-----BEGIN CERTIFICATE-----\nTUlJQ0FURVNU\n-----END CERTIFICATE-----\n';
    const w = machineOf(initialised((s) => s.put('/etc/kubernetes/pki/ca.crt', ca, 0o644)));
    w.put('/j.yaml', join_());
    const r = w.run('kubeadm', 'join', '--config', '/j.yaml');
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(w.root, 'etc/kubernetes/pki/ca.crt'), 'utf8')).toBe(ca);
    const kubeletConf = readFileSync(join(w.root, 'etc/kubernetes/kubelet.conf'), 'utf8');
    expect(kubeletConf).toContain(`certificate-authority-data: ${Buffer.from(ca).toString('base64')}`);
  });

  it('join stops at kubelet-start while a Node of its name reads Ready; reset stops the kubelet and the Node reads Unknown after the grace period', () => {
    const s = initialised();
    s.put('/cni.yaml', 'kind: DaemonSet\nmetadata: {name: cni}\n', 0o644);
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '--server-side', '-f', '/cni.yaml').code).toBe(0);
    const w = machineOf(s);
    /** Runs a double with the grace period `graceMs` (the node controller's, read when the Node is looked at). */
    const withGrace = (box: typeof s, graceMs: number, tool: string, ...args: string[]) =>
      box.runWith({ KUBESEED_DOUBLE_NODE_GRACE_MS: String(graceMs) }, tool, ...args);
    const condition = (graceMs: number) =>
      JSON.parse(withGrace(s, graceMs, 'kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'get', 'node', 'w-1', '-o', 'json').out)
        .status.conditions[0];
    w.put('/j.yaml', join_());
    expect(w.run('kubeadm', 'join', '--config', '/j.yaml').code).toBe(0);
    expect(condition(60_000).status).toBe('True');

    const reset = w.run('kubeadm', 'reset', '-f');
    expect(reset.code).toBe(0);
    expect(reset.out).toContain('[reset] Stopping the kubelet service');
    // Within the grace period the Node still reads Ready, and a join of that name stops at kubelet-start.
    expect(condition(60_000).status).toBe('True');
    const refused = withGrace(w, 60_000, 'kubeadm', 'join', '--config', '/j.yaml');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('a Node with name "w-1" and status "Ready" already exists in the cluster');
    // kubelet-start wrote the CA before it stopped: a retry needs a reset first, as for real (preflight FileAvailable).
    expect(existsSync(join(w.root, 'etc/kubernetes/kubelet.conf'))).toBe(false);
    expect(withGrace(w, 60_000, 'kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/FileAvailable--etc-kubernetes-pki-ca.crt/);
    expect(w.run('kubeadm', 'reset', '-f').code).toBe(0);
    // After the grace period: Unknown, as the node lifecycle controller marks a kubelet that stopped posting, and the join goes on.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    expect(condition(200)).toMatchObject({
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
    });
    const afterGrace = withGrace(w, 200, 'kubeadm', 'join', '--config', '/j.yaml');
    expect(afterGrace.code, afterGrace.err).toBe(0);
    // Joined again, the kubelet runs: Ready however long ago the last reset was.
    expect(condition(200).status).toBe('True');

    // Or the Node is deleted (the coordinator's delete-node step after a reset): within the grace period, the join goes on.
    expect(w.run('kubeadm', 'reset', '-f').code).toBe(0);
    expect(withGrace(w, 60_000, 'kubeadm', 'join', '--config', '/j.yaml').code).toBe(1);
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'delete', 'node', 'w-1').code).toBe(0);
    expect(w.run('kubeadm', 'reset', '-f').code).toBe(0);
    expect(withGrace(w, 60_000, 'kubeadm', 'join', '--config', '/j.yaml').code).toBe(0);
  });

  it('a worker join can fail with its Node registered (KUBESEED_DOUBLE_FAIL "kubeadm join-registered"): the Node stays, and a retry after reset stops at kubelet-start until it is deleted', () => {
    const s = initialised();
    const w = machineOf(s, { KUBESEED_DOUBLE_FAIL: 'kubeadm join-registered=1' });
    w.put('/j.yaml', join_());
    const failed = w.run('kubeadm', 'join', '--config', '/j.yaml');
    expect(failed.code).toBe(1);
    expect(failed.err).toContain('injected failure after the Node "w-1" registered');
    expect(readDoubleLog(w.log).at(-1)).toMatchObject({ tool: 'kubeadm', exit: 1, nodeName: 'w-1', controlPlane: false });
    const reset = w.run('kubeadm', 'reset', '-f');
    expect(reset.code).toBe(0);
    expect(readDoubleLog(w.log).at(-1)).toMatchObject({ tool: 'kubeadm', argv: ['reset', '-f'], exit: 0, nodeName: 'w-1' });
    // The pod network is up, so the Node the failed join left reads Ready.
    s.put('/cni.yaml', 'kind: DaemonSet\nmetadata: {name: cni}\n', 0o644);
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '--server-side', '-f', '/cni.yaml').code).toBe(0);
    expect(w.run('kubeadm', 'join', '--config', '/j.yaml').err).toContain('a Node with name "w-1" and status "Ready" already exists');
    expect(w.run('kubeadm', 'reset', '-f').code).toBe(0);
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'delete', 'node', 'w-1').code).toBe(0);
    expect(w.run('kubeadm', 'join', '--config', '/j.yaml').code).toBe(0);
  });

  it('strict token mode refuses a token the cluster does not know', () => {
    const s = sandbox({ KUBESEED_DOUBLE_STRICT_TOKENS: '1' });
    s.put('/i.yaml', init());
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    const w = machineOf(s, { KUBESEED_DOUBLE_STRICT_TOKENS: '1' });
    w.put('/j.yaml', join_('', HASH, 'zzzzzz.0123456789abcdef'));
    expect(w.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/token id "zzzzzz" is invalid/);
  });
});

describe('kubectl TEST DOUBLE', () => {
  it('needs a kubeconfig and a running API; nodes turn Ready after a CNI apply', () => {
    const s = sandbox();
    expect(s.run('kubectl', 'get', 'nodes', '-o', 'json').err).toMatch(/--kubeconfig/);
    s.put('/i.yaml', init());
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'get', 'nodes').err).toMatch(/no such file/);
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    const ready = () =>
      JSON.parse(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'get', 'nodes', '-o', 'json').out).items[0].status
        .conditions[0].status;
    expect(ready()).toBe('False');
    s.put('/cni.yaml', 'kind: DaemonSet\nmetadata: {name: cni}\n', 0o644);
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '--server-side', '-f', '/cni.yaml').out).toMatch(
      /daemonset\/cni created/,
    );
    expect(ready()).toBe('True');
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'label', 'node', 'nope', 'a=b', '--overwrite').err).toMatch(
      /NotFound/,
    );
    expect(
      s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', '-n', 'kube-flannel', 'rollout', 'restart', 'daemonset/x').code,
    ).toBe(0);
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'exec', 'x').code).toBe(1);
  });
});

/**
 * Issue 17: each upstream behaviour a double reproduces, one by one (the sources are in each
 * double's header and in doubles/bin/lib/*.cjs).
 */
describe('the doubles behave like the real programs', () => {
  const status = (s: ReturnType<typeof sandbox>) => JSON.parse(s.run('kubelet', '--double-status').out);
  const etcdDropin = '[Service]\nExecStart=\nExecStart=/usr/bin/kubelet --config=/etc/kubernetes/kubelet-etcd.yaml\nRestart=always\n';

  it('kubelet package (kubelet.spec): ships manifests/.kubelet-keep and /var/lib/kubelet/.kubelet-keep, which no kubelet runs as a pod', () => {
    const s = sandbox();
    expect(existsSync(join(s.root, 'etc/kubernetes/manifests/.kubelet-keep'))).toBe(true);
    expect(existsSync(join(s.root, 'var/lib/kubelet/.kubelet-keep'))).toBe(true);
    s.put('/etc/kubernetes/kubelet-etcd.yaml', 'staticPodPath: /etc/kubernetes/manifests\n', 0o644);
    s.put('/etc/systemd/system/kubelet.service.d/20-etcd-service-manager.conf', etcdDropin, 0o644);
    expect(s.run('systemctl', 'daemon-reload').code).toBe(0);
    expect(s.run('systemctl', 'start', 'kubelet').code).toBe(0);
    expect(status(s)).toMatchObject({ running: true, staticPodPath: '/etc/kubernetes/manifests', staticPods: [] });
  });

  it('kubeadm join (1.34+ preflight) has no emptiness check on the manifests dir: .kubelet-keep does not stop it', () => {
    const w = machineOf(initialised());
    w.put('/j.yaml', join_());
    const r = w.run('kubeadm', 'join', '--config', '/j.yaml');
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/DirAvailable--etc-kubernetes-manifests/);
  });

  it('the kubelet runs the unit definition loaded at its last (re)start: a later drop-in needs daemon-reload + restart', () => {
    const s = sandbox();
    s.put('/etc/kubernetes/kubelet-etcd.yaml', 'staticPodPath: /etc/kubernetes/manifests\n', 0o644);
    expect(s.run('systemctl', 'daemon-reload').code).toBe(0); // boot: systemd loads the packaged unit + 10-kubeadm.conf
    expect(s.run('systemctl', 'start', 'kubelet').code).toBe(0);
    const boot = status(s);
    expect(boot.argv).toEqual([
      '/usr/bin/kubelet',
      '--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf',
      '--kubeconfig=/etc/kubernetes/kubelet.conf',
      '--config=/var/lib/kubelet/config.yaml',
    ]);
    expect(boot).toMatchObject({ running: false, error: expect.stringMatching(/failed to load kubelet config file/) }); // the crash loop before kubeadm
    s.put('/etc/systemd/system/kubelet.service.d/20-etcd-service-manager.conf', etcdDropin, 0o644);
    s.put('/etc/kubernetes/manifests/etcd.yaml', 'kind: Pod\n', 0o644);
    expect(status(s).argv).toEqual(boot.argv); // written, not loaded
    const restartOnly = s.run('systemctl', 'restart', 'kubelet');
    expect(restartOnly.err).toMatch(/kubelet.service changed on disk. Run 'systemctl daemon-reload' to reload units/);
    expect(status(s).argv).toEqual(boot.argv);
    expect(s.run('systemctl', 'daemon-reload').code).toBe(0);
    expect(status(s).argv).toEqual(boot.argv); // loaded, but the running kubelet keeps its command line
    expect(s.run('systemctl', 'start', 'kubelet').code).toBe(0); // already running: nothing happens
    expect(status(s).argv).toEqual(boot.argv);
    expect(s.run('systemctl', 'restart', 'kubelet').code).toBe(0);
    expect(status(s)).toMatchObject({
      running: true,
      argv: ['/usr/bin/kubelet', '--config=/etc/kubernetes/kubelet-etcd.yaml'],
      staticPods: ['etcd.yaml'],
    });
  });

  it('systemctl: an unknown unit is "not found" (start exit 5, enable exit 1)', () => {
    const s = sandbox();
    const start = s.run('systemctl', 'start', 'etcd');
    expect(start).toMatchObject({ code: 5, err: expect.stringMatching(/Unit etcd.service not found/) });
    expect(s.run('systemctl', 'enable', '--now', 'etcd')).toMatchObject({
      code: 1,
      err: expect.stringMatching(/Unit file etcd.service does not exist/),
    });
    expect(s.run('systemctl', 'enable', 'kubelet').code).toBe(0); // the package's unit
  });

  // kubeadm 1.33+ (kubernetes/kubernetes#129131, #129450, #130045): mount, losetup and cp are mandatory.
  it.each(['mount', 'losetup', 'cp'])('kubeadm preflight refuses a host without %s on PATH (ERROR FileExisting-…)', (program) => {
    const all = ['mount', 'losetup', 'cp', 'conntrack'];
    const s = sandbox();
    const bare = makeTempRoot('ks-double-');
    cleanups.push(bare.cleanup);
    const env = { ...s.env, ...doubleEnv({ root: bare.root, log: s.log, host: { programs: all.filter((p) => p !== program) } }) };
    writeFileSync(join(bare.root, 'i.yaml'), init());
    const r = spawnSync(join(DOUBLES_DIR, 'kubeadm'), ['init', '--config', '/i.yaml'], { env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`[ERROR FileExisting-${program}]: ${program} not found in system path`);
    expect(r.stderr).toMatch(/--ignore-preflight-errors=\.\.\./);
    expect(existsSync(join(bare.root, 'etc/kubernetes/admin.conf'))).toBe(false);
  });

  it('kubeadm preflight: ip, iptables, nsenter, ethtool, tc, socat, ebtables and crictl are not looked up (1.33+); conntrack only below Kubernetes 1.32', () => {
    const s = sandbox({}, { programs: ['mount', 'losetup', 'cp'] });
    s.put('/i.yaml', init());
    const r = s.run('kubeadm', 'init', '--config', '/i.yaml');
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/FileExisting-(ip|iptables|nsenter|ethtool|tc|socat|ebtables|conntrack|crictl)\]/);
    const old = sandbox({}, { programs: ['mount', 'losetup', 'cp'] });
    old.put('/i.yaml', `${init()}kubernetesVersion: v1.31.4\n`);
    expect(old.run('kubeadm', 'init', '--config', '/i.yaml').err).toContain(
      '[ERROR FileExisting-conntrack]: conntrack not found in system path',
    );
  });

  it('kubeadm preflight: ip_forward must be 1 (FileContent--proc-sys-net-ipv4-ip_forward); --ignore-preflight-errors makes it a warning', () => {
    const s = sandbox({}, { ipForward: '0' });
    s.put('/i.yaml', init());
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').err).toContain(
      '[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1',
    );
    const r = s.run('kubeadm', 'init', '--config', '/i.yaml', '--ignore-preflight-errors=FileContent--proc-sys-net-ipv4-ip_forward');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('[WARNING FileContent--proc-sys-net-ipv4-ip_forward]');
  });

  it('swap on: a kubeadm WARNING, and the kubelet refuses to run (init fails at kubelet-check) unless failSwapOn is false', () => {
    const s = sandbox({}, { swap: true });
    s.put('/i.yaml', init());
    const r = s.run('kubeadm', 'init', '--config', '/i.yaml');
    expect(r.err).toContain('[WARNING Swap]: swap is supported for cgroup v2 only');
    expect(r).toMatchObject({ code: 1, err: expect.stringMatching(/\[kubelet-check\] The kubelet is not healthy/) });
    const ok = sandbox({}, { swap: true });
    ok.put('/i.yaml', `${init()}---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailSwapOn: false\n`);
    expect(ok.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    ok.put('/etc/kubernetes/kubelet-etcd.yaml', 'staticPodPath: /etc/kubernetes/manifests\n', 0o644);
    ok.put('/etc/systemd/system/kubelet.service.d/20-etcd-service-manager.conf', etcdDropin, 0o644);
    ok.run('systemctl', 'daemon-reload');
    ok.run('systemctl', 'restart', 'kubelet');
    expect(status(ok)).toMatchObject({ running: false, error: expect.stringMatching(/running with swap on is not supported/) });
  });

  it('kubeadm preflight: the kubelet must be installed (ERROR KubeletVersion)', () => {
    const s = sandbox({}, { installed: ['kubeadm', 'systemctl'] });
    s.put('/i.yaml', init());
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').err).toMatch(
      /\[ERROR KubeletVersion\]: couldn't get kubelet version: .*executable file not found in \$PATH/,
    );
  });

  it('a program that is not installed is not found: ENOENT for the agent, "not found" exit 127 in a shell', async () => {
    const s = sandbox({}, { installed: ['kubectl'] });
    const exec = createNodeExec({ env: s.env });
    expect(await exec.run(['kubeadm', 'version'], { timeoutMs: 10_000 })).toMatchObject({ notFound: true, code: null });
    expect(await exec.run(['crictl', '--version'], { timeoutMs: 10_000 })).toMatchObject({ notFound: true });
    const sh = spawnSync('/bin/sh', ['-c', 'kubeadm version'], { env: s.env, encoding: 'utf8' });
    expect(sh.status).toBe(127);
    expect(sh.stderr).toMatch(/kubeadm: (command )?not found/);
    expect((await exec.run(['kubectl', 'version'], { timeoutMs: 10_000 })).notFound).toBe(false); // installed: the double answers
  });

  it("kubectl --server reaches one member's own API server: refused if none runs there, /readyz failing until it is ready", () => {
    const s = sandbox({ KUBESEED_DOUBLE_APISERVER_READY_MS: '5000' });
    s.put('/i.yaml', init('localAPIEndpoint:\n  advertiseAddress: 10.0.0.11\n'));
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    const ready = (server: string) =>
      s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', '--server', server, 'get', '--raw', '/readyz');
    expect(ready('https://10.0.0.11:6443')).toMatchObject({ code: 0, out: 'ok\n' });
    expect(ready('https://10.0.0.12:6443')).toMatchObject({
      code: 1,
      err: expect.stringMatching(/connection to the server 10.0.0.12:6443 was refused/),
    });
    const cp = sandbox({
      KUBESEED_DOUBLE_APISERVER_READY_MS: '5000',
      KUBESEED_DOUBLE_CLUSTER_STATE: join(s.root, '.doubles', 'cluster.json'),
    });
    for (const f of ['ca.crt', 'ca.key', 'sa.key', 'sa.pub', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'etcd/ca.crt', 'etcd/ca.key'])
      cp.put(`/etc/kubernetes/pki/${f}`, 'x');
    cp.put('/j.yaml', join_('controlPlane:\n  localAPIEndpoint: {advertiseAddress: 10.0.0.12}\n'));
    expect(cp.run('kubeadm', 'join', '--config', '/j.yaml').code).toBe(0);
    expect(ready('https://10.0.0.12:6443')).toMatchObject({ code: 1, err: expect.stringMatching(/InternalError.*readyz check failed/) });
    expect(s.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'get', '--raw', '/readyz').code).toBe(0); // through the LB: another member answers
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5100);
    expect(ready('https://10.0.0.12:6443').code).toBe(0);
  });

  it('kubeadm version -o short prints the bare version (the prepare script reads it)', () => {
    const s = sandbox();
    expect(s.run('kubeadm', 'version', '-o', 'short')).toMatchObject({ code: 0, out: 'v1.37.1\n' });
    expect(JSON.parse(s.run('kubeadm', 'version', '-o', 'json').out).clientVersion.gitVersion).toBe('v1.37.1');
  });

  it('crictl (cri-tools): endpoint from /etc/crictl.yaml; info needs a running containerd', () => {
    const s = sandbox();
    expect(s.run('crictl', '--version').out).toMatch(/^crictl version v\d+\.\d+\.\d+/);
    expect(s.run('crictl', 'info').err).toMatch(/default endpoints.*deprecated[\s\S]*connection refused/);
    s.put('/etc/crictl.yaml', 'runtime-endpoint: unix:///var/run/containerd/containerd.sock\n', 0o644);
    s.put('/usr/lib/systemd/system/containerd.service', '[Service]\nExecStart=/usr/bin/containerd\n', 0o644);
    expect(s.run('crictl', 'info').err).toMatch(/dial unix \/var\/run\/containerd\/containerd.sock: connect: connection refused/);
    expect(s.run('systemctl', 'enable', '--now', 'containerd').code).toBe(0);
    expect(s.run('crictl', 'info')).toMatchObject({ code: 0, out: expect.stringMatching(/RuntimeReady/) });
  });
});
