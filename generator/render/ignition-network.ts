/**
 * Static networking for Ignition hosts, the counterpart of cloud-init's network-config, in the
 * network stack the family's OS profile names (`ignition.network`):
 * - `networkd` (Flatcar): `/etc/systemd/network/10-kubeseed-<if>.network`;
 * - `networkmanager` (Fedora CoreOS): `/etc/NetworkManager/system-connections/kubeseed-<if>.nmconnection`
 *   (0600: NetworkManager ignores keyfiles others can read);
 * - both: `/etc/systemd/network/10-kubeseed-<if>.link` naming the NIC with the host's MAC
 *   `host.interface` (what cloud-init's `set-name` does), so keepalived/kube-vip find it.
 * With a MAC, the NIC is matched by it plus `Type=ether` (networkd) or `[ethernet] mac-address`
 * (NetworkManager, an ethernet-type profile): a VLAN or bond that inherits the MAC is not caught.
 * Without one, by `host.interface` — validation refuses a static Ignition host whose name is only
 * the default, and warns when the rename target is a kernel `ethN` name.
 * A host without an address (DHCP worker) keeps the image's DHCP default and only gets the
 * `.link` when it has a MAC.
 *
 * Runtime contract: pure.
 */
import { osProfileOf } from '../os/index.ts';
import type { ProvisionFile } from '../plan/types.ts';
import type { HostSpec, OsFamily } from '../spec/types.ts';

const IFACE = /^[A-Za-z0-9_.-]{1,15}$/;

export function renderIgnitionNetworkFiles(host: HostSpec, family: OsFamily): ProvisionFile[] {
  const stack = osProfileOf(family).ignition?.network;
  if (!IFACE.test(host.interface)) throw new Error(`host ${host.name}: interface ${JSON.stringify(host.interface)} is not a NIC name`);
  const files: ProvisionFile[] = [];
  const iface = host.interface;
  if (host.mac) {
    files.push({
      path: `/etc/systemd/network/10-kubeseed-${iface}.link`,
      content: `# kubeseed: the NIC with this MAC is ${iface} (stable name for keepalived/kube-vip)\n[Match]\nMACAddress=${host.mac}\nType=ether\n\n[Link]\nName=${iface}\n`,
      mode: 0o644,
    });
  }
  if (!host.address) return files;

  const { cidr } = host.address;
  if (stack === 'networkd') {
    const lines = [
      '# kubeseed: static address of ' + host.name,
      '[Match]',
      ...(host.mac ? [`MACAddress=${host.mac}`, 'Type=ether'] : [`Name=${iface}`]),
      '',
      '[Network]',
    ];
    lines.push(`Address=${cidr}`);
    if (host.gateway) lines.push(`Gateway=${host.gateway}`);
    for (const ns of host.nameservers) lines.push(`DNS=${ns}`);
    files.push({ path: `/etc/systemd/network/10-kubeseed-${iface}.network`, content: `${lines.join('\n')}\n`, mode: 0o644 });
    return files;
  }
  if (stack === 'networkmanager') {
    const lines = [
      '[connection]',
      `id=kubeseed-${iface}`,
      'type=ethernet',
      ...(host.mac ? [] : [`interface-name=${iface}`]),
      'autoconnect=true',
      '',
    ];
    if (host.mac) lines.push('[ethernet]', `mac-address=${host.mac}`, '');
    lines.push('[ipv4]', 'method=manual', `address1=${cidr}${host.gateway ? `,${host.gateway}` : ''}`);
    if (host.nameservers.length > 0) lines.push(`dns=${host.nameservers.join(';')};`);
    lines.push('may-fail=false', '', '[ipv6]', 'method=ignore', '');
    files.push({ path: `/etc/NetworkManager/system-connections/kubeseed-${iface}.nmconnection`, content: lines.join('\n'), mode: 0o600 });
    return files;
  }
  throw new Error(`host ${host.name}: no Ignition network rendering for os.family ${family}`);
}
