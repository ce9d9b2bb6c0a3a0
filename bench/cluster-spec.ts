/**
 * cluster.yaml for the rollout and capacity benchmarks: stacked etcd, an external load balancer
 * (so the plan is exactly init → CNI → control-plane joins ∥ worker joins → verify), ECDSA-P256
 * keys (the PKI benchmark covers RSA), N control planes and W DHCP workers, `workerParallelism` P.
 */
export interface BenchClusterOptions {
  controlPlanes: number;
  workers: number;
  workerParallelism: number;
}

export function benchClusterSpec(options: BenchClusterOptions): string {
  const hosts: string[] = [];
  for (let i = 1; i <= options.controlPlanes; i++) hosts.push(`    - { name: cp${i}, role: control-plane, address: 10.77.0.${10 + i}/16 }`);
  for (let i = 1; i <= options.workers; i++) hosts.push(`    - { name: w${i}, role: worker }`);
  return `apiVersion: kubeseed.dev/v1alpha1
kind: Cluster
metadata: { name: bench }
spec:
  kubernetesVersion: v1.37.0
  controlPlaneEndpoint: 10.77.0.10:6443
  networking: { podSubnet: 10.128.0.0/10, serviceSubnet: 10.96.0.0/16 }
  cni: { plugin: calico }
  loadBalancer: { type: external }
  certificates: { keyAlgorithm: ECDSA-P256 }
  os: { family: ubuntu, packages: preinstalled }
  coordinator: { url: "https://127.0.0.1:9443", listen: "127.0.0.1:9443" }
  rollout: { workerParallelism: ${options.workerParallelism} }
  hosts:
${hosts.join('\n')}
`;
}
