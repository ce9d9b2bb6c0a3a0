// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash, where ${…} is shell expansion
/**
 * What the prepare script (templates/prepare-host.ts) installs, in `install` mode: dpkg finished if
 * an earlier run was interrupted, the base tools, the apt repositories, containerd (`containerd.io`
 * or the upstream tarball + runc) and the Kubernetes packages of a node (`prepare-host-apt.ts`),
 * extra packages, upstream etcd; in `preinstalled` mode the checks that the image has them.
 * Also the apt helpers the script defines. Bash lines spliced into that script, which defines
 * say, fail, fail_because, fetch_or_fail, put_file and `$TMP`, `$ARCH`, `$K8S_VERSION`. Pure;
 * invalid values throw `TemplateInputError`.
 */
import { renderContainerdUnit } from './containerd.ts';
import type { ContainerdDockerApt, ContainerdTarball } from './prepare-host.ts';
import { aptRepositoryLines, containerdAptLines, kubernetesPackageLines } from './prepare-host-apt.ts';
import { assertUrl, heredocLines, shArray, shQuote } from './text.ts';

/** apt-get that waits for the dpkg lock and keeps configuration files. */
export const APT_GET_LINES: readonly string[] = [
  '# Waits for the dpkg lock (unattended-upgrades runs at first boot) instead of failing.',
  'apt_get() { apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"; }',
  '',
];

/** One apt-get update per run, and version lookups that name what is missing. */
export const APT_QUERY_LINES: readonly string[] = [
  'APT_UPDATED=0',
  '# apt-get update exits 0 when a repository is out of reach (only a warning): its messages are kept',
  '# for resolve_version, which tells an unreachable repository from a missing version.',
  'apt_update_once() {',
  '    if [ "$APT_UPDATED" = 0 ]; then',
  '        say "apt-get update"',
  '        local rc=0',
  '        apt_get update -q >/dev/null 2>"$TMP/apt-update.log" || rc=$?',
  '        cat "$TMP/apt-update.log" >&2',
  '        [ "$rc" = 0 ] || fail "apt-get update exited $rc (its messages are above)"',
  '        APT_UPDATED=1',
  '    fi',
  '}',
  '',
  '# newest_version PACKAGE REGEX: the newest repository version of PACKAGE matching REGEX, or nothing.',
  'newest_version() {',
  '    apt-cache madison "$1" 2>/dev/null | awk -F\'|\' \'{gsub(/[[:space:]]/, "", $2); print $2}\' | grep -E "$2" | head -n 1 || true',
  '}',
  '# resolve_version PACKAGE REGEX [REPO]: the same, or a stop naming what is missing: the repository',
  "# when apt-get update could not fetch REPO's index, else the version.",
  'resolve_version() {',
  '    local v',
  '    v=$(newest_version "$1" "$2")',
  '    if [ -z "$v" ] && [ -n "${3:-}" ] && grep -qF "$3" "$TMP/apt-update.log" 2>/dev/null; then',
  '        fail "no package index from $3: apt-get update could not fetch it: $(grep -F "$3" "$TMP/apt-update.log" | head -n 1)"',
  '    fi',
  '    [ -n "$v" ] || fail_because package-not-found "no version of $1 matching $2 in the configured repositories (apt-cache madison $1)"',
  '    printf \'%s\\n\' "$v"',
  '}',
  '',
  'installed_version() { dpkg-query -W -f=\'${Version}\' "$1" 2>/dev/null || true; }',
  '',
];

export interface PackageSections {
  install: boolean;
  node: boolean;
  k8s: { version: string; major: number; minor: number };
  aptUrl: string;
  aptKeyUrl: string;
  containerd: ContainerdDockerApt | ContainerdTarball;
  nodeTools: readonly string[];
  packages: readonly string[];
  etcdUrl: string | undefined;
}

/** The install (or preinstalled-check) sections of the script, in order. */
export function packageLines(p: PackageSections): string[] {
  const { install, node, k8s, aptUrl, aptKeyUrl, containerd, nodeTools, packages, etcdUrl } = p;
  const lines: string[] = [];
  if (install) {
    lines.push(
      '# --- dpkg left half-done (an agent or machine killed during an earlier run): finish it first ---',
      'if [ -n "$(dpkg --audit 2>/dev/null)" ]; then',
      '    say "dpkg --configure -a (an earlier run was interrupted)"',
      '    dpkg --configure -a || fail "dpkg --configure -a failed (its messages are above)"',
      'fi',
      '',
      '# --- base tools for HTTPS repositories ---',
      'need=()',
      'for pkg in ca-certificates curl; do [ -n "$(installed_version "$pkg")" ] || need+=("$pkg"); done',
      'if [ "${#need[@]}" -gt 0 ]; then apt_update_once; say "installing ${need[*]}"; apt_get install -y -q --no-install-recommends "${need[@]}" >/dev/null; fi',
      '',
    );
  }
  if (install && node) {
    lines.push(...aptRepositoryLines({ aptUrl, aptKeyUrl, containerd }));
    if (containerd.source === 'docker-apt') {
      lines.push(...containerdAptLines(containerd));
    } else {
      const tarball = assertUrl(containerd.tarballUrl, 'containerd tarballUrl');
      const runc = assertUrl(containerd.runcUrl, 'runc url');
      lines.push(
        '# --- containerd 2.x from the upstream release tarball, plus runc ---',
        `CONTAINERD_URL=${shQuote(tarball)}`,
        `RUNC_URL=${shQuote(runc)}`,
        'CONTAINERD_URL=${CONTAINERD_URL//\\{arch\\}/$ARCH}',
        'RUNC_URL=${RUNC_URL//\\{arch\\}/$ARCH}',
        'MARKER=/var/lib/kubeseed/containerd-tarball',
        'if [ -x /usr/local/bin/containerd ] && [ -x /usr/local/sbin/runc ] && [ "$(cat "$MARKER" 2>/dev/null || true)" = "$CONTAINERD_URL $RUNC_URL" ]; then',
        '    say "containerd and runc from $CONTAINERD_URL already installed"',
        'else',
        '    say "containerd: downloading $CONTAINERD_URL"',
        '    fetch_or_fail "$CONTAINERD_URL" "$TMP/containerd.tar.gz" containerd',
        '    tar -C /usr/local -xzf "$TMP/containerd.tar.gz"',
        '    say "runc: downloading $RUNC_URL"',
        '    fetch_or_fail "$RUNC_URL" "$TMP/runc" runc',
        '    install -D -m 0755 "$TMP/runc" /usr/local/sbin/runc',
        '    install -d -m 0700 /var/lib/kubeseed',
        '    echo "$CONTAINERD_URL $RUNC_URL" > "$MARKER"',
        'fi',
        `put_file /etc/systemd/system/containerd.service 0644 ${heredocLines(renderContainerdUnit(), 'containerd unit').join('\n')}`,
        'CONTAINERD_UNIT_CHANGED=$PUT_CHANGED',
        '',
      );
    }
    lines.push(...kubernetesPackageLines(k8s, nodeTools));
  }
  if (install) {
    if (packages.length > 0) {
      lines.push(
        '# --- extra packages ---',
        `EXTRA_PACKAGES=${shArray(packages)}`,
        'need=()',
        'for pkg in "${EXTRA_PACKAGES[@]}"; do [ -n "$(installed_version "$pkg")" ] || need+=("$pkg"); done',
        'if [ "${#need[@]}" -gt 0 ]; then',
        '    apt_update_once',
        '    say "installing ${need[*]}"',
        '    apt_get install -y -q --no-install-recommends "${need[@]}" >/dev/null',
        'else',
        '    say "extra packages already installed: ${EXTRA_PACKAGES[*]}"',
        'fi',
        '',
      );
    }
    if (etcdUrl) {
      lines.push(
        '# --- upstream etcd (etcd.mode: binary); started later by the agent, together with the other members ---',
        `ETCD_URL=${shQuote(etcdUrl)}`,
        'ETCD_URL=${ETCD_URL//\\{arch\\}/$ARCH}',
        'ETCD_MARKER=/var/lib/kubeseed/etcd-tarball',
        'if [ -x /usr/local/bin/etcd ] && [ "$(cat "$ETCD_MARKER" 2>/dev/null || true)" = "$ETCD_URL" ]; then',
        '    say "etcd from $ETCD_URL already installed"',
        'else',
        '    say "etcd: downloading $ETCD_URL"',
        '    fetch_or_fail "$ETCD_URL" "$TMP/etcd.tar.gz" etcd',
        '    mkdir -p "$TMP/etcd"',
        '    tar -C "$TMP/etcd" --strip-components=1 -xzf "$TMP/etcd.tar.gz"',
        '    for bin in etcd etcdctl etcdutl; do',
        '        if [ -f "$TMP/etcd/$bin" ]; then install -m 0755 "$TMP/etcd/$bin" "/usr/local/bin/$bin"; fi',
        '    done',
        '    [ -x /usr/local/bin/etcd ] || fail "$ETCD_URL holds no etcd executable"',
        '    install -d -m 0700 /var/lib/kubeseed',
        '    echo "$ETCD_URL" > "$ETCD_MARKER"',
        'fi',
        '',
      );
    }
  } else {
    const bins = [...(node ? ['containerd', 'runc', 'kubeadm', 'kubelet', 'kubectl'] : []), ...(etcdUrl ? ['etcd'] : [])];
    if (bins.length > 0) {
      lines.push(
        '# --- preinstalled image: nothing is installed, the binaries must be there ---',
        'missing=()',
        `REQUIRED_BINARIES=${shArray(bins)}`,
        'for bin in "${REQUIRED_BINARIES[@]}"; do command -v "$bin" >/dev/null 2>&1 || missing+=("$bin"); done',
        '[ "${#missing[@]}" -eq 0 ] || fail "os.packages is preinstalled but ${missing[*]} not found on PATH"',
        `say ${shQuote(`preinstalled ${bins.join(', ')} found`)}`,
      );
    }
    if (node) {
      // What the install path adds (nodeToolPackages, cri-tools): kubeadm does not check them, so a warning.
      const tools = ['crictl', ...nodeTools];
      lines.push(
        `RECOMMENDED_BINARIES=${shArray(tools)}`,
        'absent=()',
        'for bin in "${RECOMMENDED_BINARIES[@]}"; do command -v "$bin" >/dev/null 2>&1 || absent+=("$bin"); done',
        '[ "${#absent[@]}" -eq 0 ] || say "warning: ${absent[*]} not found on PATH (operators and docs/host-preparation.md expect them)"',
      );
    }
    if (node) {
      lines.push(
        'KUBEADM_VERSION=$(kubeadm version -o short 2>/dev/null || true)',
        '[ "$KUBEADM_VERSION" = "v$K8S_VERSION" ] || say "warning: preinstalled kubeadm is ${KUBEADM_VERSION:-of unknown version}, the spec wants v$K8S_VERSION"',
      );
    }
    lines.push('');
  }
  return lines;
}
