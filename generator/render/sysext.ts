/**
 * systemd-sysext images for Flatcar: where kubelet/kubeadm/kubectl and containerd ≥ 2.0 come
 * from when `/usr` is read-only and there is no package manager. Not for Fedora CoreOS: the images
 * carry no SELinux labels (`ignition-fcos.ts`, docs/adr/0023).
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
import type { ClusterSpec } from '../spec/types.ts';

export const DEFAULT_SYSEXT_BASE = 'https://extensions.flatcar.org/extensions/';
/** containerd release packaged by the bakery that kubeseed defaults to (≥ 2.0: kubelet 1.38 requires it). */
export const DEFAULT_CONTAINERD_SYSEXT_VERSION = '2.1.4';

export type SysextArch = 'amd64' | 'arm64';

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
  /** `sha256-<hex>` from `spec.mirrors.sysextSha256`, for Ignition's `verification.hash`. */
  hash?: string;
}

export interface SysextOptions {
  arch?: SysextArch;
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
  const containerdVersion = (opts.containerdVersion ?? DEFAULT_CONTAINERD_SYSEXT_VERSION).replace(/^v/, '');
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
      ...(sha256 ? { hash: `sha256-${sha256}` } : {}),
    };
  });
}

/**
 * Flatcar's built-in extensions that must be masked so that only the bakery's containerd runs:
 * the built-in containerd follows the OS release and may be older than 2.0, and the built-in
 * docker brings its own containerd unit on the same socket.
 */
export const FLATCAR_BUILTIN_EXTENSIONS_TO_MASK = ['/etc/extensions/containerd-flatcar.raw', '/etc/extensions/docker-flatcar.raw'] as const;
