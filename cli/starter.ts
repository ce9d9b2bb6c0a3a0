/** The commented starter spec `kubeseed init` writes. Text on purpose: the comments are the documentation. */

export function starterSpec(topology: 'stacked' | 'external-etcd'): string {
  const etcdHosts =
    topology === 'external-etcd'
      ? `
    # Dedicated etcd members (external-etcd): started first, together, with certificates from the coordinator.
    - { name: etcd1, role: etcd, address: 10.101.1.21/24, gateway: 10.101.1.1, nameservers: [10.101.1.1] }
    - { name: etcd2, role: etcd, address: 10.101.1.22/24, gateway: 10.101.1.1, nameservers: [10.101.1.1] }
    - { name: etcd3, role: etcd, address: 10.101.1.23/24, gateway: 10.101.1.1, nameservers: [10.101.1.1] }`
      : '';
  const etcdSection =
    topology === 'external-etcd'
      ? `
  etcd:
    mode: static-pod                 # static-pod (kubeadm's HA etcd procedure) | binary (upstream etcd under systemd)
    # version: v3.7.0                # default: kubeadm's own etcd of the Kubernetes minor; ≥ 3.5 (kubeadm refuses older)`
      : '';
  return `# kubeseed cluster spec — edit the addresses, then: kubeseed validate cluster.yaml
apiVersion: kubeseed.dev/v1alpha1
kind: Cluster
metadata:
  name: k8s1-cluster                 # becomes ClusterConfiguration.clusterName
spec:
  kubernetesVersion: v1.37.0         # 1.34–1.37 (kubeadm config v1beta4)
  topology: ${topology.padEnd(24)}# stacked | external-etcd
  controlPlaneEndpoint: k8s1api.kloud.lan:6443   # the load balancer's DNS name (or VIP) and port
  networking:
    podSubnet: 100.64.0.0/16
    serviceSubnet: 198.18.0.0/23
    dnsDomain: cluster.local
    nodeCidrMaskSize: 24
    hostsFile: true                  # /etc/hosts maps the endpoint to the VIP and names every host (no DNS needed)
  kubeProxy:
    mode: iptables                   # iptables | nftables | ipvs (deprecated) | disabled
  cni:
    plugin: calico                   # calico | cilium | flannel | none
  loadBalancer:
    type: haproxy-keepalived         # haproxy-keepalived | nginx-keepalived | kube-vip | external
    vip: 10.101.1.10                 # held by keepalived (two or more LB hosts) or kube-vip
    interface: eth0
    virtualRouterId: 51${etcdSection}
  certificates:
    distribution: coordinator        # coordinator | upload-certs
    keyAlgorithm: RSA-2048           # RSA-2048 | ECDSA-P256
    extraSANs: []
  os:
    family: ubuntu                   # ubuntu | debian | flatcar | fedora-coreos
    platform: generic                # generic | aws | openstack | proxmox | pxe
    packages: install                # install | preinstalled
    timeServers: []                  # chrony servers; empty keeps the image's default
    sshAuthorizedKeys: []            # optional break-glass access; never required
  coordinator:
    url: https://10.101.1.5:9443     # where agents reach \`kubeseed serve\`
    listen: 0.0.0.0:9443
  rollout:
    controlPlaneParallelism: 1
    workerParallelism: 20
    tokenTTL: 1h
  hosts:
    - { name: lb1, role: load-balancer, address: 10.101.1.11/24, gateway: 10.101.1.1, nameservers: [10.101.1.1] }
    - { name: lb2, role: load-balancer, address: 10.101.1.12/24, gateway: 10.101.1.1, nameservers: [10.101.1.1] }${etcdHosts}
    - { name: master1, role: control-plane, address: 10.101.1.101/24, gateway: 10.101.1.1, nameservers: [10.101.1.1] }
    - { name: master2, role: control-plane, address: 10.101.1.102/24, gateway: 10.101.1.1, nameservers: [10.101.1.1] }
    - { name: master3, role: control-plane, address: 10.101.1.103/24, gateway: 10.101.1.1, nameservers: [10.101.1.1] }
    - name: worker1
      role: worker                   # workers may omit address (DHCP)
      labels: { node-role.kubernetes.io/worker: "" }
    - name: worker2
      role: worker
      labels: { node-role.kubernetes.io/worker: "" }
`;
}
