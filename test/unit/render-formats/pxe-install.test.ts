/**
 * PXE hosts come up with their spec address and install to disk (issue 23, items 4 and 5; ADR 0022):
 * per-MAC kernel arguments and configs, the install disk from the spec, and the boot-from-disk
 * script once the coordinator knows the machine is installed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { decodeDataUrl } from '../../../generator/render/ignition-encoding.ts';
import { routePxeRequest } from '../../../generator/render/pxe-routes.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { OsFamily } from '../../../generator/spec/types.ts';
import { ROOT } from '../../support/fixtures.ts';
import { makeSpec } from './fixtures.ts';

const BASE = 'http://10.101.1.5:8080';
const M1 = '52-54-00-12-34-56'; // k8s1master1, 10.101.1.101/24
const W1 = '52-54-00-12-34-58'; // k8s1worker1, DHCP

function pxeSpec(family: OsFamily, disk?: string) {
  const spec = makeSpec(family);
  spec.coordinator.httpListen = '0.0.0.0:8080';
  spec.fleet.enabled = true;
  if (disk) spec.hosts[0]!.installDisk = disk;
  return spec;
}

const fleet = {
  userData: '#cloud-config\nwrite_files:\n  - path: /etc/kubeseed/agent.json\n    content: "{}"\n',
  ignition: '{"ignition":{"version":"3.3.0"}}',
};

function kernelArgs(body: string): string[] {
  const line = body.split('\n').find((l) => l.startsWith('kernel '));
  expect(line, body).toBeDefined();
  return line!.split(' ').slice(2);
}

describe('the static network of a known PXE host', () => {
  it.each(['flatcar', 'fedora-coreos'] as const)('%s: kernel ip= and nameserver= arguments carry the spec address', (family) => {
    const args = kernelArgs(routePxeRequest(pxeSpec(family, '/dev/sda'), fleet, `/ipxe?mac=${M1}`).body);
    // dracut syntax: ip=<client-IP>:[<peer>]:<gateway-IP>:<netmask>:<client_hostname>:<interface>:none
    expect(args).toContain('ip=10.101.1.101::10.101.1.1:255.255.255.0::eth0:none');
    expect(args).toContain('nameserver=10.101.1.1');
    // eth0 is a kernel name: no ifname= rename (dracut and systemd warn it may race another NIC).
    expect(args.some((a) => a.startsWith('ifname='))).toBe(false);
    // The host's name stays out: anyone may ask for any MAC.
    expect(args.join(' ')).not.toContain('k8s1master1');
  });

  it('names the NIC by MAC with ifname= when the interface is not a kernel ethN name; DHCP hosts get no ip=', () => {
    const spec = pxeSpec('fedora-coreos', '/dev/sda');
    spec.hosts[0]!.interface = 'lan0';
    spec.hosts[0]!.address = { ip: '10.101.1.101', prefix: 22, cidr: '10.101.1.101/22' };
    const args = kernelArgs(routePxeRequest(spec, fleet, `/ipxe?mac=${M1}`).body);
    expect(args).toContain('ifname=lan0:52:54:00:12:34:56');
    expect(args).toContain('ip=10.101.1.101::10.101.1.1:255.255.252.0::lan0:none');
    spec.hosts[2]!.installDisk = '/dev/sda';
    const dhcp = kernelArgs(routePxeRequest(spec, fleet, `/ipxe?mac=${W1}`).body);
    expect(dhcp.filter((a) => /^(ip|ifname|nameserver)=/.test(a))).toEqual([]);
  });

  it('the installed system keeps it: its Ignition config merges the fleet config (hash-pinned) and adds the network files', () => {
    for (const family of ['flatcar', 'fedora-coreos'] as const) {
      const r = routePxeRequest(pxeSpec(family, '/dev/sda'), fleet, `/ignition/${M1}.ign`);
      expect(r.status).toBe(200);
      expect(r.contentType).toBe('application/vnd.coreos.ignition+json');
      const cfg = JSON.parse(r.body);
      expect(cfg.ignition.config.merge).toEqual([
        {
          source: `${BASE}/ignition/fleet.ign`,
          verification: { hash: `sha512-${createHash('sha512').update(fleet.ignition).digest('hex')}` },
        },
      ]);
      const paths = cfg.storage.files.map((f: { path: string }) => f.path);
      expect(paths).toContain('/etc/systemd/network/10-kubeseed-eth0.link');
      expect(paths).toContain(
        family === 'flatcar'
          ? '/etc/systemd/network/10-kubeseed-eth0.network'
          : '/etc/NetworkManager/system-connections/kubeseed-eth0.nmconnection',
      );
      expect(r.body).not.toContain('k8s1master1');
      const texts = cfg.storage.files.map((f: { contents: { source: string; compression?: string } }) => {
        const bytes = decodeDataUrl(f.contents.source);
        return (f.contents.compression === 'gzip' ? gunzipSync(bytes) : bytes).toString();
      });
      expect(texts.join('\n')).toContain('10.101.1.101/24');
      expect(texts.join('\n')).not.toContain('k8s1master1');
    }
  });

  it('Ubuntu: the per-MAC autoinstall carries the netplan network and the install disk', () => {
    const spec = pxeSpec('ubuntu', '/dev/nvme0n1');
    const r = routePxeRequest(spec, fleet, `/nocloud/${M1}/user-data`);
    expect(r.status).toBe(200);
    const doc = YAML.parse(r.body).autoinstall;
    expect(doc.network).toEqual({
      version: 2,
      ethernets: {
        eth0: {
          match: { macaddress: '52:54:00:12:34:56' },
          'set-name': 'eth0',
          dhcp4: false,
          addresses: ['10.101.1.101/24'],
          routes: [{ to: '0.0.0.0/0', via: '10.101.1.1' }],
          nameservers: { addresses: ['10.101.1.1'] },
        },
      },
    });
    expect(doc.storage.layout).toEqual({ name: 'lvm', match: { path: '/dev/nvme0n1' } });
    // curtin would otherwise put the network entry first in the UEFI BootOrder: PXE, reinstall.
    expect(doc.storage.grub).toEqual({ reorder_uefi: false });
    expect(doc['user-data']).toEqual(YAML.parse(fleet.userData));
    expect(routePxeRequest(spec, fleet, `/nocloud/${M1}/meta-data`).body).toBe(`instance-id: iid-kubeseed-${M1}\n`);
    // A DHCP worker keeps the installer's DHCP; MACs the spec does not name have no seed of their own.
    expect(YAML.parse(routePxeRequest(spec, fleet, `/nocloud/${W1}/user-data`).body).autoinstall.network).toBeUndefined();
    expect(routePxeRequest(spec, fleet, '/nocloud/52-54-00-aa-bb-cc/user-data').status).toBe(404);
    // Debian's live image keeps the fleet seed (no per-host seed to serve).
    expect(routePxeRequest(pxeSpec('debian'), fleet, `/nocloud/${M1}/user-data`).status).toBe(404);
  });
});

describe('install to disk', () => {
  it('Fedora CoreOS: coreos-installer installs to the spec disk with the per-MAC config', () => {
    const args = kernelArgs(routePxeRequest(pxeSpec('fedora-coreos', '/dev/disk/by-id/nvme-X'), fleet, `/ipxe?mac=${M1}`).body);
    expect(args).toContain('coreos.inst.install_dev=/dev/disk/by-id/nvme-X');
    expect(args).toContain(`coreos.inst.ignition_url=${BASE}/ignition/${M1}.ign`);
    expect(args).not.toContain('ignition.firstboot');
  });

  it('Flatcar: the live system runs flatcar-install to the spec disk with the per-MAC config, then reboots', () => {
    const spec = pxeSpec('flatcar', '/dev/sdb');
    const args = kernelArgs(routePxeRequest(spec, fleet, `/ipxe?mac=${M1}`).body);
    expect(args).toContain(`ignition.config.url=${BASE}/ignition/${M1}-install.ign`);
    const live = JSON.parse(routePxeRequest(spec, fleet, `/ignition/${M1}-install.ign`).body);
    const target = routePxeRequest(spec, fleet, `/ignition/${M1}.ign`).body;
    expect(live.storage.files).toEqual([
      {
        path: '/opt/kubeseed/install/target.ign',
        mode: 0o600,
        overwrite: true,
        contents: {
          source: `${BASE}/ignition/${M1}.ign`,
          verification: { hash: `sha512-${createHash('sha512').update(target).digest('hex')}` },
        },
      },
    ]);
    const unit = live.systemd.units[0];
    expect(unit).toMatchObject({ name: 'kubeseed-install.service', enabled: true });
    expect(unit.contents).toContain('ExecStart=/usr/bin/flatcar-install -d /dev/sdb -i /opt/kubeseed/install/target.ign');
    expect(unit.contents).toContain('ExecStartPost=/usr/bin/systemctl --no-block reboot');
    // No installer config for Fedora CoreOS (kernel arguments install it) or without a disk.
    expect(routePxeRequest(pxeSpec('fedora-coreos', '/dev/sda'), fleet, `/ignition/${M1}-install.ign`).status).toBe(404);
    expect(routePxeRequest(pxeSpec('flatcar'), fleet, `/ignition/${M1}-install.ign`).status).toBe(404);
  });

  it('machines the spec does not name install to spec.fleet.installDisk only when the spec opts in', () => {
    const spec = pxeSpec('flatcar');
    spec.fleet.installDisk = '/dev/vda';
    expect(routePxeRequest(spec, fleet, '/ignition/fleet-install.ign').status).toBe(404);
    const opts = { installUnknownMacs: true };
    expect(kernelArgs(routePxeRequest(spec, fleet, '/ipxe?mac=52-54-00-aa-bb-cc', opts).body)).toContain(
      `ignition.config.url=${BASE}/ignition/fleet-install.ign`,
    );
    const live = routePxeRequest(spec, fleet, '/ignition/fleet-install.ign', opts).body;
    expect(live).toContain('flatcar-install -d /dev/vda');
    const ubuntu = pxeSpec('ubuntu');
    ubuntu.fleet.installDisk = '/dev/vda';
    expect(YAML.parse(routePxeRequest(ubuntu, fleet, '/nocloud/fleet/user-data').body).autoinstall.storage.layout).toEqual({
      name: 'lvm',
      match: { path: '/dev/vda' },
    });
  });
});

describe('the boot route by host state', () => {
  const installedHosts = new Set<string>();
  const opts = { installed: (_mac: string, host: string | null) => host !== null && installedHosts.has(host) };

  it('unknown MAC: no operating system (exit 1, docs/pxe.md); known and not installed: the installer; installed: the disk', () => {
    const spec = pxeSpec('fedora-coreos', '/dev/sda');
    const unknown = routePxeRequest(spec, fleet, '/ipxe?mac=52-54-00-aa-bb-cc', { installed: () => true });
    expect(unknown.body).not.toMatch(/^(kernel|initrd|boot|sanboot)\b/m);
    expect(unknown.body.trimEnd().split('\n').at(-1)).toBe('exit 1');
    expect(unknown.body).toContain('restart kubeseed serve');

    installedHosts.clear();
    expect(routePxeRequest(spec, fleet, `/ipxe?mac=${M1}`, opts).body).toMatch(/^kernel .*coreos\.inst\.install_dev=\/dev\/sda/m);

    installedHosts.add('k8s1master1');
    const disk = routePxeRequest(spec, fleet, `/ipxe?mac=${M1}`, opts).body;
    expect(disk).toMatch(/^#!ipxe\n/);
    expect(disk).not.toMatch(/^(kernel|initrd|boot|chain|sanboot)\b/m);
    expect(disk.trimEnd().split('\n').at(-1)).toBe('exit 0');
    expect(disk).not.toContain('k8s1master1');
    // Another host's state does not leak into this one.
    expect(routePxeRequest(spec, fleet, '/ipxe?mac=52-54-00-12-34-57', opts).body).toMatch(/^kernel /m);
  });

  it('boot.ipxe passes the disk script’s success on to the firmware and retries after a refusal', () => {
    const idx = routePxeRequest(pxeSpec('ubuntu'), fleet, '/boot.ipxe').body.split('\n');
    const chain = idx.findIndex((l) => l.startsWith('chain '));
    expect(idx[chain]).toMatch(/\|\| goto failed$/);
    expect(idx[chain + 1]).toBe('exit 0');
    expect(idx.slice(chain + 2)).toEqual(expect.arrayContaining([':failed', 'sleep 10', 'goto retry']));
  });
});

describe('spec installDisk', () => {
  const example = readFileSync(join(ROOT, 'examples/fleet-pxe.yaml'), 'utf8');
  const flatcar = example.replace('os: { family: ubuntu, platform: pxe }', 'os: { family: flatcar, platform: pxe }');

  it('is a /dev path, per host or as the fleet default, with a located error otherwise', () => {
    expect(flatcar).not.toBe(example);
    const ok = parseSpec(flatcar.replace('fleet: { enabled: true }', 'fleet: { enabled: true, installDisk: /dev/sda }'), 'f.yaml');
    expect(ok.spec.fleet.installDisk).toBe('/dev/sda');
    const perHost = example.replace('mac: "3c:ec:ef:00:01:01" }', 'mac: "3c:ec:ef:00:01:01", installDisk: /dev/nvme0n1 }');
    expect(parseSpec(perHost, 'f.yaml').spec.hosts[0]!.installDisk).toBe('/dev/nvme0n1');
    for (const bad of ['sda', '/dev/../etc/passwd', '"/dev/sda b"', '/dev/']) {
      const text = example.replace('mac: "3c:ec:ef:00:01:01" }', `mac: "3c:ec:ef:00:01:01", installDisk: ${bad} }`);
      expect(() => parseSpec(text, 'f.yaml'), bad).toThrow(/f\.yaml:19:\d+: spec\.hosts\[0\]\.installDisk: .*\/dev\/sda/);
    }
  });

  it('Flatcar and Fedora CoreOS PXE hosts must name a disk (they would run from RAM)', () => {
    expect(() => parseSpec(flatcar, 'f.yaml')).toThrow(
      /f\.yaml:19:\d+: spec\.hosts\[0\]: m1 PXE-boots flatcar .* run from RAM.*installDisk/,
    );
    const optIn = flatcar
      .replace('fleet: { enabled: true }', 'fleet: { enabled: true, installUnknownMacs: true }')
      .replace('mac: "3c:ec:ef:00:01:01" }', 'mac: "3c:ec:ef:00:01:01", installDisk: /dev/sda }');
    expect(() => parseSpec(optIn, 'f.yaml')).toThrow(/spec\.fleet\.installUnknownMacs: .*spec\.fleet\.installDisk/);
    // Ubuntu's autoinstall picks its own disk when none is named.
    expect(parseSpec(example, 'f.yaml').spec.fleet.installDisk).toBeUndefined();
  });
});
