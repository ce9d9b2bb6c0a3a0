/**
 * Fedora CoreOS host preparation with rpm-ostree package layering (docs/adr/0023): kubelet,
 * kubeadm and kubectl of the spec's patch plus cri-tools from the pkgs.k8s.io RPM repository of
 * the spec's minor, layered at first boot with `--apply-live`, so rpm-ostree labels every file
 * with the SELinux policy of the host and no reboot is needed.
 *
 * - `/etc/yum.repos.d/kubeseed-kubernetes.repo`: the repository, `gpgcheck=1`, its key a local
 *   file under `/etc/pki/rpm-gpg` (rpm-ostree trusts the keys there; it does not fetch `gpgkey=`
 *   URLs, coreos/rpm-ostree#1457). Ignition fetches the key.
 * - `kubeseed-rpm-ostree-install.service`: a oneshot before kubelet, the agent and Zincati; it
 *   reloads systemd (apply-live only does when a package changed, not when one was added) and
 *   enables kubelet (its unit arrives with the package, after Ignition's presets ran).
 * - the chrony sources of `spec.os.timeServers` as a systemd-tmpfiles drop-in into the
 *   `sourcedir /run/chrony-dhcp` of Fedora's own chrony.conf, which stays as Fedora ships it.
 *
 * Pure; invalid values throw `TemplateInputError`.
 */
import { assertName, assertUrl, joinLines, parseKubernetesVersion, TemplateInputError } from './text.ts';

export const KUBERNETES_RPM_REPO_PATH = '/etc/yum.repos.d/kubeseed-kubernetes.repo';
export const KUBERNETES_RPM_KEY_PATH = '/etc/pki/rpm-gpg/kubeseed-kubernetes.asc';
export const RPM_OSTREE_INSTALL_UNIT = 'kubeseed-rpm-ostree-install.service';
/** Written last by the install unit; its ConditionPathExists skips the unit on later boots. */
const RPM_OSTREE_INSTALL_STAMP = '/var/lib/kubeseed-rpm-ostree-install.stamp';
export const CHRONY_TMPFILES_PATH = '/etc/tmpfiles.d/kubeseed-chrony.conf';
/** Fedora's chrony.conf reads `*.sources` here (`sourcedir /run/chrony-dhcp`). */
const CHRONY_SOURCES_PATH = '/run/chrony-dhcp/kubeseed.sources';

/** The pkgs.k8s.io RPM repository of a minor. */
export function kubernetesRpmRepoUrl(kubernetesVersion: string): string {
  const { major, minor } = parseKubernetesVersion(kubernetesVersion);
  return `https://pkgs.k8s.io/core:/stable:/v${major}.${minor}/rpm/`;
}

/** Where pkgs.k8s.io (and a mirror of its layout) serves the repository's signing key. */
export function kubernetesRpmKeyUrl(repoUrl: string): string {
  return `${repoUrl.endsWith('/') ? repoUrl : `${repoUrl}/`}repodata/repomd.xml.key`;
}

export function renderKubernetesRpmRepo(p: { kubernetesVersion: string; repoUrl: string }): string {
  const { major, minor } = parseKubernetesVersion(p.kubernetesVersion);
  const url = assertUrl(p.repoUrl, 'kubernetes RPM repository');
  return joinLines([
    `# kubeseed: Kubernetes v${major}.${minor} RPMs for rpm-ostree layering (${RPM_OSTREE_INSTALL_UNIT}).`,
    '[kubeseed-kubernetes]',
    `name=Kubernetes v${major}.${minor} (kubeseed)`,
    `baseurl=${url}`,
    'enabled=1',
    'gpgcheck=1',
    `gpgkey=file://${KUBERNETES_RPM_KEY_PATH}`,
  ]);
}

/** The packages layered: the spec's patch of kubelet, kubeadm and kubectl, the minor's newest cri-tools. */
function kubernetesRpmPackages(kubernetesVersion: string): string[] {
  const { version } = parseKubernetesVersion(kubernetesVersion);
  return [`kubelet-${version}`, `kubeadm-${version}`, `kubectl-${version}`, 'cri-tools'];
}

export function renderRpmOstreeInstallUnit(p: { kubernetesVersion: string; before: readonly string[] }): string {
  const { version } = parseKubernetesVersion(p.kubernetesVersion);
  const before = p.before.map((u) => assertName(u, 'rpm-ostree install: Before= unit'));
  return joinLines([
    `# kubeseed: layers kubelet, kubeadm, kubectl ${version} and cri-tools from ${KUBERNETES_RPM_REPO_PATH}.`,
    '# rpm-ostree labels the files for SELinux; --apply-live makes them usable without a reboot.',
    '[Unit]',
    `Description=kubeseed: layer Kubernetes ${version} packages with rpm-ostree`,
    'Wants=network-online.target',
    'After=network-online.target',
    '# Zincati runs rpm-ostree transactions too: this one goes first.',
    `Before=${[...before, 'zincati.service'].join(' ')}`,
    `ConditionPathExists=!${RPM_OSTREE_INSTALL_STAMP}`,
    '# A network hiccup must not leave the host without kubeadm: retry without a limit.',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    '# --idempotent and --allow-inactive: a retry after a partial run, or an image that already',
    '# carries a package, is not an error.',
    `ExecStart=/usr/bin/rpm-ostree install --apply-live --allow-inactive --idempotent ${kubernetesRpmPackages(version).join(' ')}`,
    '# apply-live reloads systemd only when it changed packages, not when it added them: kubelet.service is new.',
    'ExecStart=/usr/bin/systemctl daemon-reload',
    'ExecStart=/usr/bin/systemctl enable kubelet.service',
    `ExecStart=/usr/bin/touch ${RPM_OSTREE_INSTALL_STAMP}`,
    'Restart=on-failure',
    'RestartSec=30s',
    'TimeoutStartSec=30min',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ]);
}

/** systemd-tmpfiles drop-in writing the spec's time servers where Fedora's chrony.conf reads sources. */
export function renderChronyTmpfiles(servers: readonly string[]): string {
  if (servers.length === 0) throw new TemplateInputError('chrony sources: no time servers');
  const lines = servers.map((s) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9.:_-]*$/.test(s)) throw new TemplateInputError(`time server: '${s}' is not a host name or IP address`);
    return `server ${s} iburst`;
  });
  return joinLines([
    '# kubeseed: spec.os.timeServers for chronyd. Fedora CoreOS keeps its own /etc/chrony.conf (and its',
    '# platform time sources); that file reads *.sources from /run/chrony-dhcp, which this recreates at boot.',
    'd /run/chrony-dhcp 0755 root root -',
    // tmpfiles interprets C escapes in the argument of `f`: one line per server.
    `f+ ${CHRONY_SOURCES_PATH} 0644 root root - ${lines.join('\\n')}\\n`,
  ]);
}
