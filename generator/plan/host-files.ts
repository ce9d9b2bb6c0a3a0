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
  hasProxy,
  type InstallAgentParams,
  KERNEL_MODULES_PATH,
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
  renderSysctlConfig,
  SYSCTL_PATH,
} from '../../templates/index.ts';
import { ETCD_CLIENT_PORT } from '../kubeadm/documents.ts';
import { osProfile } from '../os/index.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { versionsFor } from '../versions.ts';
import { proxySettings } from './proxy.ts';
import { usesKeepalivedLb } from './steps.ts';
import type { ProvisionFile, SystemdUnit } from './types.ts';

export const PREPARE_SCRIPT = '/usr/local/lib/kubeseed/prepare-host.sh';
export const INSTALL_AGENT_SCRIPT = '/usr/local/lib/kubeseed/install-agent.sh';
export const AGENT_UNIT_FILE = `/etc/kubeseed/${AGENT_UNIT_NAME}`;
export const KEEPALIVED_CHECK_SCRIPT = '/etc/keepalived/check-kubeseed-lb.sh';
export const ETCD_KUBELET_CONFIG = '/etc/kubeseed/etcd-kubelet.yaml';

/** The pause image kubeadm of the target minor expects (`kubeadm config images list`; generator/versions.ts). */
export function sandboxImage(spec: ClusterSpec): string {
  return `${spec.mirrors.imageRepository ?? 'registry.k8s.io'}/pause:${versionsFor(spec.kubernetesMinor).pause}`;
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

/** containerd's config goes where the OS profile says (on apt hosts the prepare script moves it into place after the package install). */
function runtimeFiles(spec: ClusterSpec): ProvisionFile[] {
  const os = osProfile(spec);
  const files: ProvisionFile[] = [
    {
      path: os.paths.containerdConfig,
      // SELinux enforcing (Fedora CoreOS): containerd labels containers there.
      content: renderContainerdConfig({ sandboxImage: sandboxImage(spec), enableSelinux: os.selinux }),
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
  const os = osProfile(spec);
  const files: ProvisionFile[] = [];
  const kube = role === 'control-plane' || role === 'worker' || (role === 'etcd' && spec.etcd.mode === 'static-pod');
  if (kube) {
    files.push(
      { path: KERNEL_MODULES_PATH, content: renderKernelModules({ ipvs: spec.kubeProxy.mode === 'ipvs' && role !== 'etcd' }), mode: 0o644 },
      { path: SYSCTL_PATH, content: renderSysctlConfig(), mode: 0o644 },
      ...runtimeFiles(spec),
    );
  }
  if (role === 'load-balancer' && host && usesKeepalivedLb(spec)) files.push(...loadBalancerFiles(spec, host));
  if (role === 'etcd' && host) files.push(...etcdFiles(spec, host));
  const unit = renderAgentUnit({
    agentPath: os.paths.agent,
    configPath: AGENT_CONFIG_PATH,
    ...(os.cloudInit ? {} : { preparedBy: 'ignition' as const }),
  });
  if (!os.cloudInit) {
    // Ignition writes the agent executable and enables the unit; nothing runs from a script.
    return { files, units: [{ name: AGENT_UNIT_NAME, contents: unit, enabled: true, start: true }], commands: [] };
  }
  files.push(
    { path: PREPARE_SCRIPT, content: os.cloudInit.renderPrepareScript(spec, role), mode: 0o755 },
    { path: INSTALL_AGENT_SCRIPT, content: renderInstallAgentScript(installAgentParams(spec)), mode: 0o755 },
    { path: AGENT_UNIT_FILE, content: unit, mode: 0o644 },
  );
  // cloud-init only installs and starts the agent; the agent runs the prepare script as its first
  // step (prepare-host), so a failed preparation is reported, classified and retried (ADR 0018).
  return { files, units: [], commands: [[INSTALL_AGENT_SCRIPT]] };
}

/** What the prepare script installs on a host of this role (for `kubeseed plan`): nothing where Ignition prepares the host or on preinstalled images. */
export function hostPackages(spec: ClusterSpec, role: HostSpec['role']): string[] {
  return osProfile(spec).cloudInit?.packages(spec, role) ?? [];
}

function installAgentParams(spec: ClusterSpec): InstallAgentParams {
  return {
    coordinatorUrl: spec.coordinator.url,
    ...(spec.coordinator.replicaUrls.length > 0 ? { replicaUrls: spec.coordinator.replicaUrls } : {}),
    coordinatorCaFile: '/etc/kubeseed/coordinator-ca.pem',
    ...(spec.mirrors.agent ? { agentBaseUrl: spec.mirrors.agent } : {}),
    unitSourcePath: AGENT_UNIT_FILE,
    proxy: proxySettings(spec),
  };
}
