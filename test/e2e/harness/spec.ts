/**
 * Cluster specs for the e2e scenarios: one subnet per scenario, the coordinator at .5, the VIP at
 * .10, hosts named by role. `renderSpec` writes the YAML that `kubeseed generate` reads.
 */
import type { Role } from '../../../protocol/index.ts';

export interface E2eHost {
  name: string;
  role: Role;
  /** Last octet in the scenario subnet. */
  octet: number;
  mac?: string;
}

export interface E2eSpec {
  /** Short id used in names (namespaces, cluster name). */
  id: string;
  /** First three octets, e.g. `10.231.1`. */
  subnet: string;
  topology: 'stacked' | 'external-etcd';
  certificates: 'coordinator' | 'upload-certs';
  packages: 'preinstalled' | 'install';
  hosts: E2eHost[];
  /** Extra YAML lines inside `spec:` (indented two spaces), e.g. etcd, mirrors, testing. */
  extra?: string[];
  kubernetesVersion?: string;
  /** Other coordinator replicas (spec.coordinator.replicaUrls). */
  replicaUrls?: string[];
}

export const API_HOST = 'api.e2e.test';
export const COORDINATOR_PORT = 9443;

export function coordinatorIp(spec: E2eSpec): string {
  return `${spec.subnet}.5`;
}

export function vip(spec: E2eSpec): string {
  return `${spec.subnet}.10`;
}

export function hostIp(spec: E2eSpec, host: E2eHost): string {
  return `${spec.subnet}.${host.octet}`;
}

/** The standard fleet: `lb` load balancers, `cp` control planes, `w` workers, `etcd` members. */
export function fleet(counts: { lb: number; cp: number; w: number; etcd?: number }): E2eHost[] {
  const hosts: E2eHost[] = [];
  for (let i = 1; i <= counts.lb; i++) hosts.push({ name: `lb${i}`, role: 'load-balancer', octet: 10 + i });
  for (let i = 1; i <= (counts.etcd ?? 0); i++) hosts.push({ name: `etcd${i}`, role: 'etcd', octet: 40 + i });
  for (let i = 1; i <= counts.cp; i++) hosts.push({ name: `cp${i}`, role: 'control-plane', octet: 20 + i });
  for (let i = 1; i <= counts.w; i++) hosts.push({ name: `w${i}`, role: 'worker', octet: 30 + i });
  return hosts;
}

/** Debian 12's etcd 3.4 in binary mode, allowed by the test-only spec.testing.allowOldEtcd: the external-etcd scenarios' real members. */
export const DEBIAN_ETCD = [
  'etcd:',
  '  mode: binary',
  '  version: v3.4.23',
  'testing:',
  '  allowOldEtcd: true',
  '  reason: Debian 12 ships etcd 3.4 only; the e2e harness uses it to prove the TLS and bootstrap wiring',
];

export function renderSpec(spec: E2eSpec): string {
  const lines = [
    'apiVersion: kubeseed.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    `  name: e2e-${spec.id.toLowerCase()}`,
    'spec:',
    `  kubernetesVersion: ${spec.kubernetesVersion ?? 'v1.37.1'}`,
    `  topology: ${spec.topology}`,
    `  controlPlaneEndpoint: ${API_HOST}:6443`,
    '  networking:',
    '    podSubnet: 10.244.0.0/16',
    '    serviceSubnet: 10.96.0.0/16',
    '    hostsFile: true',
    '  cni:',
    '    plugin: none',
    '  loadBalancer:',
    '    type: haproxy-keepalived',
    `    vip: ${vip(spec)}`,
    '    interface: eth0',
    '    virtualRouterId: 51',
    '  certificates:',
    `    distribution: ${spec.certificates}`,
    '    keyAlgorithm: ECDSA-P256',
    '  os:',
    '    family: debian',
    '    platform: generic',
    `    packages: ${spec.packages}`,
    '  coordinator:',
    `    url: https://${coordinatorIp(spec)}:${COORDINATOR_PORT}`,
    `    listen: 0.0.0.0:${COORDINATOR_PORT}`,
    ...(spec.replicaUrls?.length ? ['    replicaUrls:', ...spec.replicaUrls.map((u) => `      - ${u}`)] : []),
    ...(spec.extra ?? []).map((l) => `  ${l}`),
    '  hosts:',
    ...spec.hosts.map(
      (h) => `    - { name: ${h.name}, role: ${h.role}, address: ${hostIp(spec, h)}/24${h.mac ? `, mac: "${h.mac}"` : ''} }`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
