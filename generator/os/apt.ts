/**
 * The apt families' host preparation (Ubuntu, Debian): the prepare script the agent's prepare-host
 * step runs (templates/prepare-host.ts) and what it installs, from the spec. The profiles in
 * `ubuntu.ts` and `debian.ts` share it.
 *
 * Runtime contract: pure.
 */
import {
  etcdTarballUrl,
  listPrepareHostPackages,
  type PrepareHostParams,
  renderKubernetesAptSourceScript,
  renderPrepareHostScript,
} from '../../templates/index.ts';
import { proxySettings } from '../plan/proxy.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { containerdVersionOf } from '../versions.ts';
import type { OsCloudInit, OsProfile } from './types.ts';

/** Where the plan writes containerd's config; the prepare script moves it into place after the package install (which ships its own). */
export const CONTAINERD_CONFIG_SOURCE = '/etc/kubeseed/containerd-config.toml';

/** The apt families' preparation: the prepare script and what it installs (nothing on preinstalled images). */
const APT_PREPARATION: OsCloudInit = {
  renderPrepareScript: (spec, role) => renderPrepareHostScript(prepareParams(spec, role)),
  packages: (spec, role) => listPrepareHostPackages(prepareParams(spec, role)),
};

/** What Ubuntu and Debian share: cloud-init, a writable /usr/local, the apt prepare script. */
export const APT_FAMILY: Omit<OsProfile, 'family' | 'pxe'> = {
  format: 'cloud-init',
  paths: { agent: '/usr/local/bin/kubeseed-agent', tools: '/usr/local/bin', containerdConfig: CONTAINERD_CONFIG_SOURCE },
  selinux: false,
  cloudInit: APT_PREPARATION,
};

function prepareParams(spec: ClusterSpec, role: HostSpec['role']): PrepareHostParams {
  const extra: string[] = [];
  const services: string[] = [];
  if (role === 'load-balancer') {
    const nginx = spec.loadBalancer.type === 'nginx-keepalived';
    // `nginx` with the stream module package: nginx-light is gone from Debian 13.
    extra.push(...(nginx ? ['nginx', 'libnginx-mod-stream'] : ['haproxy']));
    services.push(nginx ? 'nginx' : 'haproxy');
    if (spec.hosts.filter((h) => h.role === 'load-balancer').length >= 2) {
      extra.push('keepalived');
      services.push('keepalived');
    }
  }
  // One containerd version (generator/versions.ts): a tarball mirror's `{version}`; Docker's repository
  // is pinned only to a version the spec names (it keeps its own newest 2.x otherwise).
  const containerdMirror = spec.mirrors.containerd?.replaceAll('{version}', containerdVersionOf(spec));
  const containerd: PrepareHostParams['containerd'] = containerdMirror?.endsWith('.tar.gz')
    ? { source: 'tarball', tarballUrl: containerdMirror, runcUrl: containerdMirror.replace(/[^/]*$/, 'runc.{arch}') }
    : {
        source: 'docker-apt',
        ...(containerdMirror ? { repoUrl: containerdMirror } : {}),
        ...(spec.mirrors.containerdKey ? { keyUrl: spec.mirrors.containerdKey } : {}),
        ...(spec.os.containerdVersion ? { versionPrefix: `${spec.os.containerdVersion}-` } : {}),
      };
  const binaryEtcd = role === 'etcd' && spec.etcd.mode === 'binary';
  return {
    kubernetesVersion: spec.kubernetesVersion,
    packagesMode: spec.os.packages,
    // Load balancers and binary etcd members run no kubelet: no containerd, kubeadm or kernel settings.
    kubernetesNode: role !== 'load-balancer' && !binaryEtcd,
    ...(binaryEtcd ? { etcd: { tarballUrl: etcdTarballUrl(spec.etcd.version, spec.mirrors.etcd) } } : {}),
    ...(spec.mirrors.kubernetesApt ? { kubernetesAptUrl: spec.mirrors.kubernetesApt } : {}),
    ...(spec.mirrors.kubernetesAptKey ? { kubernetesAptKeyUrl: spec.mirrors.kubernetesAptKey } : {}),
    containerd,
    extraPackages: extra,
    ipvs: spec.kubeProxy.mode === 'ipvs' && (role === 'control-plane' || role === 'worker'),
    proxy: proxySettings(spec),
    timeServers: spec.os.timeServers,
    containerdConfigSource: CONTAINERD_CONFIG_SOURCE,
    enableServices: services,
  };
}

/**
 * Day 2 (`kubeseed upgrade`): the script that moves a host's Kubernetes apt source to the spec's
 * minor (pkgs.k8s.io's repository of it, or spec.mirrors.kubernetesApt) before the packages are
 * installed — what the prepare script wrote at first boot, for the target version.
 */
export function renderKubernetesAptSource(spec: ClusterSpec): string {
  return renderKubernetesAptSourceScript({
    kubernetesVersion: spec.kubernetesVersion,
    ...(spec.mirrors.kubernetesApt ? { kubernetesAptUrl: spec.mirrors.kubernetesApt } : {}),
    ...(spec.mirrors.kubernetesAptKey ? { kubernetesAptKeyUrl: spec.mirrors.kubernetesAptKey } : {}),
    proxy: proxySettings(spec),
  });
}
