/**
 * Deterministic MACs for machines kubeseed creates itself (Proxmox clones via deploy.sh): the
 * network-config can then match the NIC by MAC and rename it (`set-name`) whatever the image
 * calls it (`ens18` on Proxmox virtio), so the static address applies and keepalived/kube-vip
 * find their interface. Pure: the same cluster and host names give the same MAC on every run.
 */
import { createHash } from 'node:crypto';
import type { HostSpec } from './types.ts';

/**
 * A locally administered unicast MAC (first octet: bit 1 set, bit 0 clear, IEEE 802 / RFC 7042
 * §2.1) from SHA-256 of the cluster and host names. `attempt` > 0 only when an earlier candidate
 * was taken.
 */
export function deriveMac(clusterName: string, hostName: string, attempt = 0): string {
  const digest = createHash('sha256')
    .update(`kubeseed mac v1\0${clusterName}\0${hostName}${attempt > 0 ? `\0${attempt}` : ''}`)
    .digest();
  const bytes = [...digest.subarray(0, 6)];
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Gives every host without a `mac` a derived one, never one the spec declares or another host
 * already got (the spec's `mac` always wins). Hosts are taken in spec order; a collision — 2^-46
 * per pair — moves only the later host to its next candidate.
 */
export function assignDerivedMacs(clusterName: string, hosts: HostSpec[]): void {
  const taken = new Set(hosts.flatMap((h) => (h.mac ? [h.mac] : [])));
  for (const h of hosts) {
    if (h.mac) continue;
    let attempt = 0;
    let mac = deriveMac(clusterName, h.name, attempt);
    while (taken.has(mac)) mac = deriveMac(clusterName, h.name, ++attempt);
    taken.add(mac);
    h.mac = mac;
  }
}
