/**
 * kubeadm documents (the API version of the minor's row in generator/versions.ts) built as objects (never string templates). The one place that maps
 * the spec onto kubeadm's API: InitConfiguration, ClusterConfiguration, JoinConfiguration,
 * KubeletConfiguration and KubeProxyConfiguration. Secret values come from a SecretSource, so the
 * same code renders `kubeseed plan` (placeholders) and the coordinator's released steps.
 */

import { MANIFESTS_DIR, PKI_DIR } from '../../protocol/host-paths.ts';
import { osProfile } from '../os/index.ts';
import type { SecretSource } from '../plan/types.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { formatDuration } from '../util/text.ts';
import { versionsFor } from '../versions.ts';

export { PKI_DIR };

export const KUBELET_API = 'kubelet.config.k8s.io/v1beta1';
export const KUBEPROXY_API = 'kubeproxy.config.k8s.io/v1alpha1';
export const CRI_SOCKET = 'unix:///var/run/containerd/containerd.sock';
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

export type KubeadmDocument = Record<string, unknown> & { apiVersion: string; kind: string };

export function endpointString(spec: ClusterSpec): string {
  return `${spec.controlPlaneEndpoint.host}:${spec.controlPlaneEndpoint.port}`;
}

function hostIp(host: HostSpec): string | undefined {
  return host.address?.ip;
}

function nodeRegistration(host: HostSpec): Record<string, unknown> {
  const ip = hostIp(host);
  const reg: Record<string, unknown> = {
    name: host.name,
    criSocket: CRI_SOCKET,
    imagePullPolicy: 'IfNotPresent',
    ...(ip ? { kubeletExtraArgs: [{ name: 'node-ip', value: ip }] } : {}),
  };
  // Omitted taints keep kubeadm's default (control planes get NoSchedule); [] means "none".
  if (host.taints !== undefined)
    reg.taints = host.taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect }));
  return reg;
}

export function etcdEndpoints(spec: ClusterSpec): string[] {
  return spec.hosts.filter((h) => h.role === 'etcd').map((h) => `https://${h.address!.ip}:${ETCD_CLIENT_PORT}`);
}

export function buildClusterConfiguration(spec: ClusterSpec): KubeadmDocument {
  const sans = [
    ...new Set([spec.controlPlaneEndpoint.host, ...spec.certificates.extraSANs, ...(spec.loadBalancer.vip ? [spec.loadBalancer.vip] : [])]),
  ];
  const doc: KubeadmDocument = {
    apiVersion: versionsFor(spec.kubernetesMinor).kubeadmApi,
    kind: 'ClusterConfiguration',
    clusterName: spec.name,
    kubernetesVersion: spec.kubernetesVersion,
    controlPlaneEndpoint: endpointString(spec),
    certificatesDir: PKI_DIR,
    ...(spec.mirrors.imageRepository ? { imageRepository: spec.mirrors.imageRepository } : {}),
    encryptionAlgorithm: spec.certificates.keyAlgorithm,
    networking: {
      podSubnet: spec.networking.podSubnet,
      serviceSubnet: spec.networking.serviceSubnet,
      dnsDomain: spec.networking.dnsDomain,
    },
    apiServer: { certSANs: sans },
    controllerManager: {
      extraArgs: [
        { name: 'node-cidr-mask-size', value: String(spec.networking.nodeCidrMaskSize) },
        ...[osProfile(spec).paths.volumePluginDir].flatMap((dir) => (dir ? [{ name: 'flex-volume-plugin-dir', value: dir }] : [])),
      ],
    },
    etcd:
      spec.topology === 'external-etcd'
        ? {
            external: {
              endpoints: etcdEndpoints(spec),
              caFile: `${PKI_DIR}/etcd/ca.crt`,
              certFile: `${PKI_DIR}/apiserver-etcd-client.crt`,
              keyFile: `${PKI_DIR}/apiserver-etcd-client.key`,
            },
          }
        : { local: { dataDir: '/var/lib/etcd' } },
    ...(spec.kubeProxy.mode === 'disabled' ? { proxy: { disabled: true } } : {}),
  };
  return doc;
}

export function buildInitConfiguration(spec: ClusterSpec, host: HostSpec, secrets: SecretSource): KubeadmDocument {
  const doc: KubeadmDocument = {
    apiVersion: versionsFor(spec.kubernetesMinor).kubeadmApi,
    kind: 'InitConfiguration',
    bootstrapTokens: [
      {
        token: secrets.bootstrapToken(),
        description: 'kubeseed bootstrap token (renewed by the coordinator)',
        ttl: formatDuration(spec.rollout.tokenTTL),
        usages: ['signing', 'authentication'],
        groups: ['system:bootstrappers:kubeadm:default-node-token'],
      },
    ],
    nodeRegistration: nodeRegistration(host),
    localAPIEndpoint: { advertiseAddress: hostIp(host), bindPort: 6443 },
    ...(spec.certificates.distribution === 'upload-certs' ? { certificateKey: secrets.certificateKey() } : {}),
    timeouts: { controlPlaneComponentHealthCheck: '4m0s', kubeletHealthCheck: '4m0s' },
  };
  return doc;
}

export function buildJoinConfiguration(spec: ClusterSpec, host: HostSpec, secrets: SecretSource): KubeadmDocument {
  const controlPlane = host.role === 'control-plane';
  return {
    apiVersion: versionsFor(spec.kubernetesMinor).kubeadmApi,
    kind: 'JoinConfiguration',
    nodeRegistration: nodeRegistration(host),
    caCertPath: `${PKI_DIR}/ca.crt`,
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: endpointString(spec),
        token: secrets.bootstrapToken(),
        caCertHashes: [secrets.discoveryHash()],
      },
    },
    ...(controlPlane
      ? {
          controlPlane: {
            localAPIEndpoint: { advertiseAddress: hostIp(host), bindPort: 6443 },
            ...(spec.certificates.distribution === 'upload-certs' ? { certificateKey: secrets.certificateKey() } : {}),
          },
        }
      : {}),
    // More headroom for the etcd learner add/promote of a joining stacked member.
    timeouts: controlPlane ? { etcdAPICall: '5m0s', discovery: '5m0s' } : { discovery: '5m0s' },
  };
}

export function buildKubeletConfiguration(spec: ClusterSpec): KubeadmDocument {
  // Read-only /usr (Flatcar, Fedora CoreOS): the flex-volume directory moves (generator/os/read-only-usr.ts).
  const pluginDir = osProfile(spec).paths.volumePluginDir;
  return {
    apiVersion: KUBELET_API,
    kind: 'KubeletConfiguration',
    cgroupDriver: 'systemd',
    containerRuntimeEndpoint: CRI_SOCKET,
    serverTLSBootstrap: false,
    ...(pluginDir ? { volumePluginDir: pluginDir } : {}),
  };
}

export function buildKubeProxyConfiguration(spec: ClusterSpec): KubeadmDocument | null {
  if (spec.kubeProxy.mode === 'disabled') return null;
  return {
    apiVersion: KUBEPROXY_API,
    kind: 'KubeProxyConfiguration',
    mode: spec.kubeProxy.mode,
    clusterCIDR: spec.networking.podSubnet,
    ...(spec.kubeProxy.mode === 'ipvs' ? { ipvs: { scheduler: 'rr', strictARP: spec.loadBalancer.type === 'kube-vip' } } : {}),
  };
}

/**
 * External etcd, static-pod mode: the per-member kubeadm config of kubeadm's HA etcd procedure
 * (`kubeadm init phase etcd local --config`).
 */
export function buildEtcdMemberConfiguration(spec: ClusterSpec, member: HostSpec): KubeadmDocument[] {
  const members = spec.hosts.filter((h) => h.role === 'etcd');
  const ip = member.address!.ip;
  const initialCluster = members.map((m) => `${m.name}=https://${m.address!.ip}:${ETCD_PEER_PORT}`).join(',');
  return [
    {
      apiVersion: versionsFor(spec.kubernetesMinor).kubeadmApi,
      kind: 'InitConfiguration',
      nodeRegistration: { name: member.name, criSocket: CRI_SOCKET },
      localAPIEndpoint: { advertiseAddress: ip, bindPort: 6443 },
    },
    {
      apiVersion: versionsFor(spec.kubernetesMinor).kubeadmApi,
      kind: 'ClusterConfiguration',
      clusterName: spec.name,
      kubernetesVersion: spec.kubernetesVersion,
      certificatesDir: PKI_DIR,
      ...(spec.mirrors.imageRepository ? { imageRepository: spec.mirrors.imageRepository } : {}),
      etcd: {
        local: {
          dataDir: '/var/lib/etcd',
          ...(spec.etcd.version ? { imageTag: `${spec.etcd.version.slice(1)}-0` } : {}),
          serverCertSANs: [ip, ...(member.fqdn ? [member.fqdn] : [])],
          peerCertSANs: [ip, ...(member.fqdn ? [member.fqdn] : [])],
          extraArgs: [
            { name: 'initial-cluster', value: initialCluster },
            { name: 'initial-cluster-state', value: 'new' },
            { name: 'initial-cluster-token', value: `${spec.name}-etcd` },
            { name: 'name', value: member.name },
            { name: 'listen-peer-urls', value: `https://${ip}:${ETCD_PEER_PORT}` },
            { name: 'listen-client-urls', value: `https://${ip}:${ETCD_CLIENT_PORT},https://127.0.0.1:${ETCD_CLIENT_PORT}` },
            { name: 'advertise-client-urls', value: `https://${ip}:${ETCD_CLIENT_PORT}` },
            { name: 'initial-advertise-peer-urls', value: `https://${ip}:${ETCD_PEER_PORT}` },
          ],
        },
      },
    },
  ];
}

/** The kubelet configuration of an external etcd host: a bare static-pod runner (kubeadm's HA etcd procedure). */
export function buildEtcdHostKubeletConfiguration(): KubeadmDocument {
  return {
    apiVersion: KUBELET_API,
    kind: 'KubeletConfiguration',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    cgroupDriver: 'systemd',
    address: '127.0.0.1',
    containerRuntimeEndpoint: CRI_SOCKET,
    staticPodPath: MANIFESTS_DIR,
  };
}
