/**
 * What an external etcd member needs to move to spec.etcd.version (`etcd-member-upgrade`, day 2):
 * binary mode gets the same release tarball the prepare script installed at first boot
 * (`etcdTarballUrl`: upstream or spec.mirrors.etcd), but the agent refuses it unless its SHA-256 is
 * the one spec.mirrors.etcdSha256 names for the file — a day-2 download replaces the executable of
 * a running database, so it is pinned like every other agent download (ADR 0043). Static-pod mode
 * gets the kubeadm etcd config with the new image tag instead (kubeadm pulls the image).
 * Runtime contract: pure.
 */
import type { StepDownload } from '../../protocol/index.ts';
import { etcdTarballUrl } from '../../templates/index.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';

/** Where the prepare script put etcd's executables (templates/prepare-host-install.ts). */
const ETCD_BIN_DIR = '/usr/local/bin';

/** The release file a member of `arch` fetches (`etcd-v3.6.8-linux-amd64.tar.gz`). */
export function etcdTarballName(version: string, arch: HostSpec['arch']): string {
  return `etcd-${version}-linux-${arch}.tar.gz`;
}

/** etcd, etcdctl and (from 3.5, where it first ships) etcdutl from the member's release tarball, sha256-pinned. */
export function etcdReleaseDownloads(spec: ClusterSpec, host: HostSpec): StepDownload[] {
  const version = spec.etcd.version;
  const file = etcdTarballName(version, host.arch);
  const sha256 = spec.mirrors.etcdSha256?.[file];
  if (!sha256) throw new Error(`${host.name}: spec.mirrors.etcdSha256 has no SHA-256 for ${file}`);
  const url = etcdTarballUrl(version, spec.mirrors.etcd).replaceAll('{arch}', host.arch);
  const [major = 0, minor = 0] = version.slice(1).split('.').map(Number);
  const tools = major > 3 || (major === 3 && minor >= 5) ? ['etcd', 'etcdctl', 'etcdutl'] : ['etcd', 'etcdctl'];
  const dir = file.replace(/\.tar\.gz$/, '');
  return tools.map((tool) => ({ url, sha256, member: `${dir}/${tool}`, path: `${ETCD_BIN_DIR}/${tool}` }));
}

/**
 * Why the members cannot be upgraded to spec.etcd.version as the spec stands (empty: they can):
 * binary members need each tarball's digest in spec.mirrors.etcdSha256.
 */
export function etcdUpgradeIssues(spec: ClusterSpec): string[] {
  if (spec.topology === 'stacked' || spec.etcd.mode !== 'binary') return [];
  const files = [...new Set(spec.hosts.filter((h) => h.role === 'etcd').map((h) => etcdTarballName(spec.etcd.version, h.arch)))];
  const missing = files.filter((f) => !spec.mirrors.etcdSha256?.[f]);
  if (missing.length === 0) return [];
  return [
    `spec.mirrors.etcdSha256: no SHA-256 for ${missing.join(', ')}; the agent installs a new etcd only from a pinned tarball: add ${missing.map((f) => `${f}: <sha256>`).join(', ')} (the release's SHA256SUMS, or sha256sum of the file you mirror)`,
  ];
}
