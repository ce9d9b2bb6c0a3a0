import { BASE_SPEC, withLine } from './base-spec.ts';

/** Each case: a spec text, and the exact first error line `file:line:col: path: message`. */
export const CASES: { name: string; text: string; error: string }[] = [
  {
    name: 'unknown top-level spec field gets a did-you-mean',
    text: withLine('topology:', '  topolgy: stacked'),
    error: 'c.yaml:7:3: spec.topolgy: unknown field; did you mean "topology"?',
  },
  {
    name: 'unknown nested field',
    text: withLine('podSubnet:', '    podSubnets: 100.64.0.0/16'),
    error: 'c.yaml:10:5: spec.networking.podSubnets: unknown field; did you mean "podSubnet"?',
  },
  {
    name: 'unknown host field',
    text: withLine('- { name: w1', '    - { name: w1, role: worker, adress: 10.1.0.121/24 }'),
    error: 'c.yaml:31:33: spec.hosts[5].adress: unknown field; did you mean "address"?',
  },
  {
    name: 'enum value with a did-you-mean',
    text: withLine('topology:', '  topology: stacke'),
    error: 'c.yaml:7:13: spec.topology: "stacke" is not accepted; use one of stacked | external-etcd (did you mean "stacked"?)',
  },
  {
    // plan/generate parse these as URLs (no_proxy, Ignition); before this check `plan` died with "Invalid URL"
    name: 'a mirror the agent or Ignition fetches from is not a URL',
    text: withLine('platform: generic', '    platform: generic\n  mirrors:\n    agent: mirror.lan/agent'),
    error:
      'c.yaml:21:12: spec.mirrors.agent: "mirror.lan/agent" is not an http(s) base URL serving the linux-amd64/linux-arm64 agent executables, like https://mirror.lan/kubeseed/agent/',
  },
  {
    // kubeadm refuses it in apiServer.certSANs (ValidateCertSANs): the control plane failed at first boot, not at generate
    name: 'an extra SAN kubeadm would refuse',
    text: withLine(
      'controlPlaneEndpoint:',
      '  controlPlaneEndpoint: api.t1.lan:6443\n  certificates:\n    extraSANs: [api.example.com, Bad_Name]',
    ),
    error:
      'c.yaml:10:34: spec.certificates.extraSANs[1]: "Bad_Name" is not an IP address or a DNS name (lower-case letters, digits, "-" and "."; a leading "*." is allowed): kubeadm refuses it in the API server certificate\'s names',
  },
  {
    name: 'kubernetes version too old',
    text: withLine('kubernetesVersion:', '  kubernetesVersion: v1.30.2'),
    error:
      'c.yaml:6:22: spec.kubernetesVersion: v1.30.2 is not supported; use v1.34–v1.37 (kubeadm config v1beta4 only; v1beta3 is rejected by 1.37)',
  },
  {
    name: 'kubernetes version malformed',
    text: withLine('kubernetesVersion:', '  kubernetesVersion: 1.37'),
    error: 'c.yaml:6:22: spec.kubernetesVersion: "1.37" is not a version like v1.37.0',
  },
  {
    name: 'no control plane',
    text: BASE_SPEC.replace(/role: control-plane/g, 'role: worker').replace(/, address: 10\.1\.0\.10\d\/24/g, ''),
    error: 'c.yaml:26:5: spec.hosts: has no host with role control-plane; add at least one (three for HA)',
  },
  {
    name: 'external-etcd without etcd hosts',
    text: withLine('topology:', '  topology: external-etcd'),
    error: 'c.yaml:7:13: spec.topology: external-etcd needs hosts with role etcd; add three etcd hosts or use topology: stacked',
  },
  {
    name: 'etcd host in stacked topology',
    text: withLine('- { name: w1', '    - { name: e1, role: etcd, address: 10.1.0.21/24, nameservers: [10.1.0.1] }'),
    error: 'c.yaml:31:25: spec.hosts[5].role: role etcd needs topology: external-etcd; with stacked etcd the control planes run etcd',
  },
  {
    name: 'keepalived LB type without LB hosts',
    text: withLine('- { name: lb2', '    - { name: w2, role: worker }', withLine('- { name: lb1', '    - { name: w0, role: worker }')),
    error:
      'c.yaml:16:11: spec.loadBalancer.type: haproxy-keepalived needs hosts with role load-balancer; add two (with a vip) or use type: kube-vip or external',
  },
  {
    name: 'two LB hosts without a VIP',
    text: withLine('vip:', '    interface: eth0'),
    error:
      'c.yaml:15:3: spec.loadBalancer: 2 load-balancer hosts share the endpoint through keepalived and need a vip; set spec.loadBalancer.vip to a free address in their subnet',
  },
  {
    name: 'VIP outside the LB hosts subnet',
    text: withLine('vip:', '    vip: 10.9.0.10'),
    error:
      'c.yaml:17:10: spec.loadBalancer.vip: 10.9.0.10 is outside the subnet of lb1 (10.1.0.0/24), which holds the VIP; pick an unused address there',
  },
  {
    name: 'VIP equal to a host address',
    text: withLine('vip:', '    vip: 10.1.0.11'),
    error: 'c.yaml:17:10: spec.loadBalancer.vip: 10.1.0.11 is also the address of host lb1; the VIP must be a free address',
  },
  {
    name: 'kube-vip VIP outside the control planes subnet',
    text: withLine(
      'vip:',
      '    vip: 10.2.0.10',
      withLine('type: haproxy', '    type: kube-vip', withLine('- { name: lb1', '', withLine('- { name: lb2', ''))),
    ),
    error:
      'c.yaml:17:10: spec.loadBalancer.vip: 10.2.0.10 is outside the subnet of cp1 (10.1.0.0/24), which holds the VIP; pick an unused address there',
  },
  {
    name: 'ARP VIP on aws',
    text: withLine('platform:', '    platform: aws'),
    error:
      'c.yaml:17:10: spec.loadBalancer.vip: an ARP VIP (haproxy-keepalived) does not work on aws: VPC networking ignores gratuitous ARP; use type: external with an AWS NLB',
  },
  {
    name: 'control plane without a static address',
    text: withLine('- { name: cp3', '    - { name: cp3, role: control-plane }'),
    error:
      'c.yaml:30:7: spec.hosts[4]: control-plane host cp3 needs a static address (address: 10.0.0.11/24); etcd peers, backends and certificate SANs are written before boot',
  },
  {
    name: 'duplicate host name',
    text: withLine('- { name: w1', '    - { name: cp1, role: worker }'),
    error: 'c.yaml:31:15: spec.hosts[5].name: duplicate name cp1: already used by host cp1 (spec.hosts[2]); every host needs its own',
  },
  {
    name: 'duplicate address',
    text: withLine('- { name: w1', '    - { name: w1, role: worker, address: 10.1.0.101/24 }'),
    error:
      'c.yaml:31:42: spec.hosts[5].address: duplicate address 10.1.0.101: already used by host cp1 (spec.hosts[2]); every host needs its own',
  },
  {
    name: 'duplicate MAC (case-insensitive)',
    text: withLine(
      '- { name: w1',
      '    - { name: w1, role: worker, mac: "52:54:00:AA:00:01" }',
      withLine(
        '- { name: cp3',
        '    - { name: cp3, role: control-plane, address: 10.1.0.103/24, nameservers: [10.1.0.1], mac: "52:54:00:aa:00:01" }',
      ),
    ),
    error:
      'c.yaml:31:38: spec.hosts[5].mac: duplicate MAC 52:54:00:aa:00:01: already used by host cp3 (spec.hosts[4]); every host needs its own',
  },
  {
    name: 'pod and service subnets overlap',
    text: withLine('serviceSubnet:', '    serviceSubnet: 100.64.128.0/24'),
    error: 'c.yaml:11:20: spec.networking.serviceSubnet: 100.64.128.0/24 overlaps the pod subnet 100.64.0.0/16; pick disjoint ranges',
  },
  {
    name: 'pod subnet overlaps the host subnet',
    text: withLine('podSubnet:', '    podSubnet: 10.0.0.0/8'),
    error:
      'c.yaml:10:16: spec.networking.podSubnet: 10.0.0.0/8 overlaps the host subnet 10.1.0.0/24 (host lb1); pick a pod subnet that no host uses',
  },
  {
    name: 'pod subnet too small for the nodes',
    text: withLine('podSubnet:', '    podSubnet: 100.64.0.0/23'),
    error:
      'c.yaml:10:16: spec.networking.podSubnet: 100.64.0.0/23 holds only 2 node ranges of /24 but the spec has 4 nodes; widen the pod subnet or raise nodeCidrMaskSize',
  },
  {
    name: 'controlPlaneParallelism > 1 with stacked etcd below 1.37',
    text: withLine(
      'controlPlaneParallelism:',
      '    controlPlaneParallelism: 2',
      withLine('kubernetesVersion:', '  kubernetesVersion: v1.36.1'),
    ),
    error:
      "c.yaml:23:30: spec.rollout.controlPlaneParallelism: 2 is refused for stacked etcd below 1.37: etcd admits one learner at a time and kubeadm's join checks every member; use 1",
  },
  {
    name: 'wrong type: number where a list is expected',
    text: withLine('- { name: w1', '    - { name: w1, role: worker, nameservers: 5 }'),
    error: 'c.yaml:31:46: spec.hosts[5].nameservers: expected a list, got 5',
  },
  {
    name: 'malformed CIDR',
    text: withLine('- { name: w1', '    - { name: w1, role: worker, address: 10.1.0.300 }'),
    error: 'c.yaml:31:42: spec.hosts[5].address: "10.1.0.300" is not an IPv4 address with prefix, like 10.101.1.101/24',
  },
  {
    name: 'endpoint without a port',
    text: withLine('controlPlaneEndpoint:', '  controlPlaneEndpoint: api.t1.lan'),
    error:
      'c.yaml:8:25: spec.controlPlaneEndpoint: "api.t1.lan" is not host:port; write the load balancer\'s DNS name or VIP and its port, like k8s1api.kloud.lan:6443',
  },
  {
    name: 'a coordinator replica URL is not https',
    text: withLine('url:', '    url: https://10.1.0.5:9443\n    replicaUrls: [http://10.1.0.6:9443]'),
    error:
      'c.yaml:22:19: spec.coordinator.replicaUrls[0]: "http://10.1.0.6:9443" is not an https:// URL with host and port of another kubeseed serve on the same etcd, like https://10.101.1.6:9443',
  },
  {
    name: 'a coordinator replica URL is coordinator.url again',
    text: withLine('url:', '    url: https://10.1.0.5:9443\n    replicaUrls: [https://10.1.0.6:9443, https://10.1.0.5:9443/]'),
    error:
      'c.yaml:22:42: spec.coordinator.replicaUrls[1]: "https://10.1.0.5:9443" is listed twice (or is coordinator.url); name each other replica of kubeseed serve once',
  },
  {
    name: 'coordinator URL is not https',
    text: withLine('url:', '    url: http://10.1.0.5:9443'),
    error:
      'c.yaml:21:10: spec.coordinator.url: "http://10.1.0.5:9443" is not an https:// URL with host and port, like https://10.101.1.5:9443',
  },
  {
    name: 'duplicate YAML key',
    text: withLine('kubeProxy:', '  kubeProxy:\n    mode: ipvs', withLine('mode: iptables', '    mode: iptables')),
    error: 'c.yaml:15:5: (yaml): a key appears twice in the same mapping; keep one (DUPLICATE_KEY)',
  },
  {
    name: 'broken YAML',
    text: withLine('kind:', 'kind: [Cluster'),
    error: 'c.yaml:3:1: (yaml):',
  },
  {
    name: 'tokenTTL too short',
    text: withLine('tokenTTL:', '    tokenTTL: 1m'),
    error: 'c.yaml:24:15: spec.rollout.tokenTTL: 1m is too short; the coordinator renews tokens before they expire, use at least 5m',
  },
  {
    name: 'gateway outside the host subnet',
    text: withLine(
      '- { name: cp3',
      '    - { name: cp3, role: control-plane, address: 10.1.0.103/24, gateway: 10.2.0.1, nameservers: [10.1.0.1] }',
    ),
    error: "c.yaml:30:74: spec.hosts[4].gateway: 10.2.0.1 is outside cp3's subnet 10.1.0.103/24; use a gateway in that subnet",
  },
  {
    name: 'ignition format for ubuntu',
    text: withLine('platform:', '    platform: generic\n    format: ignition'),
    error: 'c.yaml:20:13: spec.os.format: ubuntu uses cloud-init; use format: cloud-init (Ignition is for flatcar and fedora-coreos)',
  },
  {
    name: 'label on a load-balancer host',
    text: withLine(
      '- { name: lb2',
      '    - { name: lb2, role: load-balancer, address: 10.1.0.12/24, nameservers: [10.1.0.1], labels: { a: b } }',
    ),
    error:
      'c.yaml:27:97: spec.hosts[1].labels: load-balancer hosts are not Kubernetes nodes; labels apply only to control-plane and worker hosts',
  },
  {
    name: 'keepalived load balancers on Flatcar',
    text: withLine('platform:', '    platform: generic\n    family: flatcar'),
    error:
      'c.yaml:16:11: spec.loadBalancer.type: haproxy-keepalived load-balancer hosts need apt packages (HAProxy/nginx, keepalived); with flatcar use type: kube-vip or external',
  },
  {
    name: 'a node that can resolve the DNS-name endpoint by no means (no nameservers, no hostsFile)',
    text: withLine('- { name: cp3', '    - { name: cp3, role: control-plane, address: 10.1.0.103/24, mac: "52:54:00:01:00:67" }'),
    error:
      'c.yaml:30:7: spec.hosts[4]: cp3 has a static address but no nameservers, and spec.networking.hostsFile is false: nothing resolves api.t1.lan',
  },
  {
    name: 'Proxmox deploy.sh without a bridge for the NICs',
    text: withLine('platform: generic', '    platform: proxmox\n  proxmox: { node: pve1, templateVmid: 9000, snippetStorage: local }'),
    error: "c.yaml:20:3: spec.proxmox: deploy.sh sets every VM's NIC to virtio=<MAC>,bridge=<bridge>: set spec.proxmox.bridge",
  },
];
