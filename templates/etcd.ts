/**
 * External etcd, the two ways kubeseed runs it: upstream etcd (≥ 3.5) as a systemd service with
 * TLS client and peer authentication (`renderEtcdUnit`, flags as kubeadm sets them on its own etcd
 * static pod), or kubeadm's "HA etcd with kubeadm" procedure, where the kubelet is a bare
 * static-pod runner (`renderEtcdKubeletDropin` + `etcdKubeletConfiguration`). Pure.
 */
import { assertIp, assertName, assertPath, assertPort, hostPort, joinLines, TemplateInputError } from './text.ts';

export interface EtcdMember {
  /** The member name (`--name`), the host's name. */
  name: string;
  /** The member's own address (peer and client URLs). */
  ip: string;
}

export interface EtcdUnitParams {
  /** This member; must be one of `members`. */
  name: string;
  ip: string;
  /** Every member of the initial cluster, in spec order. */
  members: readonly EtcdMember[];
  /** `--initial-cluster-token`: unique per cluster (e.g. the cluster name), so two clusters never mix members. */
  initialClusterToken: string;
  /** Default `/usr/local/bin/etcd`. */
  etcdPath?: string;
  /** Default `/var/lib/etcd`. */
  dataDir?: string;
  /** Directory with ca.crt, server.{crt,key}, peer.{crt,key} (default kubeadm's `/etc/kubernetes/pki/etcd`). */
  pkiDir?: string;
  clientPort?: number;
  peerPort?: number;
  /** Plain-HTTP metrics/health on loopback only (default 2381, kubeadm's). */
  metricsPort?: number;
}

export function renderEtcdUnit(p: EtcdUnitParams): string {
  const name = assertName(p.name, 'etcd name');
  const ip = assertIp(p.ip, 'etcd ip');
  const clientPort = assertPort(p.clientPort ?? 2379, 'etcd clientPort');
  const peerPort = assertPort(p.peerPort ?? 2380, 'etcd peerPort');
  const metricsPort = assertPort(p.metricsPort ?? 2381, 'etcd metricsPort');
  if (!/^[A-Za-z0-9._-]+$/.test(p.initialClusterToken))
    throw new TemplateInputError(`etcd initialClusterToken: '${p.initialClusterToken}' may only hold letters, digits, '.', '_' and '-'`);
  const self = p.members.find((m) => m.name === name);
  if (!self) throw new TemplateInputError(`etcd: member '${name}' is not in the initial cluster`);
  if (self.ip !== ip) throw new TemplateInputError(`etcd: member '${name}' has ${self.ip} in the initial cluster but ${ip} as its address`);
  const initialCluster = p.members
    .map((m) => `${assertName(m.name, 'etcd member name')}=https://${hostPort(assertIp(m.ip, `etcd member ${m.name}`), peerPort)}`)
    .join(',');
  const pki = assertPath(p.pkiDir ?? '/etc/kubernetes/pki/etcd', 'etcd pkiDir');
  const flags = [
    `--name=${name}`,
    `--data-dir=${assertPath(p.dataDir ?? '/var/lib/etcd', 'etcd dataDir')}`,
    `--listen-client-urls=https://${hostPort(ip, clientPort)},https://127.0.0.1:${clientPort}`,
    `--advertise-client-urls=https://${hostPort(ip, clientPort)}`,
    `--listen-peer-urls=https://${hostPort(ip, peerPort)}`,
    `--initial-advertise-peer-urls=https://${hostPort(ip, peerPort)}`,
    `--initial-cluster=${initialCluster}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${p.initialClusterToken}`,
    '--client-cert-auth=true',
    `--trusted-ca-file=${pki}/ca.crt`,
    `--cert-file=${pki}/server.crt`,
    `--key-file=${pki}/server.key`,
    '--peer-client-cert-auth=true',
    `--peer-trusted-ca-file=${pki}/ca.crt`,
    `--peer-cert-file=${pki}/peer.crt`,
    `--peer-key-file=${pki}/peer.key`,
    `--listen-metrics-urls=http://127.0.0.1:${metricsPort}`,
    '--snapshot-count=10000',
  ];
  return joinLines([
    '# kubeseed: upstream etcd as a systemd service (external etcd topology, etcd.mode: binary).',
    '# Members start together with initial-cluster-state=new; a replaced member must be added with',
    '# `etcdctl member add` and started with --initial-cluster-state=existing instead.',
    '[Unit]',
    'Description=etcd key-value store (kubeseed external etcd member)',
    'Documentation=https://etcd.io/docs/',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=notify',
    `ExecStart=${assertPath(p.etcdPath ?? '/usr/local/bin/etcd', 'etcd etcdPath')} \\`,
    ...flags.map((f, i) => `  ${f}${i < flags.length - 1 ? ' \\' : ''}`),
    'Restart=always',
    'RestartSec=5s',
    'LimitNOFILE=65536',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ]);
}

export interface EtcdKubeletDropinParams {
  /** The KubeletConfiguration file of the bare static-pod runner (default `/etc/kubernetes/kubelet-etcd.yaml`). */
  kubeletConfigPath?: string;
  /** Default `/usr/bin/kubelet` (the pkgs.k8s.io package). */
  kubeletPath?: string;
}

export const ETCD_KUBELET_DROPIN_PATH = '/etc/systemd/system/kubelet.service.d/20-etcd-service-manager.conf';

/**
 * `20-etcd-service-manager.conf` of kubeadm's HA etcd procedure: it replaces kubeadm's kubelet
 * flags (the empty `ExecStart=` clears the packaged command line) with a kubelet that only runs
 * static pods from its own config. Sorts after the packaged `10-kubeadm.conf`, so it wins.
 */
export function renderEtcdKubeletDropin(p: EtcdKubeletDropinParams = {}): string {
  const config = assertPath(p.kubeletConfigPath ?? '/etc/kubernetes/kubelet-etcd.yaml', 'kubeletConfigPath');
  return joinLines([
    '# kubeseed: the kubelet runs only the etcd static pod on this host (kubeadm HA etcd procedure).',
    '[Service]',
    'ExecStart=',
    `ExecStart=${assertPath(p.kubeletPath ?? '/usr/bin/kubelet', 'kubeletPath')} --config=${config}`,
    'Restart=always',
  ]);
}

/**
 * The KubeletConfiguration of that bare static-pod runner, as a plain object for the caller's
 * YAML serializer (kubeadm.md §4.1).
 */
export function etcdKubeletConfiguration(): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    cgroupDriver: 'systemd',
    address: '127.0.0.1',
    containerRuntimeEndpoint: 'unix:///var/run/containerd/containerd.sock',
    staticPodPath: '/etc/kubernetes/manifests',
  };
}
