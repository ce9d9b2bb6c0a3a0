/**
 * The proxy settings every host of a spec shares: `no_proxy` and the settings the templates take.
 * Runtime contract: pure.
 */
import type { StepDownloadProxy } from '../../protocol/index.ts';
import type { ProxySettings } from '../../templates/index.ts';
import type { ClusterSpec } from '../spec/types.ts';
import { formatCidr, hostOfUrl, parseCidr } from '../util/ip.ts';

/**
 * no_proxy gets the cluster's own ranges and the endpoint, or cluster traffic would go through the
 * proxy. Host subnets are listed as CIDRs (Go honours them, curl only since 7.86), not host by host:
 * one entry per subnet keeps every user-data small whatever the fleet size. What first boot fetches
 * with curl — the coordinator and the agent mirror — is named literally, because Ubuntu 22.04's curl
 * 7.81 ignores CIDR entries (install-agent.sh also passes --noproxy for the coordinator); so are the
 * endpoint and the VIP.
 */
export function noProxyList(spec: ClusterSpec): string[] {
  const hostNets = spec.hosts.flatMap((h) => (h.address ? [formatCidr(parseCidr(h.address.cidr)!)] : []));
  const fetchedFrom = [spec.coordinator.url, spec.mirrors.agent].flatMap((u) => (u ? [hostOfUrl(u).host] : []));
  return [
    ...new Set([
      'localhost',
      '127.0.0.1',
      spec.networking.podSubnet,
      spec.networking.serviceSubnet,
      spec.controlPlaneEndpoint.host,
      ...(spec.loadBalancer.vip ? [spec.loadBalancer.vip] : []),
      ...fetchedFrom,
      `.${spec.networking.dnsDomain}`,
      '.svc',
      ...hostNets,
      ...spec.proxy.noProxy,
    ]),
  ];
}

const proxyCache = new WeakMap<ClusterSpec, ProxySettings>();

/** The same for every host of a spec: computed once. Empty when the spec sets no proxy. */
export function proxySettings(spec: ClusterSpec): ProxySettings {
  let p = proxyCache.get(spec);
  if (!p) {
    p =
      spec.proxy.http || spec.proxy.https
        ? {
            ...(spec.proxy.http ? { http: spec.proxy.http } : {}),
            ...(spec.proxy.https ? { https: spec.proxy.https } : {}),
            noProxy: noProxyList(spec),
          }
        : {};
    proxyCache.set(spec, p);
  }
  return p;
}

/**
 * The agent's own downloads (and kubectl's fetch of an upstream manifest) honour spec.proxy as apt
 * and containerd do, with the same no-proxy list, so a mirror inside the site (or in
 * spec.proxy.noProxy) and the API endpoint are reached directly.
 */
export function downloadProxy(spec: ClusterSpec): { proxy?: StepDownloadProxy } {
  const { http, https } = spec.proxy;
  return http || https ? { proxy: { ...(http ? { http } : {}), ...(https ? { https } : {}), noProxy: noProxyList(spec) } } : {};
}
