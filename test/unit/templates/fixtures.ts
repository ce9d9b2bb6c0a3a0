/**
 * Representative parameters for every renderer in templates/, shared by the unit tests (key
 * lines, determinism, whitespace) and the validator tests (real haproxy, nginx, keepalived,
 * shellcheck). Each entry renders one variant.
 */
import * as t from '../../../templates/index.ts';

export const BACKENDS: t.LoadBalancerBackend[] = [
  { name: 'k8s1master1', address: '10.101.1.101', port: 6443 },
  { name: 'k8s1master2', address: '10.101.1.102', port: 6443 },
  { name: 'k8s1master3', address: '10.101.1.103', port: 6443 },
];

export const HAPROXY_VARIANTS: Record<string, t.HaproxyConfigParams> = {
  'readyz, syslog': { bindPort: 6443, backends: BACKENDS },
  'tcp check': { bindPort: 6443, backends: BACKENDS, healthCheck: 'tcp' },
  'stdout log (e2e foreground)': { bindPort: 8443, backends: BACKENDS.slice(0, 1), log: 'stdout format raw daemon' },
  'stats socket, bind address, tuned checks': {
    bindPort: 6443,
    bindAddress: '10.101.1.10',
    backends: BACKENDS,
    statsSocket: '/run/haproxy/admin.sock',
    checkInterval: 5,
    checkFall: 2,
    checkRise: 1,
    idleTimeout: '30m',
  },
};

export const NGINX_VARIANTS: Record<string, t.NginxStreamConfigParams> = {
  'debian defaults': { bindPort: 6443, backends: BACKENDS, loadModule: '/usr/lib/nginx/modules/ngx_stream_module.so' },
  'access log, no user, tuned': {
    bindPort: 9443,
    bindAddress: '10.101.1.10',
    backends: BACKENDS.slice(0, 2),
    loadModule: '/usr/lib/nginx/modules/ngx_stream_module.so',
    accessLog: '/var/log/nginx/kube-apiserver.log',
    user: null,
    maxFails: 1,
    failTimeout: 30,
    idleTimeout: '10m',
  },
};

export const KEEPALIVED_VARIANTS: Record<string, t.KeepalivedConfigParams> = {
  'first, FAULT on failure, never preempts': {
    interface: 'eth0',
    vip: '10.101.1.10',
    vipPrefix: 24,
    virtualRouterId: 51,
    priority: 150,
    state: 'BACKUP',
    unicastSrcIp: '10.101.1.11',
    unicastPeers: ['10.101.1.12'],
    authPass: 'k8s1pass',
  },
  'weight, preempt delay, two peers, router id': {
    interface: 'ens18',
    vip: '10.101.1.10',
    vipPrefix: 24,
    virtualRouterId: 200,
    priority: 100,
    state: 'BACKUP',
    unicastSrcIp: '10.101.1.12',
    unicastPeers: ['10.101.1.11', '10.101.1.13'],
    authPass: 'x',
    checkWeight: -60,
    preempt: { delaySeconds: 30 },
    checkInterval: 3,
    checkTimeout: 2,
    checkFall: 3,
    checkRise: 1,
    advertInterval: 2,
    routerId: 'k8s1lb2',
    checkScriptPath: '/usr/local/libexec/kubeseed/check-lb.sh',
  },
};

export const PREPARE_VARIANTS: Record<string, t.PrepareHostParams> = {
  'install, docker apt, defaults': { kubernetesVersion: 'v1.37.0', packagesMode: 'install' },
  'install, ipvs, proxy, chrony, LB packages': {
    kubernetesVersion: 'v1.36.4',
    packagesMode: 'install',
    ipvs: true,
    proxy: {
      http: 'http://proxy.lan:3128',
      https: 'http://proxy.lan:3128',
      noProxy: ['10.101.1.0/24', '100.64.0.0/16', '.svc', 'k8s1api.kloud.lan'],
    },
    timeServers: ['ntp1.kloud.lan', '10.101.1.1'],
    extraPackages: ['haproxy', 'keepalived'],
    enableServices: ['haproxy', 'keepalived'],
  },
  'install, tarball, mirrors': {
    kubernetesVersion: 'v1.37.2',
    packagesMode: 'install',
    kubernetesAptUrl: 'https://mirror.lan/k8s/v1.37/deb/',
    kubernetesAptKeyUrl: 'https://mirror.lan/k8s/v1.37/deb/Release.key',
    containerd: {
      source: 'tarball',
      tarballUrl: 'https://mirror.lan/containerd/containerd-2.1.4-linux-{arch}.tar.gz',
      runcUrl: 'https://mirror.lan/runc/v1.3.0/runc.{arch}',
    },
  },
  'install, docker apt mirror': {
    kubernetesVersion: 'v1.35.1',
    packagesMode: 'install',
    containerd: {
      source: 'docker-apt',
      repoUrl: 'https://mirror.lan/docker/{distro}',
      keyUrl: 'https://mirror.lan/docker/{distro}/gpg',
      versionPrefix: '2.1.',
    },
  },
  preinstalled: { kubernetesVersion: 'v1.37.0', packagesMode: 'preinstalled' },
  'load balancer (no kubelet), proxy': {
    kubernetesVersion: 'v1.37.0',
    packagesMode: 'install',
    kubernetesNode: false,
    proxy: { http: 'http://proxy.lan:3128' },
    extraPackages: ['nginx', 'libnginx-mod-stream', 'keepalived'],
    enableServices: ['nginx', 'keepalived'],
  },
  'etcd binary member': {
    kubernetesVersion: 'v1.37.0',
    packagesMode: 'install',
    kubernetesNode: false,
    etcd: { tarballUrl: t.etcdTarballUrl('v3.6.5') },
    timeServers: ['10.101.1.1'],
  },
  'etcd binary member, preinstalled': {
    kubernetesVersion: 'v1.37.0',
    packagesMode: 'preinstalled',
    kubernetesNode: false,
    etcd: { tarballUrl: t.etcdTarballUrl('v3.6.5', 'https://mirror.lan/etcd/') },
  },
  'preinstalled, proxy, time': {
    kubernetesVersion: 'v1.37.0',
    packagesMode: 'preinstalled',
    proxy: { https: 'http://proxy.lan:3128' },
    timeServers: ['10.101.1.1'],
  },
};

export const INSTALL_AGENT_VARIANTS: Record<string, t.InstallAgentParams> = {
  'from the coordinator': {
    coordinatorUrl: 'https://10.101.1.5:9443/',
    coordinatorCaFile: '/etc/kubeseed/coordinator-ca.crt',
    unitSourcePath: '/etc/kubeseed/kubeseed-agent.service',
  },
  'from a mirror, through a proxy': {
    coordinatorUrl: 'https://10.101.1.5:9443',
    coordinatorCaFile: '/etc/kubeseed/coordinator-ca.crt',
    agentBaseUrl: 'http://mirror.lan/kubeseed/',
    unitSourcePath: '/etc/kubeseed/kubeseed-agent.service',
    proxy: { http: 'http://proxy.lan:3128', https: 'http://proxy.lan:3128', noProxy: ['10.101.1.5'] },
    maxAttempts: 5,
    maxDelaySeconds: 4,
  },
};

/** Every renderer with representative input, for the whole-output properties. */
export function renderAll(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(HAPROXY_VARIANTS)) out[`haproxy: ${k}`] = t.renderHaproxyConfig(v);
  for (const [k, v] of Object.entries(NGINX_VARIANTS)) out[`nginx: ${k}`] = t.renderNginxStreamConfig(v);
  for (const [k, v] of Object.entries(KEEPALIVED_VARIANTS)) out[`keepalived: ${k}`] = t.renderKeepalivedConfig(v);
  out['check script: haproxy'] = t.renderKeepalivedCheckScript({ loadBalancer: 'haproxy', port: 6443 });
  out['check script: nginx'] = t.renderKeepalivedCheckScript({ loadBalancer: 'nginx', port: 8443, address: '10.101.1.10' });
  out.containerd = t.renderContainerdConfig({ sandboxImage: 'registry.k8s.io/pause:3.10.1' });
  out['hosts.toml'] = t.renderContainerdHostsToml('docker.io', ['https://mirror.lan', 'mirror2.lan:5000']);
  out['containerd proxy'] = t.renderContainerdProxyDropin({ http: 'http://p:3128', noProxy: ['10.0.0.0/8'] });
  out['containerd unit'] = t.renderContainerdUnit();
  out.crictl = t.renderCrictlConfig();
  out.modules = t.renderKernelModules({ ipvs: true });
  out.sysctl = t.renderSysctlConfig();
  out.etcd = t.renderEtcdUnit({
    name: 'etcd1',
    ip: '10.101.1.21',
    members: [
      { name: 'etcd1', ip: '10.101.1.21' },
      { name: 'etcd2', ip: '10.101.1.22' },
    ],
    initialClusterToken: 'k8s1-cluster',
  });
  out['etcd kubelet drop-in'] = t.renderEtcdKubeletDropin();
  out['agent unit'] = t.renderAgentUnit({ configPath: '/etc/kubeseed/agent.json' });
  for (const [k, v] of Object.entries(PREPARE_VARIANTS)) out[`prepare: ${k}`] = t.renderPrepareHostScript(v);
  for (const [k, v] of Object.entries(INSTALL_AGENT_VARIANTS)) out[`install agent: ${k}`] = t.renderInstallAgentScript(v);
  return out;
}
