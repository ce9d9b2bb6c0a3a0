// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash, where ${…} is shell expansion
/**
 * The apt part of the prepare script (templates/prepare-host.ts) on a Kubernetes node in `install`
 * mode: repository keys and sources (pkgs.k8s.io of the minor, Docker's for `containerd.io`), one
 * apt-get update, `containerd.io` pinned and held, kubelet/kubeadm/kubectl pinned to the patch and
 * held, then cri-tools and the node tools. Bash lines spliced into that script, which defines what
 * they call (say, fail, fail_because, download_failure, fetch, put_file; apt_get, apt_update_once,
 * newest_version, resolve_version, installed_version from prepare-host-install.ts) and `$TMP`,
 * `$ID`, `$ARCH`, `$K8S_VERSION`, `$K8S_VERSION_RE`. Pure; invalid values throw `TemplateInputError`.
 */
import type { ContainerdDockerApt, ContainerdTarball } from './prepare-host.ts';
import { assertUrl, ereEscape, shArray, shQuote, TemplateInputError } from './text.ts';

/**
 * install_key URL NAME and add_repo FILE LINE: an apt repository's key under /etc/apt/keyrings and
 * its source line (needs fetch, put_file, fail_because, download_failure, say, `$TMP`, `APT_UPDATED`).
 */
export const APT_SOURCE_FUNCTION_LINES: readonly string[] = [
  'install -d -m 0755 /etc/apt/keyrings',
  '',
  '# install_key URL NAME: the repository key under /etc/apt/keyrings. Dearmored with gpg when gpg is',
  '# present (as the upstream guides do); otherwise kept armored as NAME.asc, which apt reads as well.',
  '# Downloaded at every run, so a key fixed on the mirror is picked up by a retry (a wrong key fails',
  '# apt-get update); the keyring already there is kept when the download fails. Prints the keyring path.',
  'install_key() {',
  '    local url=$1 name=$2 have="" rc=0 keyring',
  '    if [ -s "/etc/apt/keyrings/$name.gpg" ]; then have=/etc/apt/keyrings/$name.gpg; elif [ -s "/etc/apt/keyrings/$name.asc" ]; then have=/etc/apt/keyrings/$name.asc; fi',
  '    fetch "$url" "$TMP/$name.key" || rc=$?',
  '    if [ "$rc" != 0 ]; then',
  '        [ -n "$have" ] || fail_because "$(download_failure "$rc")" "cannot download the repository key $url (curl exit $rc)"',
  '        say "warning: cannot download the repository key $url (curl exit $rc); keeping $have" >&2',
  '        echo "$have"; return',
  '    fi',
  '    if command -v gpg >/dev/null 2>&1; then',
  '        keyring=/etc/apt/keyrings/$name.gpg',
  '        gpg --dearmor < "$TMP/$name.key" > "$TMP/$name.out" || fail_because key-mismatch "$url is not an OpenPGP key"',
  '    else',
  '        keyring=/etc/apt/keyrings/$name.asc',
  '        cp "$TMP/$name.key" "$TMP/$name.out"',
  '    fi',
  '    if ! cmp -s "$TMP/$name.out" "$keyring"; then',
  '        install -m 0644 "$TMP/$name.out" "$keyring"',
  '        # A new key must be used by the next apt-get update, even when the source line is unchanged.',
  '        say "repository key $keyring installed from $url" >&2',
  '    fi',
  '    echo "$keyring"',
  '}',
  '',
  '# add_repo FILE LINE: an apt source; forces an apt-get update when it changed.',
  'add_repo() {',
  '    put_file "$1" 0644 <<< "$2"',
  '    if [ "$PUT_CHANGED" = 1 ]; then APT_UPDATED=0; say "apt source $1 written"; fi',
  '}',
  '',
];

/** pkgs.k8s.io of the minor (or its mirror): its key and `/etc/apt/sources.list.d/kubernetes.list`; `$K8S_REPO` stays set. */
export function kubernetesAptSourceLines(aptUrl: string, aptKeyUrl: string): string[] {
  return [
    '# --- apt repositories: keys and sources first, then one apt-get update ---',
    `K8S_REPO=${shQuote(aptUrl)}`,
    `K8S_KEY=${shQuote(aptKeyUrl)}`,
    'say "kubernetes: apt repository $K8S_REPO"',
    'K8S_KEYRING=$(install_key "$K8S_KEY" kubernetes-apt-keyring)',
    'add_repo /etc/apt/sources.list.d/kubernetes.list "deb [signed-by=$K8S_KEYRING] $K8S_REPO /"',
  ];
}

/** Every key and source first, then one apt-get update; `$K8S_REPO` (and `$DOCKER_REPO`) stay set for the sections below. */
export function aptRepositoryLines(p: {
  aptUrl: string;
  aptKeyUrl: string;
  containerd: ContainerdDockerApt | ContainerdTarball;
}): string[] {
  const { aptUrl, aptKeyUrl, containerd } = p;
  // Every repository and key first, then one apt-get update: a key fixed on the mirror must be in
  // place before apt reads any source that uses it (a retry after key-mismatch).
  const lines: string[] = [...APT_SOURCE_FUNCTION_LINES, ...kubernetesAptSourceLines(aptUrl, aptKeyUrl)];
  if (containerd.source === 'docker-apt') {
    const repo = assertUrl(containerd.repoUrl ?? 'https://download.docker.com/linux/{distro}', 'containerd repoUrl').replace(/\/$/, '');
    const key = assertUrl(containerd.keyUrl ?? `${repo}/gpg`, 'containerd keyUrl');
    lines.push(
      `DOCKER_REPO=${shQuote(repo)}`,
      `DOCKER_KEY=${shQuote(key)}`,
      'DOCKER_REPO=${DOCKER_REPO//\\{distro\\}/$ID}',
      'DOCKER_KEY=${DOCKER_KEY//\\{distro\\}/$ID}',
      'say "containerd: apt repository $DOCKER_REPO"',
      'DOCKER_KEYRING=$(install_key "$DOCKER_KEY" docker)',
      'add_repo /etc/apt/sources.list.d/docker.list "deb [arch=$ARCH signed-by=$DOCKER_KEYRING] $DOCKER_REPO ${VERSION_CODENAME:?VERSION_CODENAME missing in /etc/os-release} stable"',
    );
  }
  lines.push('apt_update_once', '');
  return lines;
}

/** containerd.io from Docker's repository (`$DOCKER_REPO`, added by `aptRepositoryLines`), pinned to the prefix and held. */
export function containerdAptLines(containerd: ContainerdDockerApt): string[] {
  const prefix = containerd.versionPrefix ?? '2.';
  if (!/^\d+(\.\d+)*[.-]?$/.test(prefix))
    throw new TemplateInputError(`containerd versionPrefix: '${prefix}' is not like 2., 2.1. or 2.3.4-`);
  return [
    "# --- containerd 2.x from Docker's containerd.io package ---",
    `CONTAINERD_VERSION=$(resolve_version containerd.io ${shQuote(`^${ereEscape(prefix)}`)} "$DOCKER_REPO")`,
    'if [ "$(installed_version containerd.io)" != "$CONTAINERD_VERSION" ]; then',
    '    say "installing containerd.io=$CONTAINERD_VERSION"',
    '    # The hold keeps unattended upgrades away; a changed spec.os.containerdVersion must still move it.',
    '    apt_get install -y -q --no-install-recommends --allow-downgrades --allow-change-held-packages "containerd.io=$CONTAINERD_VERSION" >/dev/null',
    'else',
    '    say "containerd.io $CONTAINERD_VERSION already installed"',
    'fi',
    'apt-mark hold containerd.io >/dev/null',
    '',
  ];
}

/** kubelet, kubeadm, kubectl of the patch from `$K8S_REPO`, held; cri-tools of the minor and the node tools. */
export function kubernetesPackageLines(k8s: { version: string; major: number; minor: number }, nodeTools: readonly string[]): string[] {
  return [
    `# --- kubeadm, kubelet, kubectl ${k8s.version} from the pkgs.k8s.io repository of v${k8s.major}.${k8s.minor} ---`,
    'say "kubernetes: kubelet kubeadm kubectl $K8S_VERSION"',
    'want=()',
    'for pkg in kubelet kubeadm kubectl; do',
    '    v=$(resolve_version "$pkg" "$K8S_VERSION_RE" "$K8S_REPO")',
    '    if [ "$(installed_version "$pkg")" != "$v" ]; then want+=("$pkg=$v"); fi',
    'done',
    'if [ "${#want[@]}" -gt 0 ]; then',
    '    say "installing ${want[*]}"',
    '    # --allow-downgrades: the spec names the version; an image may carry a newer kubectl (cloud SDKs ship one).',
    '    apt_get install -y -q --no-install-recommends --allow-downgrades "${want[@]}" >/dev/null',
    'else',
    '    say "kubelet, kubeadm, kubectl $K8S_VERSION already installed"',
    'fi',
    'apt-mark hold kubelet kubeadm kubectl >/dev/null',
    'say "kubelet kubeadm kubectl held at $K8S_VERSION"',
    '',
    '# --- node tools no package above pulls in (apt runs with --no-install-recommends) ---',
    '# cri-tools: crictl, which /etc/crictl.yaml points at containerd; kubeadm packages >= 1.32 no',
    '# longer depend on it. The minor of the cluster, from the same repository; not held: it',
    '# follows that repository (a minor upgrade switches the repository line).',
    `# ${nodeTools.join(', ')}: see nodeToolPackages in templates/host-packages.ts and docs/host-preparation.md.`,
    `CRI_TOOLS_RE=${shQuote(`^${ereEscape(`${k8s.major}.${k8s.minor}.`)}`)}`,
    `NODE_TOOLS=${shArray(nodeTools)}`,
    'want=()',
    'if ! installed_version cri-tools | grep -Eq "$CRI_TOOLS_RE"; then',
    '    v=$(newest_version cri-tools "$CRI_TOOLS_RE")',
    '    if [ -z "$v" ]; then',
    `        say "warning: no cri-tools ${k8s.major}.${k8s.minor}.x in $K8S_REPO; taking its newest cri-tools"`,
    '        v=$(resolve_version cri-tools . "$K8S_REPO")',
    '    fi',
    '    want+=("cri-tools=$v")',
    'fi',
    'for pkg in "${NODE_TOOLS[@]}"; do [ -n "$(installed_version "$pkg")" ] || want+=("$pkg"); done',
    'if [ "${#want[@]}" -gt 0 ]; then',
    '    apt_update_once',
    '    say "installing ${want[*]}"',
    '    # --allow-downgrades: an image may carry a newer crictl than the minor of the cluster.',
    '    apt_get install -y -q --no-install-recommends --allow-downgrades "${want[@]}" >/dev/null',
    'else',
    '    say "node tools already installed: cri-tools ${NODE_TOOLS[*]}"',
    'fi',
    '',
  ];
}
