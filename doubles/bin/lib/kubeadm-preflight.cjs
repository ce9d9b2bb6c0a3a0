/**
 * kubeadm's preflight checks as the kubeadm TEST DOUBLE runs them on a host below the test root,
 * with kubeadm's check names and messages. Source: kubernetes/kubernetes, cmd/kubeadm/app/preflight/
 * checks.go (InitNodeChecks, JoinNodeChecks, addCommonChecks, RunChecks) and checks_linux.go
 * (addExecChecks, addIPv4Checks, addSwapCheck), and cmd/kubeadm/app/cmd/phases/join/preflight.go
 * (a control-plane join runs the join checks, then the init checks as a "secondary control plane"),
 * as of kubeadm 1.34–1.37:
 *   - init and join: `mount`, `losetup` and `cp` must be on PATH (ERROR FileExisting-<name>), as in
 *     kubeadm 1.33 and newer: #129131 removed the `ip`, `iptables`, `ethtool` and `tc` checks,
 *     #129450 removed `nsenter` and added `losetup` ("required by kubelet"), #130045 added `cp`
 *     ("copying etcd directories"); #127151 had removed `socat` and `ebtables`. `conntrack` is
 *     required only when the configured kubernetesVersion is below 1.32 (#126953; never for join,
 *     which passes no version); crictl is not looked up (#126596). Not reproduced: #130045's lookup
 *     of the init system's own tools;
 *   - swap on is a WARNING (Swap) — it is the kubelet that refuses to start with it;
 *   - `kubelet --version` must run (ERROR KubeletVersion) and, for init, not be newer than the
 *     control plane; kubelet.service must exist / be enabled (WARNING Service-Kubelet);
 *   - init: no control-plane static pod manifest may exist (FileAvailable--etc-kubernetes-manifests-*.yaml),
 *     /proc/sys/net/ipv4/ip_forward must read 1 (FileContent--proc-sys-net-ipv4-ip_forward) for an
 *     IPv4 cluster, the local etcd data dir must be empty (DirAvailable--var-lib-etcd), an external
 *     etcd's client files must exist (ExternalEtcdClientCertificates);
 *   - join: no kubelet.conf / bootstrap-kubelet.conf (FileAvailable--…), a worker no pki/ca.crt,
 *     ip_forward when the discovery endpoint is an IPv4 address; a control-plane join also the
 *     manifest and etcd data dir checks of init. The manifests directory itself is NOT checked for
 *     emptiness (the DirAvailable--etc-kubernetes-manifests check of old releases is gone; it
 *     counted hidden files like the kubelet package's .kubelet-keep).
 *   - `--ignore-preflight-errors` turns the named checks (case-insensitive, or `all`) into warnings.
 * Not reproduced: port checks (unit tests share one network namespace), CPU/memory, SystemVerification,
 * Hostname, HTTPProxy, the CRI socket check, image pulls.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const c = require('./common.cjs');
const sd = require('./systemd.cjs');

const MANIFESTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'];
const label = (kind, path) => `${kind}-${path.replace(/\//g, '-')}`;

function minor(version) {
  const m = /^v?(\d+)\.(\d+)/.exec(version || '');
  return m ? Number(m[1]) * 1000 + Number(m[2]) : null;
}

function execChecks(k8sVersion) {
  const checks = [];
  const v = minor(k8sVersion);
  if (v !== null && v < 1032) checks.push(['conntrack', true]);
  for (const exe of ['losetup', 'mount', 'cp']) checks.push([exe, true]);
  return checks.map(([exe, mandatory]) => ({
    name: `FileExisting-${exe}`,
    check: () => (c.lookPath(exe) ? null : { [mandatory ? 'error' : 'warning']: `${exe} not found in system path` }),
  }));
}

function kubeletVersion() {
  const file = c.lookPath('kubelet');
  if (!file) return { error: "couldn't get kubelet version: cannot execute 'kubelet --version': executable file not found in $PATH" };
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', env: process.env });
  const m = /Kubernetes (v\d+\.\d+\.\d+\S*)/.exec(r.stdout || '');
  if (r.status !== 0 || !m) return { error: `couldn't get kubelet version: ${(r.stderr || r.stdout || '').trim()}` };
  return { version: m[1] };
}

function commonChecks(k8sVersion) {
  return [
    {
      name: 'Swap',
      check: () => {
        const swaps = c.readHostFile('/proc/swaps');
        return swaps !== null && swaps.split('\n').filter((l) => l.trim()).length > 1
          ? {
              warning:
                'swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap. Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on the node',
            }
          : null;
      },
    },
    ...execChecks(k8sVersion),
    {
      name: 'KubeletVersion',
      check: () => {
        const k = kubeletVersion();
        if (k.error) return { error: k.error };
        const want = minor(k8sVersion);
        if (want !== null && minor(k.version) > want)
          return {
            error: `the kubelet version is higher than the control plane version. This is not a supported version skew and may lead to a malfunctional cluster. Kubelet version: "${k.version.replace(/^v/, '')}" Control plane version: "${k8sVersion.replace(/^v/, '')}"`,
          };
        return null;
      },
    },
    {
      name: 'Service-Kubelet',
      check: () => {
        if (!sd.diskDefinition('kubelet')) return { warning: 'kubelet service does not exist' };
        const st = sd.readState();
        return st.enabled.includes('kubelet')
          ? null
          : { warning: "kubelet service is not enabled, please run 'systemctl enable kubelet.service'" };
      },
    },
  ];
}

const fileAvailable = (path) => ({
  name: label('FileAvailable', path),
  check: () => (c.hostExists(path) ? { error: `${path} already exists` } : null),
});

const ipv4Forward = {
  name: 'FileContent--proc-sys-net-ipv4-ip_forward',
  check: () => {
    const text = c.readHostFile('/proc/sys/net/ipv4/ip_forward');
    if (text === null) return { error: '/proc/sys/net/ipv4/ip_forward does not exist' };
    return text.startsWith('1') ? null : { error: '/proc/sys/net/ipv4/ip_forward contents are not set to 1' };
  },
};

const dirAvailable = (path) => ({
  name: label('DirAvailable', path),
  check: () => (c.hostList(path).length > 0 ? { error: `${path} is not empty` } : null),
});

function isIPv4(s) {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s || '');
}

/** `kubeadm init` (secondary = the init checks a control-plane join runs). */
function initChecks({ cluster = {}, init = {}, secondary = false, downloadCerts = false }) {
  const checks = MANIFESTS.map((m) => fileAvailable(`/etc/kubernetes/manifests/${m}.yaml`));
  if (!secondary) {
    checks.push(...commonChecks(cluster.kubernetesVersion));
    const cidrs = [cluster.networking?.serviceSubnet || '10.96.0.0/12', ...(cluster.networking?.podSubnet || '').split(',')];
    const v4 = cidrs.some((x) => isIPv4(x.split('/')[0])) || isIPv4(init.localAPIEndpoint?.advertiseAddress);
    if (v4) checks.push(ipv4Forward);
  }
  const etcd = cluster.etcd || {};
  if (!etcd.external) checks.push(dirAvailable(etcd.local?.dataDir || '/var/lib/etcd'));
  if (etcd.external && !(secondary && downloadCerts)) {
    for (const f of [etcd.external.caFile, etcd.external.certFile, etcd.external.keyFile].filter(Boolean))
      checks.push({ name: 'ExternalEtcdClientCertificates', check: () => (c.hostExists(f) ? null : { error: `${f} doesn't exist` }) });
  }
  return checks;
}

/** `kubeadm join` (the general join checks; a control plane adds initChecks({ secondary: true })). */
function joinChecks(join) {
  const checks = [
    fileAvailable('/etc/kubernetes/kubelet.conf'),
    fileAvailable('/etc/kubernetes/bootstrap-kubelet.conf'),
    ...commonChecks(''),
  ];
  if (!join.controlPlane) checks.push(fileAvailable(join.caCertPath || '/etc/kubernetes/pki/ca.crt'));
  const endpoint = join.discovery?.bootstrapToken?.apiServerEndpoint || '';
  if (isIPv4(endpoint.replace(/:\d+$/, ''))) checks.push(ipv4Forward);
  return checks;
}

/** Runs checks like RunChecks: warnings printed, errors collected; returns the fatal text or null. */
function runChecks(checks, ignored, warn) {
  const isIgnored = (name) => ignored.includes('all') || ignored.includes(name.toLowerCase());
  const errors = [];
  for (const { name, check } of checks) {
    const r = check();
    if (!r) continue;
    if (r.warning || (r.error && isIgnored(name))) warn(`\t[WARNING ${name}]: ${r.warning || r.error}`);
    else if (r.error) errors.push(`\t[ERROR ${name}]: ${r.error}`);
  }
  if (errors.length === 0) return null;
  return `error execution phase preflight: [preflight] Some fatal errors occurred:\n${errors.join('\n')}\n[preflight] If you know what you are doing, you can make a check non-fatal with \`--ignore-preflight-errors=...\``;
}

module.exports = { initChecks, joinChecks, runChecks };
