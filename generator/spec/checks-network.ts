/**
 * The pod and service subnets against each other, kubeadm's limits and the hosts' own subnets. Pure.
 */
import { type Cidr, cidrsOverlap, formatCidr, parseCidr } from '../util/ip.ts';
import type { SpecReader } from './reader.ts';
import type { ClusterSpec } from './types.ts';

// biome-ignore lint/suspicious/noExplicitAny: the structurally checked tree is plain data of known shape
type Raw = any;

/** `s` is the raw `spec` mapping (what the user wrote); `nodeCount` the control planes and workers. */
export function checkSubnets(spec: ClusterSpec, s: Raw, r: SpecReader, nodeCount: number): void {
  const pod = parseCidr(spec.networking.podSubnet);
  const svc = parseCidr(spec.networking.serviceSubnet);
  if (s.networking?.podSubnet && !pod) r.error(['spec', 'networking', 'podSubnet'], `"${s.networking.podSubnet}" is not a valid IPv4 CIDR`);
  if (s.networking?.serviceSubnet && !svc)
    r.error(['spec', 'networking', 'serviceSubnet'], `"${s.networking.serviceSubnet}" is not a valid IPv4 CIDR`);
  if (pod && svc && cidrsOverlap(pod, svc)) {
    r.error(
      ['spec', 'networking', 'serviceSubnet'],
      `${spec.networking.serviceSubnet} overlaps the pod subnet ${spec.networking.podSubnet}; pick disjoint ranges`,
    );
  }
  if (svc && svc.prefix < 12)
    r.error(['spec', 'networking', 'serviceSubnet'], `/${svc.prefix} is too large; kubeadm accepts a service subnet of /12 or smaller`);
  const hostNets = new Map<string, Cidr>();
  for (const h of spec.hosts) if (h.address) hostNets.set(formatCidr(parseCidr(h.address.cidr)!), parseCidr(h.address.cidr)!);
  for (const [text, net] of hostNets) {
    const h = spec.hosts.find((x) => x.address && formatCidr(parseCidr(x.address.cidr)!) === text)!;
    if (pod && cidrsOverlap(pod, net))
      r.error(
        ['spec', 'networking', 'podSubnet'],
        `${spec.networking.podSubnet} overlaps the host subnet ${text} (host ${h.name}); pick a pod subnet that no host uses`,
      );
    if (svc && cidrsOverlap(svc, net))
      r.error(
        ['spec', 'networking', 'serviceSubnet'],
        `${spec.networking.serviceSubnet} overlaps the host subnet ${text} (host ${h.name}); pick a service subnet that no host uses`,
      );
  }
  if (pod) {
    const mask = spec.networking.nodeCidrMaskSize;
    if (mask < pod.prefix) {
      r.error(
        ['spec', 'networking', 'nodeCidrMaskSize'],
        `${mask} is larger than the pod subnet /${pod.prefix}; use a mask between ${pod.prefix} and 30`,
      );
    } else if (2 ** (mask - pod.prefix) < nodeCount) {
      r.error(
        ['spec', 'networking', 'podSubnet'],
        `${spec.networking.podSubnet} holds only ${2 ** (mask - pod.prefix)} node ranges of /${mask} but the spec has ${nodeCount} nodes; widen the pod subnet or raise nodeCidrMaskSize`,
      );
    }
  }
}
