/**
 * network-config v2 (the NoCloud format, no top-level `network:` key) and NoCloud meta-data.
 * Static hosts get their address, gateway and nameservers; the NIC is matched by MAC with
 * `set-name` when a MAC is given (on Proxmox every host has one: the spec's, or one derived in
 * generator/spec/mac.ts that deploy.sh sets), so keepalived's interface name stays stable whatever
 * the image calls the NIC. Without a MAC it is matched by `interface`; validation warns when that
 * name is only the default.
 */
import { createHash } from 'node:crypto';
import type { HostSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';

export function buildNetworkConfig(host: HostSpec): Record<string, unknown> {
  const nic: Record<string, unknown> = {};
  if (host.mac) {
    nic.match = { macaddress: host.mac };
    nic['set-name'] = host.interface;
  } else if (!host.address) {
    // A DHCP worker without a MAC: take the first Ethernet NIC whatever the image names it.
    nic.match = { name: 'e*' };
  } else {
    nic.match = { name: host.interface };
  }
  if (host.address) {
    nic.dhcp4 = false;
    nic.addresses = [host.address.cidr];
    // `0.0.0.0/0`, not `default`: cloud-init 22.4 (Debian 12) refuses `to: default`.
    if (host.gateway) nic.routes = [{ to: '0.0.0.0/0', via: host.gateway }];
  } else {
    nic.dhcp4 = true;
  }
  if (host.nameservers.length) nic.nameservers = { addresses: host.nameservers };
  const key = host.mac || host.address ? host.interface : 'primary';
  return { version: 2, ethernets: { [key]: nic } };
}

export function renderNetworkConfig(host: HostSpec): string {
  return toYaml(buildNetworkConfig(host), { lineWidth: 0, version: '1.1' });
}

/** instance-id changes whenever the user-data changes, so cloud-init treats a re-rendered host as a new instance. */
export function renderMetaData(host: HostSpec, userData: string | Buffer): string {
  const digest = createHash('sha256').update(userData).digest('hex').slice(0, 12);
  return toYaml({ 'instance-id': `iid-${host.name}-${digest}`, 'local-hostname': host.name }, { version: '1.1' });
}
