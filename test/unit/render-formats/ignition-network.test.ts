import { describe, expect, it } from 'vitest';
import { buildIgnitionConfig } from '../../../generator/render/ignition.ts';
import { renderIgnitionNetworkFiles } from '../../../generator/render/ignition-network.ts';
import { makeHost, makeProvisioning, makeSpec, TEST_CA_PEM } from './fixtures.ts';

describe('renderIgnitionNetworkFiles', () => {
  const host = makeHost('k8s1master1', { nameservers: ['10.101.1.1', '10.101.1.2'] });

  it('writes a networkd .network and a .link on Flatcar', () => {
    const files = renderIgnitionNetworkFiles(host, 'flatcar');
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      ['/etc/systemd/network/10-kubeseed-eth0.link', 0o644],
      ['/etc/systemd/network/10-kubeseed-eth0.network', 0o644],
    ]);
    // Type=ether: a VLAN or bond that shares the NIC's MAC is neither renamed nor given the address.
    expect(files[0]?.content).toContain('[Match]\nMACAddress=52:54:00:12:34:56\nType=ether\n\n[Link]\nName=eth0\n');
    expect(files[1]?.content).toContain(
      '[Match]\nMACAddress=52:54:00:12:34:56\nType=ether\n\n[Network]\nAddress=10.101.1.101/24\nGateway=10.101.1.1\nDNS=10.101.1.1\nDNS=10.101.1.2\n',
    );
  });

  it('writes a private NetworkManager keyfile on Fedora CoreOS', () => {
    const files = renderIgnitionNetworkFiles(host, 'fedora-coreos');
    const nm = files.find((f) => f.path === '/etc/NetworkManager/system-connections/kubeseed-eth0.nmconnection');
    expect(nm?.mode).toBe(0o600);
    expect(nm?.content).toContain(
      '[connection]\nid=kubeseed-eth0\ntype=ethernet\nautoconnect=true\n\n[ethernet]\nmac-address=52:54:00:12:34:56\n',
    );
    expect(nm?.content).not.toContain('interface-name');
    expect(nm?.content).toContain(
      '[ipv4]\nmethod=manual\naddress1=10.101.1.101/24,10.101.1.1\ndns=10.101.1.1;10.101.1.2;\nmay-fail=false\n',
    );
    expect(files.map((f) => f.path)).toContain('/etc/systemd/network/10-kubeseed-eth0.link');
  });

  it('renames to a name outside the kernel ethN range when the spec asks for one', () => {
    const lan = makeHost('k8s1master3', { interface: 'lan0' });
    const files = renderIgnitionNetworkFiles(lan, 'flatcar');
    expect(files.map((f) => f.path)).toEqual([
      '/etc/systemd/network/10-kubeseed-lan0.link',
      '/etc/systemd/network/10-kubeseed-lan0.network',
    ]);
    expect(files[0]?.content).toContain('[Link]\nName=lan0\n');
  });

  it('matches by the explicit name without a MAC, and leaves DHCP hosts to the image', () => {
    const noMac = makeHost('k8s1master2', { mac: undefined, interface: 'ens18' });
    expect(renderIgnitionNetworkFiles(noMac, 'flatcar')[0]?.content).toContain('[Match]\nName=ens18\n');
    expect(renderIgnitionNetworkFiles(noMac, 'fedora-coreos')[0]?.content).toContain('interface-name=ens18\n');
    const dhcp = makeHost('k8s1worker1', { address: undefined, gateway: undefined });
    expect(renderIgnitionNetworkFiles(dhcp, 'flatcar').map((f) => f.path)).toEqual(['/etc/systemd/network/10-kubeseed-eth0.link']);
    expect(renderIgnitionNetworkFiles({ ...dhcp, mac: undefined }, 'fedora-coreos')).toEqual([]);
    expect(() => renderIgnitionNetworkFiles({ ...host, interface: 'eth0; rm' }, 'flatcar')).toThrow(/not a NIC name/);
  });

  it('is part of the host Ignition config, not of the fleet one', () => {
    const withHost = buildIgnitionConfig(makeProvisioning('k8s1master1'), host, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM });
    expect(withHost.storage.files.map((f) => f.path)).toContain('/etc/systemd/network/10-kubeseed-eth0.network');
    const fleet = buildIgnitionConfig(makeProvisioning(''), null, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM });
    expect(fleet.storage.files.some((f) => f.path.startsWith('/etc/systemd/network/'))).toBe(false);
  });
});
