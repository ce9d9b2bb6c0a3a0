/**
 * The host-preparation files of each role, from the text templates in `templates/`: container
 * runtime, kernel settings, load balancer configs, etcd units, the prepare script the agent's
 * prepare-host step runs and the install-agent script user-data runs.
 * This module maps spec values onto each template's small parameter set; templates know nothing
 * of the spec.
 */
import { createHash } from 'node:crypto';
import { AGENT_CONFIG_PATH, AGENT_UNIT_NAME } from '../../protocol/host-paths.ts';
import {
  containerdHostsTomlPath,
  ETCD_KUBELET_DROPIN_PATH,
  etcdTarballUrl,
  hasProxy,
  type InstallAgentParams,
  KERNEL_MODULES_PATH,
  listPrepareHostPackages,
  type PrepareHostParams,
  type ProxySettings,
  renderAgentUnit,
  renderContainerdConfig,
  renderContainerdHostsToml,
  renderContainerdProxyDropin,
  renderCrictlConfig,
  renderEtcdKubeletDropin,
  renderEtcdUnit,
  renderHaproxyConfig,
  renderInstallAgentScript,
  renderKeepalivedCheckScript,
  renderKeepalivedConfig,
  renderKernelModules,
  renderNginxStreamConfig,
  renderPrepareHostScript,
  renderSysctlConfig,
  SYSCTL_PATH,
} from '../../templates/index.ts';
import { ETCD_CLIENT_PORT } from '../kubeadm/documents.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { formatCidr, hostOfUrl, parseCidr } from '../util/ip.ts';
import { containerdVersionOf, versionsFor } from '../versions.ts';
import { usesKeepalivedLb } from './steps.ts';
import type { ProvisionFile, SystemdUnit } from './types.ts';

export const PREPARE_SCRIPT = '/usr/local/lib/kubeseed/prepare-host.sh';
export const INSTALL_AGENT_SCRIPT = '/usr/local/lib/kubeseed/install-agent.sh';
export const AGENT_UNIT_FILE = `/etc/kubeseed/${AGENT_UNIT_NAME}`;
export const KEEPALIVED_CHECK_SCRIPT = '/etc/keepalived/check-kubeseed-lb.sh';
export const ETCD_KUBELET_CONFIG = '/etc/kubeseed/etcd-kubelet.yaml';
export const CONTAINERD_CONFIG_SOURCE = '/etc/kubeseed/containerd-config.toml';

/** The pause image kubeadm of the target minor expects (`kubeadm config images list`; generator/versions.ts). */
export function sandboxImage(spec: ClusterSpec): string {
  return `${spec.mirrors.imageRepository ?? 'registry.k8s.io'}/pause:${versionsFor(spec.kubernetesMinor).pause}`;
}

/**
 * no_proxy gets the cluster's own ranges and the endpoint, or cluster traffic would go through the
 * proxy. Host subnets are listed as CIDRs (Go honours them, curl only since 7.86), not host by host:
 * one entry per subnet keeps every user-data small whatever the fleet size. What first boot fetches
 * with curl — the coordinator and the agent mirror — is named literally, because Ubuntu 22.04's curl
 * 7.81 ignores CIDR entries (install-agent.sh also passes --noproxy for the coordinator); so are the
 * endpoint and the VIP.
 */
export function noProxyList(spec: ClusterSpec): string[] {
  const hostNets = spec.hosts.flatMap((h) => (h.address ? [formatCidr(parseCidr(h.address.cidr)!)] : []));
  const fetchedFrom = [spec.coordinator.url, spec.mirrors.agent].flatMap((u) => (u ? [hostOfUrl(u).host] : []));
  return [
    ...new Set([
      'localhost',
      '127.0.0.1',
      spec.networking.podSubnet,
      spec.networking.serviceSubnet,
      spec.controlPlaneEndpoint.host,
      ...(spec.loadBalancer.vip ? [spec.loadBalancer.vip] : []),
      ...fetchedFrom,
      `.${spec.networking.dnsDomain}`,
      '.svc',
      ...hostNets,
      ...spec.proxy.noProxy,
    ]),
  ];
}

function controlPlaneBackends(spec: ClusterSpec) {
  return spec.hosts.filter((h) => h.role === 'control-plane').map((h) => ({ name: h.name, address: h.address!.ip, port: 6443 }));
}

/** VRRP PASS authentication is sent in clear on the wire: it only separates clusters, so it is derived, not secret. */
function vrrpAuthPass(spec: ClusterSpec): string {
  return createHash('sha256').update(`${spec.name}/${spec.loadBalancer.virtualRouterId}`).digest('hex').slice(0, 8);
}

function loadBalancerFiles(spec: ClusterSpec, host: HostSpec): ProvisionFile[] {
  const files: ProvisionFile[] = [];
  const lbs = spec.hosts.filter((h) => h.role === 'load-balancer');
  const port = spec.controlPlaneEndpoint.port;
  const nginx = spec.loadBalancer.type === 'nginx-keepalived';
  if (nginx) {
    files.push({
      path: '/etc/nginx/nginx.conf',
      content: renderNginxStreamConfig({
        bindPort: port,
        backends: controlPlaneBackends(spec),
        loadModule: '/usr/lib/nginx/modules/ngx_stream_module.so',
      }),
      mode: 0o644,
    });
  } else {
    files.push({
      path: '/etc/haproxy/haproxy.cfg',
      content: renderHaproxyConfig({ bindPort: port, backends: controlPlaneBackends(spec), healthCheck: 'readyz' }),
      mode: 0o644,
    });
  }
  if (lbs.length >= 2 && spec.loadBalancer.vip) {
    const index = lbs.indexOf(host);
    const subnetPrefix = host.address!.prefix;
    files.push(
      {
        path: KEEPALIVED_CHECK_SCRIPT,
        content: renderKeepalivedCheckScript({ loadBalancer: nginx ? 'nginx' : 'haproxy', port }),
        mode: 0o755,
      },
      {
        path: '/etc/keepalived/keepalived.conf',
        content: renderKeepalivedConfig({
          interface: host.interface,
          vip: spec.loadBalancer.vip,
          vipPrefix: subnetPrefix,
          virtualRouterId: spec.loadBalancer.virtualRouterId,
          // All BACKUP with nopreempt (templates/keepalived.ts): the first LB host wins a simultaneous start by priority,
          // and a recovered host never takes the VIP back from a working one.
          priority: 150 - index * 10,
          state: 'BACKUP',
          unicastSrcIp: host.address!.ip,
          unicastPeers: lbs.filter((h) => h !== host).map((h) => h.address!.ip),
          authPass: vrrpAuthPass(spec),
          checkScriptPath: KEEPALIVED_CHECK_SCRIPT,
          routerId: host.name,
        }),
        mode: 0o644,
      },
    );
  }
  return files;
}

function etcdFiles(spec: ClusterSpec, host: HostSpec): ProvisionFile[] {
  const members = spec.hosts.filter((h) => h.role === 'etcd').map((h) => ({ name: h.name, ip: h.address!.ip }));
  if (spec.etcd.mode === 'binary') {
    return [
      {
        path: '/etc/systemd/system/etcd.service',
        content: renderEtcdUnit({
          name: host.name,
          ip: host.address!.ip,
          members,
          initialClusterToken: `${spec.name}-etcd`,
          clientPort: ETCD_CLIENT_PORT,
        }),
        mode: 0o644,
      },
    ];
  }
  return [{ path: ETCD_KUBELET_DROPIN_PATH, content: renderEtcdKubeletDropin({ kubeletConfigPath: ETCD_KUBELET_CONFIG }), mode: 0o644 }];
}

/** `configPath`: on apt hosts the prepare script moves the config into place after the package install (which ships its own). */
function runtimeFiles(spec: ClusterSpec, configPath: string): ProvisionFile[] {
  const files: ProvisionFile[] = [
    {
      path: configPath,
      // Fedora CoreOS runs SELinux enforcing: containerd labels containers there.
      content: renderContainerdConfig({ sandboxImage: sandboxImage(spec), enableSelinux: spec.os.family === 'fedora-coreos' }),
      mode: 0o644,
    },
    { path: '/etc/crictl.yaml', content: renderCrictlConfig(), mode: 0o644 },
  ];
  for (const [registry, mirrors] of Object.entries(spec.mirrors.registryMirrors)) {
    files.push({ path: containerdHostsTomlPath(registry), content: renderContainerdHostsToml(registry, mirrors), mode: 0o644 });
  }
  const proxy = proxySettings(spec);
  if (hasProxy(proxy))
    files.push({
      path: '/etc/systemd/system/containerd.service.d/http-proxy.conf',
      content: renderContainerdProxyDropin(proxy),
      mode: 0o644,
    });
  return files;
}

export interface HostTemplateFiles {
  files: ProvisionFile[];
  units: SystemdUnit[];
  commands: string[][];
}

/** Flatcar and Fedora CoreOS: read-only /usr, no apt; Ignition fetches the agent; sysext images (Flatcar) or rpm-ostree layering (Fedora CoreOS) bring kubeadm. */
export function isCoreOsFamily(spec: ClusterSpec): boolean {
  return spec.os.family === 'flatcar' || spec.os.family === 'fedora-coreos';
}

/** Where the agent executable lives: /usr is read-only on the CoreOS families. */
export function agentPath(spec: ClusterSpec): string {
  return isCoreOsFamily(spec) ? '/opt/bin/kubeseed-agent' : '/usr/local/bin/kubeseed-agent';
}

/**
 * Control planes and workers (and the fleet's generic machine) get files that depend on the spec and
 * the role only: rendered once per spec and role, then shared. Hosts of a 1,000-host fleet then also
 * share the very strings, which the renderers' caches of serialised items key on.
 */
const sharedTemplateFiles = new WeakMap<ClusterSpec, Map<string, HostTemplateFiles>>();

/** `host` null = the generic fleet machine: it prepares like a worker until enrollment tells it its role. */
export function hostTemplateFiles(spec: ClusterSpec, host: HostSpec | null): HostTemplateFiles {
  const role = host?.role ?? 'worker';
  if (role !== 'control-plane' && role !== 'worker') return renderHostTemplateFiles(spec, role, host);
  let byRole = sharedTemplateFiles.get(spec);
  if (!byRole) {
    byRole = new Map();
    sharedTemplateFiles.set(spec, byRole);
  }
  let t = byRole.get(role);
  if (!t) {
    t = renderHostTemplateFiles(spec, role, null); // no host: nothing host-specific can slip in
    byRole.set(role, t);
  }
  // Fresh lists for each host; the file, unit and command entries themselves are never edited.
  return { files: [...t.files], units: [...t.units], commands: t.commands.map((c) => [...c]) };
}

function renderHostTemplateFiles(spec: ClusterSpec, role: HostSpec['role'], host: HostSpec | null): HostTemplateFiles {
  const coreos = isCoreOsFamily(spec);
  const files: ProvisionFile[] = [];
  const kube = role === 'control-plane' || role === 'worker' || (role === 'etcd' && spec.etcd.mode === 'static-pod');
  if (kube) {
    files.push(
      { path: KERNEL_MODULES_PATH, content: renderKernelModules({ ipvs: spec.kubeProxy.mode === 'ipvs' && role !== 'etcd' }), mode: 0o644 },
      { path: SYSCTL_PATH, content: renderSysctlConfig(), mode: 0o644 },
      ...runtimeFiles(spec, coreos ? '/etc/containerd/config.toml' : CONTAINERD_CONFIG_SOURCE),
    );
  }
  if (role === 'load-balancer' && host && usesKeepalivedLb(spec)) files.push(...loadBalancerFiles(spec, host));
  if (role === 'etcd' && host) files.push(...etcdFiles(spec, host));
  const unit = renderAgentUnit({
    agentPath: agentPath(spec),
    configPath: AGENT_CONFIG_PATH,
    ...(coreos ? { preparedBy: 'ignition' as const } : {}),
  });
  if (coreos) {
    // Ignition writes the agent executable and enables the unit; nothing runs from a script.
    return { files, units: [{ name: AGENT_UNIT_NAME, contents: unit, enabled: true, start: true }], commands: [] };
  }
  files.push(
    { path: PREPARE_SCRIPT, content: renderPrepareHostScript(prepareParams(spec, role)), mode: 0o755 },
    { path: INSTALL_AGENT_SCRIPT, content: renderInstallAgentScript(installAgentParams(spec)), mode: 0o755 },
    { path: AGENT_UNIT_FILE, content: unit, mode: 0o644 },
  );
  // cloud-init only installs and starts the agent; the agent runs the prepare script as its first
  // step (prepare-host), so a failed preparation is reported, classified and retried (ADR 0018).
  return { files, units: [], commands: [[INSTALL_AGENT_SCRIPT]] };
}

const proxyCache = new WeakMap<ClusterSpec, ProxySettings>();

/** The same for every host of a spec: computed once. Empty when the spec sets no proxy. */
function proxySettings(spec: ClusterSpec): ProxySettings {
  let p = proxyCache.get(spec);
  if (!p) {
    p =
      spec.proxy.http || spec.proxy.https
        ? {
            ...(spec.proxy.http ? { http: spec.proxy.http } : {}),
            ...(spec.proxy.https ? { https: spec.proxy.https } : {}),
            noProxy: noProxyList(spec),
          }
        : {};
    proxyCache.set(spec, p);
  }
  return p;
}

/** What the prepare script installs on a host of this role (for `kubeseed plan`): nothing on CoreOS families or preinstalled images. */
export function hostPackages(spec: ClusterSpec, role: HostSpec['role']): string[] {
  return isCoreOsFamily(spec) ? [] : listPrepareHostPackages(prepareParams(spec, role));
}

function prepareParams(spec: ClusterSpec, role: HostSpec['role']): PrepareHostParams {
  const extra: string[] = [];
  const services: string[] = [];
  if (role === 'load-balancer') {
    const nginx = spec.loadBalancer.type === 'nginx-keepalived';
    // `nginx` with the stream module package: nginx-light is gone from Debian 13.
    extra.push(...(nginx ? ['nginx', 'libnginx-mod-stream'] : ['haproxy']));
    services.push(nginx ? 'nginx' : 'haproxy');
    if (spec.hosts.filter((h) => h.role === 'load-balancer').length >= 2) {
      extra.push('keepalived');
      services.push('keepalived');
    }
  }
  // One containerd version (generator/versions.ts): a tarball mirror's `{version}`; Docker's repository
  // is pinned only to a version the spec names (it keeps its own newest 2.x otherwise).
  const containerdMirror = spec.mirrors.containerd?.replaceAll('{version}', containerdVersionOf(spec));
  const containerd: PrepareHostParams['containerd'] = containerdMirror?.endsWith('.tar.gz')
    ? { source: 'tarball', tarballUrl: containerdMirror, runcUrl: containerdMirror.replace(/[^/]*$/, 'runc.{arch}') }
    : {
        source: 'docker-apt',
        ...(containerdMirror ? { repoUrl: containerdMirror } : {}),
        ...(spec.mirrors.containerdKey ? { keyUrl: spec.mirrors.containerdKey } : {}),
        ...(spec.os.containerdVersion ? { versionPrefix: `${spec.os.containerdVersion}-` } : {}),
      };
  const binaryEtcd = role === 'etcd' && spec.etcd.mode === 'binary';
  return {
    kubernetesVersion: spec.kubernetesVersion,
    packagesMode: spec.os.packages,
    // Load balancers and binary etcd members run no kubelet: no containerd, kubeadm or kernel settings.
    kubernetesNode: role !== 'load-balancer' && !binaryEtcd,
    ...(binaryEtcd ? { etcd: { tarballUrl: etcdTarballUrl(spec.etcd.version, spec.mirrors.etcd) } } : {}),
    ...(spec.mirrors.kubernetesApt ? { kubernetesAptUrl: spec.mirrors.kubernetesApt } : {}),
    ...(spec.mirrors.kubernetesAptKey ? { kubernetesAptKeyUrl: spec.mirrors.kubernetesAptKey } : {}),
    containerd,
    extraPackages: extra,
    ipvs: spec.kubeProxy.mode === 'ipvs' && (role === 'control-plane' || role === 'worker'),
    proxy: proxySettings(spec),
    timeServers: spec.os.timeServers,
    containerdConfigSource: CONTAINERD_CONFIG_SOURCE,
    enableServices: services,
  };
}

function installAgentParams(spec: ClusterSpec): InstallAgentParams {
  return {
    coordinatorUrl: spec.coordinator.url,
    coordinatorCaFile: '/etc/kubeseed/coordinator-ca.pem',
    ...(spec.mirrors.agent ? { agentBaseUrl: spec.mirrors.agent } : {}),
    unitSourcePath: AGENT_UNIT_FILE,
    proxy: proxySettings(spec),
  };
}
