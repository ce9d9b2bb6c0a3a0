/** A valid stacked spec, line numbers stable: bad-spec cases replace one line each. */
export const BASE_SPEC = `apiVersion: kubeseed.dev/v1alpha1
kind: Cluster
metadata:
  name: t1
spec:
  kubernetesVersion: v1.37.0
  topology: stacked
  controlPlaneEndpoint: api.t1.lan:6443
  networking:
    podSubnet: 100.64.0.0/16
    serviceSubnet: 198.18.0.0/23
    nodeCidrMaskSize: 24
  kubeProxy:
    mode: iptables
  loadBalancer:
    type: haproxy-keepalived
    vip: 10.1.0.10
  os:
    platform: generic
  coordinator:
    url: https://10.1.0.5:9443
  rollout:
    controlPlaneParallelism: 1
    tokenTTL: 1h
  hosts:
    - { name: lb1, role: load-balancer, address: 10.1.0.11/24, nameservers: [10.1.0.1], mac: "52:54:00:01:00:11" }
    - { name: lb2, role: load-balancer, address: 10.1.0.12/24, nameservers: [10.1.0.1], mac: "52:54:00:01:00:12" }
    - { name: cp1, role: control-plane, address: 10.1.0.101/24, nameservers: [10.1.0.1], mac: "52:54:00:01:00:65" }
    - { name: cp2, role: control-plane, address: 10.1.0.102/24, nameservers: [10.1.0.1], mac: "52:54:00:01:00:66" }
    - { name: cp3, role: control-plane, address: 10.1.0.103/24, nameservers: [10.1.0.1], mac: "52:54:00:01:00:67" }
    - { name: w1, role: worker }
`;

/** Replace the line that starts (after indentation) with `startsWith`; throws when absent so a case cannot silently test nothing. */
export function withLine(startsWith: string, replacement: string, text = BASE_SPEC): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trimStart().startsWith(startsWith));
  if (i === -1) throw new Error(`base spec has no line starting with ${startsWith}`);
  lines[i] = replacement;
  return lines.join('\n');
}
