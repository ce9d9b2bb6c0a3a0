/**
 * Normalized ClusterSpec objects for PKI and state tests, built directly (independent of
 * parseSpec): an external-etcd cluster with 3 etcd members, 3 control planes and workers.
 */
import type { ClusterSpec, HostSpec, KeyAlgorithm, Topology } from '../../../generator/spec/types.ts';

export function makeHost(name: string, role: HostSpec['role'], ip?: string, extra: Partial<HostSpec> = {}): HostSpec {
  return {
    name,
    role,
    fqdn: `${name}.kloud.lan`,
    ...(ip ? { address: { ip, prefix: 24, cidr: `${ip}/24` } } : {}),
    nameservers: [],
    labels: {},
    interface: 'eth0',
    arch: 'amd64',
    ...extra,
  };
}

export function makeSpec(
  options: {
    topology?: Topology;
    keyAlgorithm?: KeyAlgorithm;
    hosts?: HostSpec[];
    kubernetesMinor?: number;
    coordinatorUrl?: string;
    fleet?: boolean;
    etcdSubnet?: string;
  } = {},
): ClusterSpec {
  const topology = options.topology ?? 'external-etcd';
  const net = options.etcdSubnet ?? '10.101.1';
  const minor = options.kubernetesMinor ?? 37;
  const hosts = options.hosts ?? [
    ...(topology === 'external-etcd' ? [1, 2, 3].map((i) => makeHost(`etcd${i}`, 'etcd', `${net}.${20 + i}`)) : []),
    ...[1, 2, 3].map((i) => makeHost(`master${i}`, 'control-plane', `${net}.${100 + i}`)),
    makeHost('worker1', 'worker', `${net}.201`),
    makeHost('worker2', 'worker'),
  ];
  return {
    apiVersion: 'kubeseed.dev/v1alpha1',
    kind: 'Cluster',
    name: 'k8s1-cluster',
    kubernetesVersion: `v1.${minor}.0`,
    kubernetesMinor: minor,
    topology,
    controlPlaneEndpoint: { host: 'k8s1api.kloud.lan', port: 6443 },
    networking: {
      podSubnet: '100.64.0.0/16',
      serviceSubnet: '198.18.0.0/23',
      dnsDomain: 'cluster.local',
      nodeCidrMaskSize: 24,
      hostsFile: false,
    },
    kubeProxy: { mode: 'iptables' },
    cni: { plugin: 'calico', version: 'v3.30.0' },
    loadBalancer: { type: 'haproxy-keepalived', vip: `${net}.10`, interface: 'eth0', virtualRouterId: 51 },
    etcd: { mode: 'static-pod', version: 'v3.6.5' },
    certificates: { distribution: 'coordinator', keyAlgorithm: options.keyAlgorithm ?? 'ECDSA-P256', extraSANs: [] },
    os: { family: 'ubuntu', format: 'cloud-init', platform: 'generic', packages: 'install', timeServers: [], sshAuthorizedKeys: [] },
    proxy: { noProxy: [] },
    mirrors: { registryMirrors: {} },
    proxmox: {},
    coordinator: { url: options.coordinatorUrl ?? 'https://10.101.1.5:9443', listen: '0.0.0.0:9443', httpListen: '', replicaUrls: [] },
    fleet: { enabled: options.fleet ?? false },
    day2: { keepAgent: true },
    rollout: { controlPlaneParallelism: 1, workerParallelism: 20, tokenTTL: 3600 },
    hosts,
    testing: { allowOldEtcd: false },
  };
}
