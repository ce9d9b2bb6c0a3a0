/**
 * Synthetic specs of N hosts for benchmarks: 3 control planes, the rest workers; Ubuntu with 2
 * HAProxy+keepalived LBs, Flatcar with kube-vip (LB hosts need apt packages, which Flatcar lacks).
 */
export function largeSpec(hosts: number, opts: { family?: 'ubuntu' | 'flatcar' } = {}): string {
  const flatcar = opts.family === 'flatcar';
  const workers = Math.max(0, hosts - (flatcar ? 3 : 5));
  const lines = [
    'apiVersion: kubeseed.dev/v1alpha1',
    'kind: Cluster',
    'metadata: { name: bench }',
    'spec:',
    '  controlPlaneEndpoint: api.bench.lan:6443',
    '  networking: { podSubnet: 10.128.0.0/12, serviceSubnet: 10.96.0.0/16, nodeCidrMaskSize: 24 }',
    flatcar
      ? '  loadBalancer: { type: kube-vip, vip: 172.16.0.10, interface: eth0 }'
      : '  loadBalancer: { type: haproxy-keepalived, vip: 172.16.0.10 }',
    `  os: { family: ${opts.family ?? 'ubuntu'} }`,
    '  coordinator: { url: "https://172.16.0.5:9443" }',
    '  hosts:',
    ...(flatcar
      ? []
      : [
          '    - { name: lb1, role: load-balancer, address: 172.16.0.11/16, nameservers: [172.16.0.1] }',
          '    - { name: lb2, role: load-balancer, address: 172.16.0.12/16, nameservers: [172.16.0.1] }',
        ]),
    '    - { name: cp1, role: control-plane, address: 172.16.0.21/16, nameservers: [172.16.0.1] }',
    '    - { name: cp2, role: control-plane, address: 172.16.0.22/16, nameservers: [172.16.0.1] }',
    '    - { name: cp3, role: control-plane, address: 172.16.0.23/16, nameservers: [172.16.0.1] }',
  ];
  for (let i = 0; i < workers; i++)
    lines.push(
      `    - { name: w${i}, role: worker, address: 172.16.${4 + Math.floor(i / 250)}.${(i % 250) + 1}/16, nameservers: [172.16.0.1] }`,
    );
  return `${lines.join('\n')}\n`;
}
