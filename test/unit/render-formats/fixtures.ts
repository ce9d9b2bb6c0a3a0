/**
 * Hand-built specs and provisionings for the format renderers (Ignition, ISO, Proxmox, PXE).
 * They mirror what planCluster produces for a host: an agent configuration with the
 * enrollment credential (0600), containerd/kernel files, the agent unit and a few commands.
 */
import type { Provisioning } from '../../../generator/plan/types.ts';
import type { ClusterSpec, HostSpec, OsFamily } from '../../../generator/spec/types.ts';

/** A real (throwaway, key discarded) self-signed certificate: Ignition parses the CA bundle. */
export const TEST_CA_PEM = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBpTCCAUugAwIBAgIUacz5tnmlLclQ7SsiW0+4W7EROzwwCgYIKoZIzj0EAwIw',
  'JzElMCMGA1UEAwwca3ViZXNlZWQgdGVzdCBjb29yZGluYXRvciBDQTAgFw0yNjEx',
  'MjIwNzQ0MzhaGA8yMTI2MTAyOTA3NDQzOFowJzElMCMGA1UEAwwca3ViZXNlZWQg',
  'dGVzdCBjb29yZGluYXRvciBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCTJ',
  'L9bpXN+8gU8rshpIm9rylUDPgSdwqeMEFPnZglzIFaMH+pdlRX8vBZBQVWtFoCwc',
  'oXzoUHX2AyPemWmTpvqjUzBRMB0GA1UdDgQWBBTOb5DAapsQk6DjawrwcFTyXAkI',
  '5zAfBgNVHSMEGDAWgBTOb5DAapsQk6DjawrwcFTyXAkI5zAPBgNVHRMBAf8EBTAD',
  'AQH/MAoGCCqGSM49BAMCA0gAMEUCIHb59F9crHzLVidbIY0SX4VWQS5/WRETQa6x',
  '++YZTjMlAiEAk5D0RpxPnroKVL3SbM+VSRB1AKX3eKW50u8j80gOgcM=',
  '-----END CERTIFICATE-----',
  '',
].join('\n');

export function makeHost(name: string, overrides: Partial<HostSpec> = {}): HostSpec {
  return {
    name,
    role: 'control-plane',
    fqdn: `${name}.kloud.lan`,
    address: { ip: '10.101.1.101', prefix: 24, cidr: '10.101.1.101/24' },
    gateway: '10.101.1.1',
    nameservers: ['10.101.1.1'],
    mac: '52:54:00:12:34:56',
    labels: {},
    interface: 'eth0',
    arch: 'amd64',
    ...overrides,
  };
}

export function makeSpec(family: OsFamily, overrides: Partial<ClusterSpec> = {}): ClusterSpec {
  const format = family === 'flatcar' || family === 'fedora-coreos' ? 'ignition' : 'cloud-init';
  return {
    apiVersion: 'kubeseed.dev/v1alpha1',
    kind: 'Cluster',
    name: 'k8s1-cluster',
    kubernetesVersion: 'v1.37.0',
    kubernetesMinor: 37,
    topology: 'stacked',
    controlPlaneEndpoint: { host: 'k8s1api.kloud.lan', port: 6443 },
    networking: {
      podSubnet: '100.64.0.0/16',
      serviceSubnet: '198.18.0.0/23',
      dnsDomain: 'cluster.local',
      nodeCidrMaskSize: 24,
      hostsFile: true,
    },
    kubeProxy: { mode: 'iptables' },
    cni: { plugin: 'calico', version: 'v3.30.0' },
    loadBalancer: { type: 'kube-vip', vip: '10.101.1.10', interface: 'eth0', virtualRouterId: 51 },
    etcd: { mode: 'static-pod', version: 'v3.6.5' },
    certificates: { distribution: 'coordinator', keyAlgorithm: 'RSA-2048', extraSANs: [] },
    os: {
      family,
      format,
      platform: 'generic',
      packages: 'install',
      timeServers: ['ntp1.kloud.lan'],
      sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKubeseedTestKeyOnly ops@kloud'],
    },
    proxy: { noProxy: [] },
    mirrors: { registryMirrors: {} },
    proxmox: {},
    coordinator: { url: 'https://10.101.1.5:9443', listen: '0.0.0.0:9443', httpListen: '', replicaUrls: [] },
    fleet: { enabled: false },
    day2: { keepAgent: true },
    rollout: { controlPlaneParallelism: 1, workerParallelism: 20, tokenTTL: 3600 },
    hosts: [
      makeHost('k8s1master1'),
      makeHost('k8s1master2', { address: { ip: '10.101.1.102', prefix: 24, cidr: '10.101.1.102/24' }, mac: '52:54:00:12:34:57' }),
      makeHost('k8s1worker1', { role: 'worker', address: undefined, gateway: undefined, mac: '52:54:00:12:34:58' }),
    ],
    testing: { allowOldEtcd: false },
    ...overrides,
  };
}

const CONTAINERD_CONFIG = `version = 3
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = 'registry.k8s.io/pause:3.10.1'
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
`;

const AGENT_UNIT = `[Unit]
Description=kubeseed agent
Wants=network-online.target
After=network-online.target containerd.service

[Service]
Type=simple
ExecStart=/opt/bin/kubeseed-agent run --config /etc/kubeseed/agent.yaml
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
`;

export function makeProvisioning(hostname: string): Provisioning {
  return {
    hostname,
    fqdn: `${hostname}.kloud.lan`,
    files: [
      {
        path: '/etc/kubeseed/agent.yaml',
        content: `coordinator: https://10.101.1.5:9443\nhost: ${hostname}\ncredential: ks1-enroll-0123456789abcdef0123456789abcdef\n`,
        mode: 0o600,
      },
      { path: '/etc/kubeseed/coordinator-ca.pem', content: TEST_CA_PEM, mode: 0o644 },
      { path: '/etc/containerd/config.toml', content: CONTAINERD_CONFIG, mode: 0o644 },
      { path: '/etc/modules-load.d/k8s.conf', content: 'overlay\nbr_netfilter\n', mode: 0o644 },
      {
        path: '/etc/sysctl.d/99-kubernetes.conf',
        content: 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n',
        mode: 0o644,
      },
      { path: '/etc/crictl.yaml', content: 'runtime-endpoint: unix:///var/run/containerd/containerd.sock\n', mode: 0o644 },
    ],
    units: [{ name: 'kubeseed-agent.service', contents: AGENT_UNIT, enabled: false, start: true }],
    commands: [
      ['modprobe', 'overlay'],
      ['modprobe', 'br_netfilter'],
      ['sysctl', '--system'],
      ['sh', '-c', "echo 'first boot of $(hostname)' > /var/log/kubeseed-firstboot.log"],
    ],
    users: [{ name: 'kubeseed', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKubeseedTestKeyOnly ops@kloud'] }],
    timeServers: ['ntp1.kloud.lan'],
    hostsEntries: [
      { ip: '10.101.1.10', names: ['k8s1api.kloud.lan', 'k8s1api'] },
      { ip: '10.101.1.101', names: ['k8s1master1.kloud.lan', 'k8s1master1'] },
    ],
  };
}
