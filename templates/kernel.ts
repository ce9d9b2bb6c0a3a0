/**
 * Kernel settings every Kubernetes node needs: modules loaded at boot
 * (`/etc/modules-load.d/kubeseed.conf`) and sysctls (`/etc/sysctl.d/99-kubeseed.conf`). Pure.
 */
import { joinLines } from './text.ts';

export const KERNEL_MODULES_PATH = '/etc/modules-load.d/kubeseed.conf';
export const SYSCTL_PATH = '/etc/sysctl.d/99-kubeseed.conf';

export interface KernelModulesParams {
  /** kube-proxy in `ipvs` mode also needs the IPVS schedulers and conntrack. */
  ipvs?: boolean;
}

const BASE_MODULES = ['overlay', 'br_netfilter'] as const;
const IPVS_MODULES = ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'nf_conntrack'] as const;

/** The modules, in load order. */
export function listKernelModules(p: KernelModulesParams = {}): string[] {
  return p.ipvs ? [...BASE_MODULES, ...IPVS_MODULES] : [...BASE_MODULES];
}

export function renderKernelModules(p: KernelModulesParams = {}): string {
  return joinLines([
    '# kubeseed: kernel modules for Kubernetes, loaded at every boot by systemd-modules-load.',
    '# overlay: containerd snapshots. br_netfilter: bridged pod traffic passes iptables.',
    ...(p.ipvs ? ['# ip_vs*, nf_conntrack: kube-proxy in ipvs mode.'] : []),
    ...listKernelModules(p),
  ]);
}

/** The sysctls as key/value pairs (the prepare script checks them after `sysctl --system`). */
export const KUBERNETES_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ['net.ipv4.ip_forward', '1'],
  ['net.bridge.bridge-nf-call-iptables', '1'],
  ['net.bridge.bridge-nf-call-ip6tables', '1'],
];

export function renderSysctlConfig(): string {
  return joinLines([
    '# kubeseed: kubeadm preflight requires IPv4 forwarding; bridge-based CNIs need bridged traffic to pass iptables.',
    ...KUBERNETES_SYSCTLS.map(([k, v]) => `${k} = ${v}`),
  ]);
}
