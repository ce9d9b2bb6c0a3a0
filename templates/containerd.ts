/**
 * containerd 2.x files: `/etc/containerd/config.toml` (config `version = 3`: systemd cgroups for
 * runc, the sandbox image pinned so the image GC never removes it, registry hosts looked up under
 * `/etc/containerd/certs.d`), one `hosts.toml` per mirrored registry, the proxy drop-in of
 * containerd's unit, the unit itself for the release-tarball install, and `/etc/crictl.yaml`.
 * Pure; TOML strings are written as basic strings with every required escape.
 */
import { assertPath, assertUrl, joinLines, TemplateInputError } from './text.ts';

export const CONTAINERD_CONFIG_PATH = '/etc/containerd/config.toml';
export const CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';
export const CONTAINERD_SOCKET = 'unix:///run/containerd/containerd.sock';

/** A TOML basic string. JSON escapes are valid TOML escapes; DEL must be escaped too. */
export function tomlString(value: string): string {
  return JSON.stringify(value).replace(/\x7f/g, '\\u007f');
}

export interface ContainerdConfigParams {
  /** The sandbox (pause) image of the target kubeadm, e.g. `registry.k8s.io/pause:3.10.1` (or its mirror). */
  sandboxImage: string;
  /** Where per-registry `hosts.toml` directories live (default `/etc/containerd/certs.d`). */
  registryConfigPath?: string;
  /** SELinux hosts (Fedora CoreOS): containers get the labels Kubernetes asks for (seLinuxOptions), else the policy's defaults. */
  enableSelinux?: boolean;
}

export function renderContainerdConfig(p: ContainerdConfigParams): string {
  if (!/^[a-z0-9][a-z0-9.:/_@-]*$/i.test(p.sandboxImage))
    throw new TemplateInputError(`containerd sandboxImage: '${p.sandboxImage}' is not an image reference`);
  const certs = assertPath(p.registryConfigPath ?? CONTAINERD_CERTS_DIR, 'containerd registryConfigPath');
  return joinLines([
    '# kubeseed: containerd 2.x configuration for kubeadm (config version 3).',
    '# Rendered from the cluster spec; re-provisioning overwrites local changes.',
    'version = 3',
    '',
    "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
    '  # The pause image of the target kubeadm; pinned so that image garbage collection keeps it.',
    `  sandbox = ${tomlString(p.sandboxImage)}`,
    '',
    "[plugins.'io.containerd.cri.v1.images'.registry]",
    '  # Registry mirrors: one <registry>/hosts.toml per mirrored registry below this directory.',
    `  config_path = ${tomlString(certs)}`,
    '',
    ...(p.enableSelinux
      ? [
          "[plugins.'io.containerd.cri.v1.runtime']",
          '  # SELinux enforcing host: label every container (containerd 2.x reads this in the CRI runtime plugin).',
          '  enable_selinux = true',
          '',
        ]
      : []),
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
    "  runtime_type = 'io.containerd.runc.v2'",
    '',
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
    '  # The kubelet uses the systemd cgroup driver (KubeletConfiguration cgroupDriver: systemd); both must agree.',
    '  SystemdCgroup = true',
  ]);
}

/** The upstream endpoint of a registry host as containerd names it (`docker.io` is served by registry-1.docker.io). */
function registryServer(registry: string): string {
  if (registry === 'docker.io') return 'https://registry-1.docker.io';
  return `https://${registry}`;
}

function assertRegistry(registry: string): string {
  if (registry !== '_default' && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i.test(registry)) {
    throw new TemplateInputError(`containerd registry: '${registry}' is not a registry host[:port]`);
  }
  return registry;
}

/** `/etc/containerd/certs.d/<registry>/hosts.toml`. */
export function containerdHostsTomlPath(registry: string, certsDir: string = CONTAINERD_CERTS_DIR): string {
  return `${certsDir}/${assertRegistry(registry)}/hosts.toml`;
}

/**
 * hosts.toml for one registry: mirrors tried in order for pull and resolve, then the registry
 * itself (`server`) when every mirror fails. A mirror without a scheme gets `https://`.
 * `_default` applies to every registry without its own directory (then no `server` line).
 */
export function renderContainerdHostsToml(registry: string, mirrors: readonly string[]): string {
  assertRegistry(registry);
  if (mirrors.length === 0) throw new TemplateInputError(`containerd registry ${registry}: at least one mirror is required`);
  const lines = [`# kubeseed: registry mirrors for ${registry}; rendered from spec.mirrors.registryMirrors.`];
  if (registry !== '_default') lines.push(`server = ${tomlString(registryServer(registry))}`);
  for (const raw of mirrors) {
    const url = assertUrl(raw.includes('://') ? raw : `https://${raw}`, `containerd mirror for ${registry}`);
    lines.push('', `[host.${tomlString(url)}]`, "  capabilities = ['pull', 'resolve']");
    if (namesApiRootInPath(url))
      lines.push('  # The path is the API root as written (containerd would append /v2 otherwise).', '  override_path = true');
  }
  return joinLines(lines);
}

/**
 * Whether a mirror URL spells out its API root below `/v2` (Harbor/zot/Nexus proxy form
 * `https://mirror/v2/<name>`). containerd appends `/v2` to every host path that does not end in
 * `/v2` unless `override_path = true` (core/remotes/docker/config/hosts.go parseHostConfig), which
 * would make that `/v2/<name>/v2`. A path without a `/v2` segment is a prefix under which the
 * registry serves `/v2`, so containerd's default is right there.
 */
function namesApiRootInPath(url: string): boolean {
  const segments = new URL(url).pathname.split('/').filter((s) => s !== '' && s !== '.');
  const v2 = segments.indexOf('v2');
  return v2 >= 0 && v2 < segments.length - 1;
}

export interface ProxySettings {
  http?: string;
  https?: string;
  /** Hosts, domains and CIDRs that bypass the proxy (the plan adds pod/service CIDRs and the endpoint). */
  noProxy?: readonly string[];
}

/** Whether the settings name any proxy (a no-proxy list alone means nothing). */
export function hasProxy(p: ProxySettings | undefined): boolean {
  return Boolean(p && (p.http || p.https));
}

function systemdEnv(name: string, value: string): string {
  // systemd expands `%` specifiers in Environment=; `%%` is a literal percent sign.
  return `Environment="${name}=${value.replace(/%/g, '%%')}"`;
}

export function assertNoProxyEntry(value: string): string {
  if (!/^[A-Za-z0-9.:/*_-]+$/.test(value))
    throw new TemplateInputError(`noProxy entry '${value}' may only hold letters, digits and .:/*_-`);
  return value;
}

/**
 * `/etc/systemd/system/containerd.service.d/http-proxy.conf`: image pulls through the proxy.
 * Both spellings are set: Go reads the upper-case ones, other tools the lower-case ones.
 */
export function renderContainerdProxyDropin(p: ProxySettings, purpose = 'containerd reaches registries'): string {
  if (!hasProxy(p)) throw new TemplateInputError(`proxy drop-in (${purpose}): neither proxy.http nor proxy.https is set`);
  const lines = [`# kubeseed: ${purpose} through the proxy.`, '[Service]'];
  if (p.http) {
    assertUrl(p.http, 'proxy.http');
    lines.push(systemdEnv('HTTP_PROXY', p.http), systemdEnv('http_proxy', p.http));
  }
  if (p.https) {
    assertUrl(p.https, 'proxy.https');
    lines.push(systemdEnv('HTTPS_PROXY', p.https), systemdEnv('https_proxy', p.https));
  }
  const noProxy = (p.noProxy ?? []).map(assertNoProxyEntry).join(',');
  if (noProxy) lines.push(systemdEnv('NO_PROXY', noProxy), systemdEnv('no_proxy', noProxy));
  return joinLines(lines);
}

export interface ContainerdUnitParams {
  /** Default `/usr/local/bin/containerd` (where the release tarball unpacks). */
  binaryPath?: string;
}

/** containerd.service for the release-tarball install (the apt package ships its own). */
export function renderContainerdUnit(p: ContainerdUnitParams = {}): string {
  const bin = assertPath(p.binaryPath ?? '/usr/local/bin/containerd', 'containerd binaryPath');
  return joinLines([
    '# kubeseed: containerd from the upstream release tarball.',
    '[Unit]',
    'Description=containerd container runtime',
    'Documentation=https://containerd.io',
    'After=network.target local-fs.target',
    '',
    '[Service]',
    '# The overlay snapshotter needs the module; "-" tolerates it being built in.',
    'ExecStartPre=-/sbin/modprobe overlay',
    `ExecStart=${bin}`,
    'Type=notify',
    '# Containers live in their own cgroups: stopping containerd must not kill them.',
    'Delegate=yes',
    'KillMode=process',
    'Restart=always',
    'RestartSec=5',
    'LimitNPROC=infinity',
    'LimitCORE=infinity',
    'TasksMax=infinity',
    'OOMScoreAdjust=-999',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ]);
}

/** `/etc/crictl.yaml`: crictl talks to containerd instead of probing deprecated sockets. */
export function renderCrictlConfig(): string {
  return joinLines([
    '# kubeseed: crictl uses containerd.',
    `runtime-endpoint: ${CONTAINERD_SOCKET}`,
    `image-endpoint: ${CONTAINERD_SOCKET}`,
    'timeout: 10',
  ]);
}
