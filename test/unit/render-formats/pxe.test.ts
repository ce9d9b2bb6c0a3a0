import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  checkIpxeToken,
  defaultPxeAssets,
  pxeUrls,
  renderIpxeIndex,
  renderIpxeScript,
  renderPxeFiles,
  renderUbuntuAutoinstall,
  resolvePxeBaseUrl,
} from '../../../generator/render/pxe.ts';
import { makeSpec } from './fixtures.ts';

const BASE = 'http://10.101.1.5:8080';

/** Splits an iPXE line the way iPXE does: on whitespace, no quoting. */
function ipxeTokens(line: string): string[] {
  return line.split(/\s+/).filter(Boolean);
}

function kernelLine(script: string): string[] {
  const line = script.split('\n').find((l) => l.startsWith('kernel '));
  return ipxeTokens(line ?? '');
}

describe('iPXE scripts', () => {
  it('boots Ubuntu into autoinstall with a NoCloud seed URL ending in /', () => {
    const script = renderIpxeScript({ family: 'ubuntu', ...defaultPxeAssets('ubuntu', BASE), seedUrl: pxeUrls(BASE, 'fleet').nocloud });
    expect(script.startsWith('#!ipxe\n')).toBe(true);
    const t = kernelLine(script);
    expect(t[1]).toBe(`${BASE}/assets/ubuntu/vmlinuz`);
    expect(t).toContain('initrd=initrd.img');
    expect(t).toContain('ip=dhcp');
    expect(t).toContain(`url=${BASE}/assets/ubuntu/ubuntu-live-server-amd64.iso`);
    expect(t).toContain('cloud-config-url=/dev/null');
    expect(t).toContain('autoinstall');
    // One token for iPXE: `;` inside a token is not a separator.
    expect(t).toContain(`ds=nocloud;s=${BASE}/nocloud/fleet/`);
    expect(t.filter((x) => x === ';' || x === '||' || x === '&&' || x.startsWith('#'))).toEqual([]);
    expect(script).toContain(`initrd --name initrd.img ${BASE}/assets/ubuntu/initrd\nboot\n`);
  });

  it('boots Debian with the NoCloud seed and no installer arguments', () => {
    const t = kernelLine(renderIpxeScript({ family: 'debian', ...defaultPxeAssets('debian', BASE), seedUrl: `${BASE}/nocloud/w1/` }));
    expect(t).toContain(`ds=nocloud;s=${BASE}/nocloud/w1/`);
    expect(t).not.toContain('autoinstall');
  });

  it('boots Flatcar with its first-boot flag and the Ignition URL', () => {
    const t = kernelLine(
      renderIpxeScript({ family: 'flatcar', ...defaultPxeAssets('flatcar', BASE), ignitionUrl: `${BASE}/ignition/fleet.ign` }),
    );
    expect(t[1]).toBe(`${BASE}/assets/flatcar/flatcar_production_pxe.vmlinuz`);
    expect(t).toContain('flatcar.first_boot=1');
    expect(t).toContain(`ignition.config.url=${BASE}/ignition/fleet.ign`);
  });

  it('boots Fedora CoreOS live, or installs it to disk', () => {
    const assets = defaultPxeAssets('fedora-coreos', BASE);
    const live = kernelLine(renderIpxeScript({ family: 'fedora-coreos', ...assets, ignitionUrl: `${BASE}/ignition/fleet.ign` }));
    expect(live).toEqual(
      expect.arrayContaining([
        `coreos.live.rootfs_url=${BASE}/assets/fedora-coreos/fedora-coreos-live-rootfs.x86_64.img`,
        'ignition.firstboot',
        'ignition.platform.id=metal',
        `ignition.config.url=${BASE}/ignition/fleet.ign`,
      ]),
    );
    const inst = kernelLine(
      renderIpxeScript({ family: 'fedora-coreos', ...assets, ignitionUrl: `${BASE}/ignition/x.ign`, installDevice: '/dev/sda' }),
    );
    expect(inst).toEqual(expect.arrayContaining(['coreos.inst.install_dev=/dev/sda', `coreos.inst.ignition_url=${BASE}/ignition/x.ign`]));
    expect(inst).not.toContain('ignition.firstboot');
  });

  it('refuses what iPXE would split, expand or cut', () => {
    const ubuntu = { family: 'ubuntu' as const, ...defaultPxeAssets('ubuntu', BASE) };
    expect(() => renderIpxeScript({ ...ubuntu, seedUrl: `${BASE}/nocloud/fleet` })).toThrow(/must end with "\/"/);
    expect(() => renderIpxeScript({ ...ubuntu, seedUrl: `${BASE}/no cloud/` })).toThrow(/whitespace/);
    expect(() => renderIpxeScript({ ...ubuntu, seedUrl: `${BASE}/\${hostname}/` })).toThrow(/expand/);
    expect(() => renderIpxeScript({ ...ubuntu, seedUrl: 'ftp://x/' })).toThrow(/http\(s\) URL/);
    expect(() => renderIpxeScript({ ...ubuntu })).toThrow(/needs seedUrl/);
    expect(() => renderIpxeScript({ ...ubuntu, seedUrl: `${BASE}/s/`, extraArgs: ['||'] })).toThrow(/command separator/);
    expect(() => checkIpxeToken('#x', 'arg')).toThrow(/comment/);
    expect(() =>
      renderIpxeScript({ family: 'fedora-coreos', kernelUrl: `${BASE}/k`, initrdUrl: `${BASE}/i`, ignitionUrl: `${BASE}/i.ign` }),
    ).toThrow(/rootfsUrl/);
  });

  it('chains by MAC from the index script, with a bounded-wait retry', () => {
    const idx = renderIpxeIndex(`${BASE}/`);
    expect(idx.split('\n')).toEqual([
      '#!ipxe',
      expect.stringContaining('# kubeseed'),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: iPXE's own setting syntax
      'isset ${ip} || dhcp',
      ':retry',
      `chain --autofree ${BASE}/ipxe?mac=\${mac:hexhyp} || goto failed`,
      'exit 0',
      ':failed',
      `echo kubeseed: no boot script for \${mac:hexhyp} from ${BASE}; retrying in 10 s`,
      'sleep 10',
      'goto retry',
      '',
    ]);
  });
});

describe('PXE URLs', () => {
  it('derives the listener URL from coordinator.url and httpListen', () => {
    const spec = makeSpec('ubuntu');
    spec.coordinator.httpListen = '0.0.0.0:8080';
    expect(resolvePxeBaseUrl(spec)).toBe('http://10.101.1.5:8080');
    spec.coordinator.httpListen = '192.168.7.2:80';
    expect(resolvePxeBaseUrl(spec)).toBe('http://192.168.7.2:80');
    spec.coordinator.httpListen = '[::]:8080';
    spec.coordinator.url = 'https://seed.kloud.lan:9443';
    expect(resolvePxeBaseUrl(spec)).toBe('http://seed.kloud.lan:8080');
    spec.coordinator.httpListen = '';
    expect(() => resolvePxeBaseUrl(spec)).toThrow(/coordinator.httpListen: missing/);
    spec.coordinator.httpListen = 'nonsense';
    expect(() => resolvePxeBaseUrl(spec)).toThrow(/not host:port/);
  });

  it('names the listener routes and refuses path tricks in names', () => {
    expect(pxeUrls(`${BASE}/`, 'k8s1worker1')).toEqual({
      ipxe: `${BASE}/ipxe`,
      nocloud: `${BASE}/nocloud/k8s1worker1/`,
      ignition: `${BASE}/ignition/k8s1worker1.ign`,
      installer: `${BASE}/ignition/k8s1worker1-install.ign`,
    });
    expect(() => pxeUrls(BASE, '../etc')).toThrow(/not a host name/);
  });
});

describe('renderUbuntuAutoinstall', () => {
  const userData =
    '#cloud-config\nhostname: k8s1worker1\nwrite_files:\n  - path: /etc/kubeseed/agent.yaml\n    permissions: "0600"\n    content: |\n      host: k8s1worker1\nruncmd:\n  - [systemctl, start, kubeseed-agent.service]\n';

  it('carries the cloud-config into the installed system unchanged', () => {
    const doc = renderUbuntuAutoinstall(userData);
    expect(doc.startsWith('#cloud-config\nautoinstall:\n')).toBe(true);
    const parsed = YAML.parse(doc);
    expect(parsed.autoinstall.version).toBe(1);
    expect(parsed.autoinstall['user-data']).toEqual(YAML.parse(userData));
    expect(parsed.autoinstall.storage).toEqual({ layout: { name: 'lvm' }, grub: { reorder_uefi: false } });
    expect(parsed.autoinstall.identity).toBeUndefined();
    expect(renderUbuntuAutoinstall(userData)).toBe(doc);
    expect(YAML.parse(renderUbuntuAutoinstall(userData, { storageLayout: 'direct' })).autoinstall.storage.layout.name).toBe('direct');
  });

  it('refuses documents it cannot embed', () => {
    expect(() => renderUbuntuAutoinstall('Content-Type: multipart/mixed\n')).toThrow(/#cloud-config/);
    expect(() => renderUbuntuAutoinstall('#cloud-config\n- a\n')).toThrow(/mapping/);
  });
});

describe('renderPxeFiles', () => {
  it('writes the index, the fleet boot script and the fleet autoinstall seed for Ubuntu', () => {
    const spec = makeSpec('ubuntu');
    spec.coordinator.httpListen = '0.0.0.0:8080';
    const { files } = renderPxeFiles(spec, { fleetUserData: '#cloud-config\nruncmd: [[true]]\n' });
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      ['pxe/boot.ipxe', 0o644],
      ['pxe/fleet.ipxe', 0o644],
      ['pxe/nocloud/fleet/user-data', 0o600],
      ['pxe/nocloud/fleet/meta-data', 0o644],
    ]);
    expect(files[1]?.content).toContain(`ds=nocloud;s=${BASE}/nocloud/fleet/`);
    expect(YAML.parse(files[2]?.content ?? '').autoinstall['user-data']).toEqual({ runcmd: [[true]] });
  });

  it('points Flatcar at the fleet Ignition config', () => {
    const spec = makeSpec('flatcar');
    spec.coordinator.httpListen = '0.0.0.0:8080';
    const { files } = renderPxeFiles(spec, { fleetUserData: '{}' });
    expect(files.map((f) => f.path)).toEqual(['pxe/boot.ipxe', 'pxe/fleet.ipxe']);
    expect(files[1]?.content).toContain(`ignition.config.url=${BASE}/ignition/fleet.ign`);
  });
});
