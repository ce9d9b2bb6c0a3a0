/**
 * Where the control-plane endpoint leads: the address its name must resolve to, shared by
 * validation (the hostsFile fix), the steps' params and the enrollment response (the agent's
 * DNS preflight) so all three agree. Pure.
 */
import type { ClusterSpec } from './types.ts';

/**
 * The load balancer's address: the VIP with kube-vip or two or more keepalived load balancers;
 * the single load-balancer host's own address (keepalived is left out); with an external load
 * balancer, the vip when the spec gives one, else undefined — its address is not ours to know,
 * so the name need only resolve.
 */
export function expectedEndpointAddress(spec: ClusterSpec): string | undefined {
  const { type, vip } = spec.loadBalancer;
  switch (type) {
    case 'kube-vip':
    case 'external':
      return vip;
    case 'haproxy-keepalived':
    case 'nginx-keepalived': {
      const lbs = spec.hosts.filter((h) => h.role === 'load-balancer');
      if (lbs.length === 1) return lbs[0]!.address?.ip;
      return lbs.length >= 2 ? vip : undefined;
    }
  }
}

/**
 * The endpoint as agents check it: host:port, the VIP when something holds it (a single
 * load-balancer host runs no keepalived, so a vip in the spec is then nobody's) and the address
 * the name must resolve to.
 */
export function describeEndpoint(spec: ClusterSpec): { host: string; port: number; vip?: string; address?: string } {
  const { host, port } = spec.controlPlaneEndpoint;
  const address = expectedEndpointAddress(spec);
  const { type, vip } = spec.loadBalancer;
  const keepalivedLbs = spec.hosts.filter((h) => h.role === 'load-balancer').length;
  const held = vip && (type === 'kube-vip' || type === 'external' || keepalivedLbs >= 2) ? vip : undefined;
  return { host, port, ...(held ? { vip: held } : {}), ...(address ? { address } : {}) };
}
