/**
 * kube-vip as a static pod on control planes (ARP mode, leader election). On Kubernetes ≥ 1.29
 * admin.conf no longer bypasses RBAC and super-admin.conf exists only on the init node: the init
 * node's manifest mounts super-admin.conf during `kubeadm init` and is switched to admin.conf right
 * after; joining control planes get the admin.conf manifest only after their join succeeded (the
 * join preflight refuses a non-empty manifests directory).
 */
import { KUBE_VIP_MANIFEST } from '../../protocol/host-paths.ts';
import type { ClusterSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';
import { versionsFor } from '../versions.ts';

export { KUBE_VIP_MANIFEST };

export function buildKubeVipManifest(spec: ClusterSpec, iface: string, kubeconfig: 'super-admin.conf' | 'admin.conf'): string {
  const image = `${spec.mirrors.imageRepository ?? 'ghcr.io/kube-vip'}/kube-vip:${versionsFor(spec.kubernetesMinor).kubeVip}`;
  const env: Record<string, string> = {
    vip_arp: 'true',
    port: String(spec.controlPlaneEndpoint.port),
    vip_interface: iface,
    // The VIP's prefix length as a bare number. kube-vip v0.9 reads vip_subnet only (v0.9.0 removed
    // vip_cidr); a single address: 32, or 128 for IPv6 (its own default for an address).
    vip_subnet: spec.loadBalancer.vip?.includes(':') ? '128' : '32',
    cp_enable: 'true',
    cp_namespace: 'kube-system',
    vip_ddns: 'false',
    vip_leaderelection: 'true',
    vip_leasename: 'plndr-cp-lock',
    vip_leaseduration: '5',
    vip_renewdeadline: '3',
    vip_retryperiod: '1',
    address: spec.loadBalancer.vip ?? '',
  };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'kube-vip', namespace: 'kube-system' },
    spec: {
      containers: [
        {
          name: 'kube-vip',
          image,
          imagePullPolicy: 'IfNotPresent',
          args: ['manager'],
          env: Object.entries(env).map(([name, value]) => ({ name, value })),
          securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
          volumeMounts: [{ mountPath: '/etc/kubernetes/admin.conf', name: 'kubeconfig' }],
        },
      ],
      hostAliases: [{ hostnames: ['kubernetes'], ip: '127.0.0.1' }],
      hostNetwork: true,
      volumes: [{ name: 'kubeconfig', hostPath: { path: `/etc/kubernetes/${kubeconfig}` } }],
    },
  };
  return toYaml(pod, { lineWidth: 0 });
}
