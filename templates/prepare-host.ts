// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash, where ${…} is shell expansion
/**
 * The bash script that prepares Ubuntu 22.04/24.04 and Debian 12/13 for kubeadm at first boot:
 * swap off, kernel modules and sysctls, proxy settings for apt and containerd, containerd 2.x
 * (Docker's `containerd.io` apt package or the upstream tarball + runc), kubeadm/kubelet/kubectl
 * from the pkgs.k8s.io repository of the target minor pinned to its patch and held, the node
 * tools no package pulls in (`nodeToolPackages`), extra packages, time servers, and finally
 * containerd's config put into place and the services enabled. Idempotent: every section checks before it acts, so a second run changes nothing.
 * Parameters are plain data and never secrets (the script lands in user-data). Pure.
 *
 * Files the caller writes before running it (user-data `write_files`): the containerd config at
 * `containerdConfigSource`, `/etc/modules-load.d/kubeseed.conf`, `/etc/sysctl.d/99-kubeseed.conf`,
 * `/etc/crictl.yaml`, registry `hosts.toml` files. The script only moves the containerd config
 * into place (a package install may have replaced it) and applies the others.
 *
 * What it installs (or, on a preinstalled image, checks) is in `prepare-host-install.ts`, the apt
 * repositories and Kubernetes packages of a node in `prepare-host-apt.ts`.
 */
import { assertNoProxyEntry, hasProxy, type ProxySettings, renderContainerdProxyDropin } from './containerd.ts';
import { extraPackagesOf, nodeToolPackages } from './host-packages.ts';
import { KUBERNETES_SYSCTLS, listKernelModules } from './kernel.ts';
import { APT_GET_LINES, APT_QUERY_LINES, packageLines } from './prepare-host-install.ts';
import {
  assertName,
  assertPath,
  assertUrl,
  ereEscape,
  heredocLines,
  joinLines,
  parseKubernetesVersion,
  shArray,
  shQuote,
  TemplateInputError,
} from './text.ts';

/** containerd from Docker's apt repository (package `containerd.io`). */
export interface ContainerdDockerApt {
  source: 'docker-apt';
  /** Repository base; `{distro}` becomes `ubuntu` or `debian` on the host. Default `https://download.docker.com/linux/{distro}`. */
  repoUrl?: string;
  /** ASCII-armored key; `{distro}` as above. Default `<repoUrl>/gpg`. */
  keyUrl?: string;
  /** Package version prefix to pin (default `2.`: the newest containerd 2.x in the repository; `2.3.4-`: exactly 2.3.4). */
  versionPrefix?: string;
}

/** containerd from the upstream release tarball plus runc. `{arch}` becomes `amd64` or `arm64` on the host. */
export interface ContainerdTarball {
  source: 'tarball';
  /** e.g. `https://github.com/containerd/containerd/releases/download/v2.1.4/containerd-2.1.4-linux-{arch}.tar.gz` */
  tarballUrl: string;
  /** e.g. `https://github.com/opencontainers/runc/releases/download/v1.3.0/runc.{arch}` */
  runcUrl: string;
}

export interface PrepareHostParams {
  /** `v1.37.0`: selects the repository of the minor and pins the patch. */
  kubernetesVersion: string;
  /** `preinstalled` (an image that already carries containerd, runc, kubeadm, kubelet, kubectl): installs nothing, checks the binaries. */
  packagesMode: 'install' | 'preinstalled';
  /** pkgs.k8s.io repository of the minor (default `https://pkgs.k8s.io/core:/stable:/v1.MINOR/deb/`) or a mirror of it. */
  kubernetesAptUrl?: string;
  /** Its ASCII-armored key (default `<kubernetesAptUrl>Release.key`). */
  kubernetesAptKeyUrl?: string;
  /** Default: Docker's apt repository. */
  containerd?: ContainerdDockerApt | ContainerdTarball;
  /** More apt packages (haproxy, keepalived, nginx-light, ipset, …); installed only in `install` mode. */
  extraPackages?: readonly string[];
  /** kube-proxy `ipvs`: loads the IPVS modules too and installs ipset and ipvsadm. */
  ipvs?: boolean;
  /** Proxy for apt, containerd and this script's downloads. */
  proxy?: ProxySettings;
  /** chrony servers; empty or omitted keeps the image's time configuration. */
  timeServers?: readonly string[];
  /** Where user-data put the containerd config (default `/etc/kubeseed/containerd-config.toml`). */
  containerdConfigSource?: string;
  /** Units to enable and (re)start at the end, after containerd (e.g. haproxy, keepalived). */
  enableServices?: readonly string[];
  /**
   * false for hosts that run no kubelet (load balancers, `etcd.mode: binary` members): no swap,
   * module, sysctl, containerd or kubeadm work; only proxy, packages, time servers, services.
   * Default true.
   */
  kubernetesNode?: boolean;
  /** Upstream etcd (`etcd.mode: binary`): etcd, etcdctl, etcdutl into /usr/local/bin (not started: the agent starts the members together). */
  etcd?: EtcdTarball;
}

/** The upstream etcd release tarball. `{arch}` becomes `amd64` or `arm64` on the host. */
export interface EtcdTarball {
  /** e.g. `https://github.com/etcd-io/etcd/releases/download/v3.6.5/etcd-v3.6.5-linux-{arch}.tar.gz` (see `etcdTarballUrl`). */
  tarballUrl: string;
}

/** The upstream release URL of an etcd version (`v3.6.5`), or a mirror base holding the same file names. */
export function etcdTarballUrl(version: string, mirrorBase = 'https://github.com/etcd-io/etcd/releases/download'): string {
  if (!/^v\d+\.\d+\.\d+$/.test(version)) throw new TemplateInputError(`etcd version: '${version}' is not vMAJOR.MINOR.PATCH`);
  return `${mirrorBase.replace(/\/+$/, '')}/${version}/etcd-${version}-linux-{arch}.tar.gz`;
}

/** say, fail, fail_because, download_failure: how kubeseed's host scripts talk and name a failure's reason. */
export const SCRIPT_HELPER_LINES: readonly string[] = [
  'say() { echo "kubeseed-prepare: $*"; }',
  '# The agent classifies a failure from the output (agent/steps/prepare-failure.ts); where this script',
  '# knows the reason, it names it: "kubeseed-prepare: ERROR: <reason>: <message>".',
  'fail() { echo "kubeseed-prepare: ERROR: $*" >&2; exit 1; }',
  'fail_because() { local reason=$1; shift; fail "$reason: $*"; }',
  '# download_failure RC: the reason for a failed curl exit code (resolve, connect, timeout: unreachable).',
  'download_failure() { case "$1" in 5|6|7|28|35|56) echo repository-unreachable ;; *) echo download-failed ;; esac; }',
];

/** fetch URL OUT: curl with retries; proxies come from the environment. */
export const FETCH_LINES: readonly string[] = [
  '# Downloads with a few retries; the coordinator retries the whole step with backoff (prepare-host).',
  '# Proxies come from the environment.',
  'fetch() {',
  '    curl --fail --silent --show-error --location --retry 3 --retry-delay 2 --retry-connrefused --connect-timeout 10 --max-time 300 -o "$2" "$1"',
  '}',
];

/** The proxy for this script's own downloads (curl reads these variables). */
export function proxyEnvLines(proxy: ProxySettings, noProxyEntries: readonly string[]): string[] {
  const noProxy = noProxyEntries.join(',');
  return [
    ...(proxy.http ? [`export http_proxy=${shQuote(proxy.http)} HTTP_PROXY=${shQuote(proxy.http)}`] : []),
    ...(proxy.https ? [`export https_proxy=${shQuote(proxy.https)} HTTPS_PROXY=${shQuote(proxy.https)}`] : []),
    ...(noProxy ? [`export no_proxy=${shQuote(noProxy)} NO_PROXY=${shQuote(noProxy)}`] : []),
  ];
}

/** pkgs.k8s.io's repository of the version's minor (or the mirror given) and its key. */
export function kubernetesAptUrls(p: { kubernetesVersion: string; kubernetesAptUrl?: string; kubernetesAptKeyUrl?: string }): {
  aptUrl: string;
  aptKeyUrl: string;
} {
  const k8s = parseKubernetesVersion(p.kubernetesVersion);
  const aptUrl = assertUrl(p.kubernetesAptUrl ?? `https://pkgs.k8s.io/core:/stable:/v${k8s.major}.${k8s.minor}/deb/`, 'kubernetesAptUrl');
  const aptKeyUrl = assertUrl(p.kubernetesAptKeyUrl ?? `${aptUrl.endsWith('/') ? aptUrl : `${aptUrl}/`}Release.key`, 'kubernetesAptKeyUrl');
  return { aptUrl, aptKeyUrl };
}

const PUT_FILE_MARK = '__PUT_FILE__';
/** put_file PATH MODE: writes only a changed file (PUT_CHANGED says which). */
export const PUT_FILE: readonly string[] = [
  '# put_file PATH MODE < CONTENT: writes PATH only when its content differs; sets PUT_CHANGED=1/0.',
  '# shellcheck disable=SC2034 # PUT_CHANGED is read only by the sections that restart something',
  'put_file() {',
  '    local path=$1 mode=$2 tmp',
  '    tmp=$(mktemp)',
  '    cat > "$tmp"',
  '    if [ -f "$path" ] && cmp -s "$tmp" "$path"; then',
  '        rm -f "$tmp"; PUT_CHANGED=0',
  '    else',
  '        install -D -m "$mode" "$tmp" "$path"; rm -f "$tmp"; PUT_CHANGED=1',
  '    fi',
  '}',
  '',
];

function assertPackage(name: string): string {
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) throw new TemplateInputError(`apt package '${name}' is not a Debian package name`);
  return name;
}

function assertTimeServer(name: string): string {
  if (!/^[A-Za-z0-9.:-]+$/.test(name)) throw new TemplateInputError(`time server '${name}' is not a host name or address`);
  return name;
}

export function renderPrepareHostScript(p: PrepareHostParams): string {
  const k8s = parseKubernetesVersion(p.kubernetesVersion);
  const install = p.packagesMode === 'install';
  if (!install && p.packagesMode !== 'preinstalled')
    throw new TemplateInputError(`packagesMode: '${String(p.packagesMode)}' is not install or preinstalled`);
  const { aptUrl, aptKeyUrl } = kubernetesAptUrls(p);
  const containerd = p.containerd ?? { source: 'docker-apt' };
  const modules = listKernelModules({ ipvs: p.ipvs === true });
  const timeServers = (p.timeServers ?? []).map(assertTimeServer);
  for (const name of p.extraPackages ?? []) assertPackage(name);
  const node = p.kubernetesNode !== false;
  // Installed in their own section on a node (after the Kubernetes repository), so not twice.
  const nodeTools = node ? nodeToolPackages({ ipvs: p.ipvs === true }) : [];
  const packages = extraPackagesOf(p, nodeTools);
  const services = (p.enableServices ?? []).map((s) => assertName(s, 'enableServices'));
  const configSource = assertPath(p.containerdConfigSource ?? '/etc/kubeseed/containerd-config.toml', 'containerdConfigSource');
  const proxy = hasProxy(p.proxy) ? p.proxy : undefined;
  if (proxy?.http) assertUrl(proxy.http, 'proxy.http');
  if (proxy?.https) assertUrl(proxy.https, 'proxy.https');
  const noProxyEntries = (proxy?.noProxy ?? []).map(assertNoProxyEntry);
  const etcdUrl = p.etcd ? assertUrl(p.etcd.tarballUrl, 'etcd tarballUrl') : undefined;

  const lines: string[] = [
    '#!/bin/bash',
    node
      ? '# kubeseed: prepares this host for kubeadm (Ubuntu 22.04/24.04, Debian 12/13).'
      : '# kubeseed: prepares this host, which is not a Kubernetes node (load balancer or etcd member), on Ubuntu 22.04/24.04, Debian 12/13.',
    '# Idempotent: each section checks before it acts, so running it twice is safe.',
    '# Rendered from the cluster spec; it holds no secret.',
    'set -euo pipefail',
    '# No prompts, no debconf chatter, and no needrestart (Ubuntu) restarting services from inside apt.',
    'export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes NEEDRESTART_SUSPEND=1',
    '',
    ...(node
      ? [
          `K8S_VERSION=${shQuote(k8s.version)}`,
          ...(install ? [`K8S_VERSION_RE=${shQuote(`^${ereEscape(k8s.version)}-`)}`] : []),
          `KERNEL_MODULES=${shArray(modules)}`,
          `CONTAINERD_CONFIG_SOURCE=${shQuote(configSource)}`,
          '',
        ]
      : []),
    ...SCRIPT_HELPER_LINES,
    '',
    PUT_FILE_MARK,
    '# systemd is PID 1 on real hosts; in a chroot or container (the test harness) it is not, and',
    '# systemctl calls are skipped with a message instead of failing.',
    'has_systemd() { [ -d /run/systemd/system ]; }',
    '',
    ...APT_GET_LINES,
    ...FETCH_LINES,
    '# fetch_or_fail URL OUT WHAT: fetch, or stop naming the reason.',
    'fetch_or_fail() {',
    '    local rc=0',
    '    fetch "$1" "$2" || rc=$?',
    '    [ "$rc" = 0 ] || fail_because "$(download_failure "$rc")" "cannot download $3 $1 (curl exit $rc)"',
    '}',
    '',
    ...APT_QUERY_LINES,
    'TMP=$(mktemp -d)',
    'trap \'rm -rf "$TMP"\' EXIT',
    '',
    '# --- OS ---',
    '[ -r /etc/os-release ] || fail_because unsupported-os "/etc/os-release is missing"',
    '# shellcheck disable=SC1091',
    '. /etc/os-release',
    'case "${ID:-}" in',
    '    ubuntu|debian) ;;',
    '    *) fail_because unsupported-os "${ID:-unknown} (supported: Ubuntu 22.04/24.04, Debian 12/13)" ;;',
    'esac',
    'case "${ID}:${VERSION_ID:-}" in',
    '    ubuntu:22.04|ubuntu:24.04|debian:12|debian:13) say "OS ${PRETTY_NAME:-$ID}" ;;',
    '    *) say "warning: ${PRETTY_NAME:-$ID} is not a tested release (tested: Ubuntu 22.04/24.04, Debian 12/13)" ;;',
    'esac',
    'case "$(uname -m)" in',
    '    x86_64|amd64) ARCH=amd64 ;;',
    '    aarch64|arm64) ARCH=arm64 ;;',
    '    *) fail_because unsupported-os "architecture $(uname -m) (amd64 and arm64 only)" ;;',
    'esac',
    'say "architecture $ARCH"',
    '',
  ];
  if (node)
    lines.push(
      '# --- swap: the kubelet refuses to start with swap on ---',
      'say "swap off"',
      'if [ "$(wc -l < /proc/swaps)" -gt 1 ]; then swapoff -a || say "warning: swapoff -a failed"; fi',
      "SWAP_RE='^[[:space:]]*[^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap([[:space:]]|$)'",
      'if [ -f /etc/fstab ] && grep -Eq "$SWAP_RE" /etc/fstab; then',
      '    sed -E -i "/$SWAP_RE/s/^/#kubeseed: swap off# /" /etc/fstab',
      '    say "swap entries in /etc/fstab commented out"',
      'fi',
      'if has_systemd; then',
      '    # Swap units from generators (gpt-auto, fstab before this edit) would turn swap on at the next boot.',
      "    systemctl list-units --type=swap --all --plain --no-legend 2>/dev/null | awk '{print $1}' | while read -r unit; do",
      '        [ -n "$unit" ] || continue',
      '        if [ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" != masked ]; then',
      '            systemctl mask "$unit" >/dev/null && say "masked $unit"',
      '        fi',
      '    done',
      'fi',
      '[ "$(wc -l < /proc/swaps)" -le 1 ] || fail "swap is still on ($(tail -n +2 /proc/swaps | wc -l) device(s)); the kubelet will not start"',
      '',
      '# --- kernel modules (listed in /etc/modules-load.d/kubeseed.conf for later boots) ---',
      'say "kernel modules: ${KERNEL_MODULES[*]}"',
      '# Loaded means: listed in /sys/module, or built into the kernel (modules.builtin; a built-in',
      '# br_netfilter shows itself by /proc/sys/net/bridge).',
      'module_present() {',
      '    [ -d "/sys/module/$1" ] && return 0',
      '    [ "$1" = br_netfilter ] && [ -d /proc/sys/net/bridge ] && return 0',
      '    grep -q "/$1\\.ko" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null',
      '}',
      'for m in "${KERNEL_MODULES[@]}"; do',
      '    module_present "$m" && continue',
      '    modprobe "$m" 2>/dev/null || module_present "$m" || fail "cannot load kernel module $m"',
      'done',
      '',
      '# --- sysctls (from /etc/sysctl.d/99-kubeseed.conf) ---',
      'say "sysctl --system"',
      'sysctl --system >/dev/null 2>&1 || say "warning: sysctl --system reported errors"',
      ...KUBERNETES_SYSCTLS.map(([key, value]) => {
        const read = `"$(cat /proc/sys/${key.replace(/\./g, '/')} 2>/dev/null || true)"`;
        return key === 'net.ipv4.ip_forward'
          ? `[ ${read} = ${value} ] || fail "${key} is not ${value} (kubeadm preflight requires it)"`
          : `[ ${read} = ${value} ] || say "warning: ${key} is not ${value}"`;
      }),
      '',
    );

  // --- proxy ---
  lines.push('# --- proxy ---');
  if (proxy) {
    const apt: string[] = ['// kubeseed: apt downloads through the proxy'];
    if (proxy.http) apt.push(`Acquire::http::Proxy "${proxy.http}";`);
    if (proxy.https) apt.push(`Acquire::https::Proxy "${proxy.https}";`);
    // apt ignores no_proxy: hosts (not CIDRs or domains) listed there are reached directly.
    for (const host of noProxyEntries.filter((e) => /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(e))) {
      if (proxy.http) apt.push(`Acquire::http::Proxy::${host} "DIRECT";`);
      if (proxy.https) apt.push(`Acquire::https::Proxy::${host} "DIRECT";`);
    }
    lines.push(
      node ? 'say "proxy settings for apt, containerd and downloads"' : 'say "proxy settings for apt and downloads"',
      ...proxyEnvLines(proxy, noProxyEntries),
      `put_file /etc/apt/apt.conf.d/95kubeseed-proxy 0644 ${heredocLines(joinLines(apt), 'apt proxy').join('\n')}`,
    );
    if (node) {
      lines.push(
        `put_file /etc/systemd/system/containerd.service.d/http-proxy.conf 0644 ${heredocLines(renderContainerdProxyDropin(proxy), 'containerd proxy').join('\n')}`,
        'CONTAINERD_PROXY_CHANGED=$PUT_CHANGED',
      );
    }
  } else {
    lines.push(
      '# No proxy in the spec: remove settings an earlier version of the spec may have left.',
      'rm -f /etc/apt/apt.conf.d/95kubeseed-proxy',
      ...(node
        ? [
            'CONTAINERD_PROXY_CHANGED=0',
            'if [ -f /etc/systemd/system/containerd.service.d/http-proxy.conf ]; then',
            '    rm -f /etc/systemd/system/containerd.service.d/http-proxy.conf; CONTAINERD_PROXY_CHANGED=1',
            'fi',
          ]
        : []),
    );
  }
  lines.push('');

  lines.push(...packageLines({ install, node, k8s, aptUrl, aptKeyUrl, containerd, nodeTools, packages, etcdUrl }));

  if (node)
    lines.push(
      '# --- containerd must be 2.x (kubelet 1.38 needs the RuntimeConfig RPC) ---',
      'CONTAINERD_BIN=$(command -v containerd || true)',
      '[ -n "$CONTAINERD_BIN" ] || fail "containerd is not installed"',
      "CTR_VERSION=$(\"$CONTAINERD_BIN\" --version 2>/dev/null | grep -Eo ' v?[0-9]+\\.[0-9]+\\.[0-9]+' | head -n 1 | tr -d ' v' || true)",
      'case "$CTR_VERSION" in',
      '    "") say "warning: cannot read the containerd version" ;;',
      '    0.*|1.*) fail "containerd $CTR_VERSION is too old: containerd 2.0 or newer is required" ;;',
      '    *) say "containerd $CTR_VERSION" ;;',
      'esac',
      '',
    );

  if (timeServers.length > 0) {
    const sources = joinLines(['# kubeseed: time servers from the cluster spec', ...timeServers.map((s) => `server ${s} iburst`)]);
    const timesyncd = joinLines(['# kubeseed: time servers from the cluster spec', '[Time]', `NTP=${timeServers.join(' ')}`]);
    lines.push(
      '# --- time servers (certificates are time-sensitive) ---',
      'if [ -d /etc/chrony ]; then',
      '    say "chrony: servers from the spec"',
      `    put_file /etc/chrony/sources.d/kubeseed.sources 0644 ${heredocLines(sources, 'chrony sources').join('\n')}`,
      '    TIME_CHANGED=$PUT_CHANGED',
      '    # The image default pools may be unreachable (air-gapped sites): comment them out.',
      "    if grep -Eq '^(pool|server)[[:space:]]' /etc/chrony/chrony.conf 2>/dev/null; then",
      "        sed -E -i 's/^((pool|server)[[:space:]])/#kubeseed: spec time servers# \\1/' /etc/chrony/chrony.conf; TIME_CHANGED=1",
      '    fi',
      "    grep -Eq '^sourcedir[[:space:]]+/etc/chrony/sources.d' /etc/chrony/chrony.conf 2>/dev/null || { echo 'sourcedir /etc/chrony/sources.d' >> /etc/chrony/chrony.conf; TIME_CHANGED=1; }",
      '    TIME_SERVICE=chrony',
      'else',
      '    say "chrony not installed: systemd-timesyncd gets the servers from the spec"',
      `    put_file /etc/systemd/timesyncd.conf.d/kubeseed.conf 0644 ${heredocLines(timesyncd, 'timesyncd').join('\n')}`,
      '    TIME_CHANGED=$PUT_CHANGED',
      '    TIME_SERVICE=systemd-timesyncd',
      'fi',
      '',
    );
  }

  if (node)
    lines.push(
      '# --- containerd configuration: the package may have shipped its own (CRI disabled) ---',
      '[ -f "$CONTAINERD_CONFIG_SOURCE" ] || fail "$CONTAINERD_CONFIG_SOURCE is missing (written by user-data)"',
      'CONTAINERD_CONFIG_CHANGED=0',
      'if ! cmp -s "$CONTAINERD_CONFIG_SOURCE" /etc/containerd/config.toml; then',
      '    install -D -m 0644 "$CONTAINERD_CONFIG_SOURCE" /etc/containerd/config.toml',
      '    CONTAINERD_CONFIG_CHANGED=1',
      '    say "containerd config installed at /etc/containerd/config.toml"',
      'else',
      '    say "containerd config already in place"',
      'fi',
      '',
    );
  lines.push('# --- services ---', 'if has_systemd; then', '    systemctl daemon-reload');
  if (node)
    lines.push(
      '    systemctl enable --now containerd',
      `    if [ "$CONTAINERD_CONFIG_CHANGED" = 1 ] || [ "$CONTAINERD_PROXY_CHANGED" = 1 ]${containerd.source === 'tarball' && install ? ' || [ "$CONTAINERD_UNIT_CHANGED" = 1 ]' : ''}; then`,
      '        systemctl restart containerd',
      '    fi',
      '    say "containerd enabled and running"',
      '    # The kubelet crash-loops until kubeadm init/join writes its configuration: expected.',
      '    systemctl enable kubelet',
      '    say "kubelet enabled"',
    );
  if (timeServers.length > 0) {
    lines.push('    if [ "$TIME_CHANGED" = 1 ]; then systemctl restart "$TIME_SERVICE" || say "warning: cannot restart $TIME_SERVICE"; fi');
  }
  for (const s of services) {
    lines.push(
      `    systemctl enable ${shQuote(s)}`,
      `    systemctl restart ${shQuote(s)}`,
      `    say ${shQuote(`${s} enabled and (re)started`)}`,
    );
  }
  lines.push(
    'else',
    `    say ${shQuote(
      `systemd is not running (chroot or container): not enabling or starting ${[...(node ? ['containerd', 'kubelet'] : []), ...services].join(', ') || 'any service'}`,
    )}`,
    'fi',
    'say "done"',
  );
  // The put_file helper only where a section uses it (shellcheck flags unused helpers' variables).
  const usesPut = lines.some((l) => l.includes('put_file ') && !l.startsWith('#'));
  return joinLines(lines.flatMap((l) => (l === PUT_FILE_MARK ? (usesPut ? PUT_FILE : []) : [l])));
}
