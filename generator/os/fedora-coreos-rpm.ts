/**
 * The Fedora CoreOS part of an Ignition config (docs/adr/0023): instead of systemd-sysext images
 * (built without SELinux labels, and merging one that ships /usr/local hides FCOS's writable
 * /var/usrlocal), kubelet, kubeadm, kubectl and cri-tools are layered with rpm-ostree from the
 * pkgs.k8s.io RPM repository of the spec's minor (or `mirrors.kubernetesRpm`); containerd is the
 * one Fedora CoreOS ships (Fedora's package, 2.x since Fedora 42; the agent's preflight refuses
 * anything older). Through `spec.proxy`, rpm-ostreed gets the proxy in a drop-in (it is a
 * D-Bus-activated daemon: the client's environment never reaches it).
 *
 * Runtime contract: pure.
 */
import {
  AGENT_UNIT_NAME,
  KUBERNETES_RPM_KEY_PATH,
  KUBERNETES_RPM_REPO_PATH,
  kubernetesRpmKeyUrl,
  kubernetesRpmRepoUrl,
  RPM_OSTREE_INSTALL_UNIT,
  renderContainerdProxyDropin,
  renderKubernetesRpmRepo,
  renderRpmOstreeInstallUnit,
} from '../../templates/index.ts';
import type { ClusterSpec } from '../spec/types.ts';

const RPM_OSTREED_PROXY_DROPIN = '/etc/systemd/system/rpm-ostreed.service.d/http-proxy.conf';

export interface FedoraCoreOsPackages {
  /** Files with inline content. */
  files: { path: string; content: string; mode: number }[];
  /** Files Ignition fetches: the repository key. */
  remote: { path: string; source: string }[];
  units: { name: string; enabled: true; contents: string }[];
}

/** The RPM repository base URL (always ending in `/`) and its key URL. */
function resolveKubernetesRpm(spec: ClusterSpec): { repoUrl: string; keyUrl: string } {
  const base = spec.mirrors.kubernetesRpm ?? kubernetesRpmRepoUrl(spec.kubernetesVersion);
  const repoUrl = base.endsWith('/') ? base : `${base}/`;
  return { repoUrl, keyUrl: spec.mirrors.kubernetesRpmKey ?? kubernetesRpmKeyUrl(repoUrl) };
}

export function planFedoraCoreOsPackages(
  spec: ClusterSpec,
  proxy: { httpProxy?: string; httpsProxy?: string; noProxy: string[] } | undefined,
): FedoraCoreOsPackages {
  const { repoUrl, keyUrl } = resolveKubernetesRpm(spec);
  const files: FedoraCoreOsPackages['files'] = [
    {
      path: KUBERNETES_RPM_REPO_PATH,
      content: renderKubernetesRpmRepo({ kubernetesVersion: spec.kubernetesVersion, repoUrl }),
      mode: 0o644,
    },
  ];
  if (proxy) {
    const settings = { http: proxy.httpProxy, https: proxy.httpsProxy, noProxy: proxy.noProxy };
    files.push({
      path: RPM_OSTREED_PROXY_DROPIN,
      content: renderContainerdProxyDropin(settings, 'rpm-ostreed fetches repository metadata and RPMs'),
      mode: 0o644,
    });
  }
  return {
    files,
    remote: [{ path: KUBERNETES_RPM_KEY_PATH, source: keyUrl }],
    units: [
      {
        name: RPM_OSTREE_INSTALL_UNIT,
        enabled: true,
        contents: renderRpmOstreeInstallUnit({ kubernetesVersion: spec.kubernetesVersion, before: ['kubelet.service', AGENT_UNIT_NAME] }),
      },
    ],
  };
}
