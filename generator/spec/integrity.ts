/**
 * What Ignition hosts fetch as root and how each download is checked (docs/security.md, ADR 0020):
 * - the agent always carries the SHA-256 of the build (`kubeseed generate` reads it; the cloud-init
 *   path checks the digest the coordinator publishes over the pinned CA), so `mirrors.agent` may
 *   be plain HTTP;
 * - a system extension image (Flatcar only; Fedora CoreOS layers RPMs, ADR 0023) is checked only when `mirrors.sysextSha256` names its digest. From a
 *   plain-HTTP source an image without one is refused (anyone on the path could swap the kubelet or
 *   containerd); from https it is a warning, trusted through TLS only (`--strict` refuses it).
 * The image list is the one Ignition is rendered with (render/sysext.ts), so both name the same files.
 * Pure.
 */
import { planSysextImages, resolveSysextBase, type SysextArch } from '../render/sysext.ts';
import type { SpecReader } from './reader.ts';
import type { ClusterSpec } from './types.ts';

const DIGESTS = ['spec', 'mirrors', 'sysextSha256'];

/**
 * The architectures Ignition configs fetch the agent and images for: every host's `arch`, and amd64
 * for the fleet config (it names no host). Sorted, each once.
 */
export function architecturesOf(spec: ClusterSpec): SysextArch[] {
  const arches = new Set<SysextArch>(spec.hosts.map((h) => h.arch));
  if (spec.fleet.enabled) arches.add('amd64');
  return [...arches].sort();
}

export function checkDownloadIntegrity(spec: ClusterSpec, r: SpecReader): void {
  const digests = spec.mirrors.sysextSha256 ?? {};
  if (spec.os.family !== 'flatcar') {
    if (Object.keys(digests).length > 0)
      r.warn(DIGESTS, `is ignored: only Flatcar hosts fetch system extension images (Fedora CoreOS layers RPMs)`, 'key');
    return;
  }
  const arches = architecturesOf(spec);
  let files: string[];
  try {
    files = [...new Set(arches.flatMap((arch) => planSysextImages(spec, { arch }).map((img) => img.fileName)))];
  } catch {
    return; // a version the images cannot be made for is reported where that version is set
  }
  const base = resolveSysextBase(spec);
  const unhashed = files.filter((f) => digests[f] === undefined);
  const where: string[] = spec.mirrors.sysext ? ['spec', 'mirrors', 'sysext'] : ['spec', 'os', 'family'];
  const fix = `add spec.mirrors.sysextSha256 with each file's SHA-256 (${unhashed.map((f) => `${f}: <sha256>`).join(', ')}) from the bakery's SHA256SUMS or \`sha256sum\` of the files you mirror`;
  if (unhashed.length > 0 && base.startsWith('http://')) {
    r.error(
      where,
      `${base} is plain HTTP and ${unhashed.join(', ')} ${unhashed.length === 1 ? 'has' : 'have'} no digest: anyone on the path could replace the kubelet or containerd that hosts run as root; ${fix}, or serve the images over https`,
    );
  } else if (unhashed.length > 0) {
    r.warn(
      where,
      `${unhashed.join(', ')} from ${base} ${unhashed.length === 1 ? 'has' : 'have'} no digest, so Ignition does not check ${unhashed.length === 1 ? 'it' : 'them'}: trusted through TLS only (whoever holds a certificate for that host); ${fix}`,
    );
  }
  for (const name of Object.keys(digests)) {
    if (!files.includes(name))
      r.warn([...DIGESTS, name], `no host fetches ${name} (they fetch ${files.join(', ')}); check the file name and version`, 'key');
  }
}
