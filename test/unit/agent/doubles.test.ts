/**
 * The TEST DOUBLES must refuse what real kubeadm/kubectl refuse — otherwise the agent and e2e tests
 * that lean on them prove nothing. Each case runs the double as a process in a temporary root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DOUBLES_DIR, doubleEnv, readDoubleLog } from '../../doubles/index.ts';
import { makeTempRoot } from './support.ts';

const TOKEN = 'abcdef.0123456789abcdef';
const KEY = 'e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204';
const HASH = `sha256:${'ab'.repeat(32)}`;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function sandbox(extra: Record<string, string> = {}) {
  const r = makeTempRoot('ks-double-');
  cleanups.push(r.cleanup);
  const log = join(r.root, 'calls.log');
  const env = { ...doubleEnv({ root: r.root, log }), ...extra };
  const put = (path: string, content: string, mode = 0o600) => {
    const full = join(r.root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content, { mode });
  };
  const run = (tool: string, ...args: string[]) => {
    const res = spawnSync(join(DOUBLES_DIR, tool), args, { env, encoding: 'utf8' });
    return { code: res.status, out: res.stdout, err: res.stderr };
  };
  return { root: r.root, log, put, run, env };
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
    expect(readDoubleLog(s.log)[0]).toMatchObject({ exit: 0, configMode: 0o600, nodeName: 'cp-1' });
    const again = s.run('kubeadm', 'init', '--config', '/c.yaml');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml/);
  });

  it('join: needs a running control plane, an empty manifests dir, no kubelet.conf, valid discovery', () => {
    const s = sandbox();
    s.put('/i.yaml', init());
    s.put('/j.yaml', join_());
    expect(s.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/connection refused/);
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    expect(s.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/DirAvailable--etc-kubernetes-manifests/); // same root as the init
    const w = sandbox({ KUBESEED_DOUBLE_CLUSTER_STATE: join(s.root, '.doubles', 'cluster.json') });
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
    const s = sandbox({ KUBESEED_DOUBLE_CERTS_TTL_MS: '300' });
    s.put('/i.yaml', init());
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml', '--upload-certs').code).toBe(0);
    const state = join(s.root, '.doubles', 'cluster.json');
    const cp = sandbox({ KUBESEED_DOUBLE_CLUSTER_STATE: state, KUBESEED_DOUBLE_CERTS_TTL_MS: '300' });
    cp.put('/j.yaml', join_('controlPlane:\n  localAPIEndpoint: {advertiseAddress: 10.0.0.12}\n'));
    expect(cp.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/missing \/etc\/kubernetes\/pki\/ca.crt/);
    cp.put('/j.yaml', join_(`controlPlane:\n  certificateKey: "${KEY}"\n`));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
    expect(cp.run('kubeadm', 'join', '--config', '/j.yaml').err).toMatch(/might have expired/);
    expect(s.run('kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs', '--config', '/i.yaml').code).toBe(0);
    expect(cp.run('kubeadm', 'join', '--config', '/j.yaml').code).toBe(0);
  });

  it('fails the first N calls on request and then succeeds; a failed join leaves kubelet.conf', () => {
    const s = sandbox({ KUBESEED_DOUBLE_FAIL: 'kubeadm init=1' });
    s.put('/i.yaml', init());
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').err).toMatch(/injected failure/);
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    expect(readDoubleLog(s.log).map((c) => c.exit)).toEqual([1, 0]);
  });

  it('strict token mode refuses a token the cluster does not know', () => {
    const s = sandbox({ KUBESEED_DOUBLE_STRICT_TOKENS: '1' });
    s.put('/i.yaml', init());
    expect(s.run('kubeadm', 'init', '--config', '/i.yaml').code).toBe(0);
    const w = sandbox({ KUBESEED_DOUBLE_STRICT_TOKENS: '1', KUBESEED_DOUBLE_CLUSTER_STATE: join(s.root, '.doubles', 'cluster.json') });
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
