/**
 * systemd-sysext images for Flatcar: where kubelet/kubeadm/kubectl and containerd ≥ 2.0 come
 * from when `/usr` is read-only and there is no package manager. The containerd image is only
 * stored: the host links it at boot when the built-in containerd is older than 2.0
 * (templates/containerd-flatcar.ts, docs/adr/0021-flatcar-containerd.md). Not for Fedora CoreOS:
 * the images carry no SELinux labels (`generator/os/fedora-coreos-rpm.ts`, docs/adr/0023).
 *
 * The default source is the Flatcar sysext-bakery (https://extensions.flatcar.org/extensions/,
 * file names `kubernetes-v<version>-<arch>.raw` and `containerd-<version>-<arch>.raw`);
 * `spec.mirrors.sysext` replaces the base URL for air-gapped sites (same file names).
 * Each image is fetched by Ignition into `/opt/extensions/<name>/<file>` and linked as
 * `/etc/extensions/<name>.raw`, which `systemd-sysext.service` merges at boot. An image whose
 * SHA-256 `spec.mirrors.sysextSha256` names (by file name) carries it as `verification.hash`;
 * validation says which images go without (generator/spec/integrity.ts).
 *
 * Runtime contract: pure.
 */
import type { ClusterSpec, HostArch } from '../spec/types.ts';
import { containerdVersionOf } from '../versions.ts';

export const DEFAULT_SYSEXT_BASE = 'https://extensions.flatcar.org/extensions/';

export type SysextArch = HostArch;

export interface SysextImage {
  /** Extension name: the `/etc/extensions/<name>.raw` link. */
  name: 'kubernetes' | 'containerd';
  version: string;
  fileName: string;
  /** Where Ignition fetches it from. */
  url: string;
  /** Where the image is stored on the host. */
  storePath: string;
  /** The link systemd-sysext reads. */
  linkPath: string;
  /** `ignition`: Ignition writes the link; `boot`: the host decides at boot (Flatcar's containerd). */
  linkedBy: 'ignition' | 'boot';
  /** `sha256-<hex>` from `spec.mirrors.sysextSha256`, for Ignition's `verification.hash`. */
  hash?: string;
}

export interface SysextOptions {
  arch?: SysextArch;
  /** Default `containerdVersionOf(spec)`: `spec.os.containerdVersion`, else the version table's. */
  containerdVersion?: string;
}

/** The bakery's architecture suffix. */
export function toSysextArch(arch: SysextArch): 'x86-64' | 'arm64' {
  return arch === 'amd64' ? 'x86-64' : 'arm64';
}

/** Base URL of the sysext images, always ending with `/`. */
export function resolveSysextBase(spec: ClusterSpec): string {
  const base = spec.mirrors.sysext ?? DEFAULT_SYSEXT_BASE;
  return base.endsWith('/') ? base : `${base}/`;
}

/** The images a Kubernetes node needs: kubernetes (kubelet, kubeadm, kubectl, kubelet.service) and containerd. */
export function planSysextImages(spec: ClusterSpec, opts: SysextOptions = {}): SysextImage[] {
  const arch = toSysextArch(opts.arch ?? 'amd64');
  const base = resolveSysextBase(spec);
  const k8sVersion = spec.kubernetesVersion.startsWith('v') ? spec.kubernetesVersion : `v${spec.kubernetesVersion}`;
  const containerdVersion = (opts.containerdVersion ?? containerdVersionOf(spec)).replace(/^v/, '');
  const major = Number(containerdVersion.split('.')[0]);
  if (!Number.isInteger(major) || major < 2) {
    throw new Error(
      `containerd sysext version ${containerdVersion} is older than 2.0; kubelet 1.38 needs containerd ≥ 2.0 — pick a 2.x image`,
    );
  }
  const images: Array<Pick<SysextImage, 'name' | 'version' | 'fileName'>> = [
    { name: 'kubernetes', version: k8sVersion, fileName: `kubernetes-${k8sVersion}-${arch}.raw` },
    { name: 'containerd', version: containerdVersion, fileName: `containerd-${containerdVersion}-${arch}.raw` },
  ];
  return images.map((img) => {
    const sha256 = spec.mirrors.sysextSha256?.[img.fileName];
    return {
      ...img,
      url: `${base}${img.fileName}`,
      storePath: `/opt/extensions/${img.name}/${img.fileName}`,
      linkPath: `/etc/extensions/${img.name}.raw`,
      linkedBy: img.name === 'containerd' ? ('boot' as const) : ('ignition' as const),
      ...(sha256 ? { hash: `sha256-${sha256}` } : {}),
    };
  });
}

/**
 * Flatcar's built-in extensions masked on every node: docker is not used by kubeadm and needs the
 * built-in containerd. The built-in containerd itself is masked only when the host picks the
 * extension image at boot (templates/containerd-flatcar.ts).
 */
export const FLATCAR_BUILTIN_EXTENSIONS_TO_MASK = ['/etc/extensions/docker-flatcar.raw'] as const;
