import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildNetworkConfig, renderNetworkConfig } from '../../../generator/render/network-config.ts';
import { assignProxmoxVmids, type ProxmoxHostInput, ProxmoxSpecError, renderProxmox } from '../../../generator/render/proxmox.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import { makeSpec } from './fixtures.ts';

function proxmoxSpec(): ClusterSpec {
  const spec = makeSpec('ubuntu');
  spec.proxmox = { node: 'pve1', templateVmid: 9000, storage: 'local-lvm', snippetStorage: 'local', bridge: 'vmbr0' };
  return spec;
}

function inputs(spec: ClusterSpec): ProxmoxHostInput[] {
  return spec.hosts.map((h) => ({
    name: h.name,
    userData: `#cloud-config\nhostname: ${h.name}\n`,
    metaData: `instance-id: iid-${h.name}\nlocal-hostname: ${h.name}\n`,
    ...(h.role === 'worker' ? {} : { networkConfig: `version: 2\n# ${h.name}\n` }),
  }));
}

describe('renderProxmox', () => {
  it('writes the snippets with the exact cloud-init bytes, private, and an executable deploy.sh', () => {
    const spec = proxmoxSpec();
    const { files } = renderProxmox(spec, inputs(spec));
    expect(files.map((f) => f.path)).toEqual([
      'proxmox/k8s1master1-user.yaml',
      'proxmox/k8s1master1-network.yaml',
      'proxmox/k8s1master1-meta.yaml',
      'proxmox/k8s1master2-user.yaml',
      'proxmox/k8s1master2-network.yaml',
      'proxmox/k8s1master2-meta.yaml',
      'proxmox/k8s1worker1-user.yaml',
      'proxmox/k8s1worker1-meta.yaml',
      'proxmox/deploy.sh',
      'proxmox/destroy.sh',
    ]);
    expect(files.find((f) => f.path === 'proxmox/k8s1master2-user.yaml')?.content).toBe('#cloud-config\nhostname: k8s1master2\n');
    expect(files.find((f) => f.path === 'proxmox/k8s1worker1-meta.yaml')?.content).toBe(
      'instance-id: iid-k8s1worker1\nlocal-hostname: k8s1worker1\n',
    );
    expect(files.filter((f) => f.path.endsWith('.yaml')).every((f) => f.mode === 0o600)).toBe(true);
    expect(files.filter((f) => f.path.endsWith('.sh')).map((f) => f.mode)).toEqual([0o755, 0o755]);
  });

  it('clones, sets the NIC and the snippets, and starts each host', () => {
    const spec = proxmoxSpec();
    const script = renderProxmox(spec, inputs(spec)).files.find((f) => f.path === 'proxmox/deploy.sh')?.content ?? '';
    const lines = script.split('\n').map((l) => l.trim());
    expect(lines[0]).toBe('#!/usr/bin/env bash');
    expect(lines).toContain('set -euo pipefail');
    expect(lines).toContain('NODE=pve1');
    const master1 = [
      'qm clone 9000 9001 --name k8s1master1 --full --storage local-lvm',
      'qm set 9001 --smbios1 "uuid=$(cat /proc/sys/kernel/random/uuid)"',
      'qm set 9001 --net0 virtio=52:54:00:12:34:56,bridge=vmbr0',
      'qm set 9001 --cicustom user=local:snippets/k8s1master1-user.yaml,network=local:snippets/k8s1master1-network.yaml,meta=local:snippets/k8s1master1-meta.yaml',
      'start_once 9001 k8s1master1',
    ];
    const at = master1.map((l) => lines.indexOf(l));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // A DHCP worker without network-config gets no network snippet.
    expect(lines).toContain('qm set 9003 --cicustom user=local:snippets/k8s1worker1-user.yaml,meta=local:snippets/k8s1worker1-meta.yaml');
  });

  it('gives a fresh clone the SMBIOS UUID of the spec when there is one', () => {
    const spec = proxmoxSpec();
    spec.hosts = spec.hosts.map((h) => (h.name === 'k8s1master2' ? { ...h, uuid: '4c4c4544-0042-3010-8057-b4c04f4e3132' } : h));
    const script = renderProxmox(spec, inputs(spec)).files.find((f) => f.path === 'proxmox/deploy.sh')?.content ?? '';
    expect(script).toContain('qm set 9002 --smbios1 uuid=4c4c4544-0042-3010-8057-b4c04f4e3132\n');
  });

  it('leaves the NIC alone without a MAC and omits --storage when none is set', () => {
    const spec = proxmoxSpec();
    spec.proxmox.storage = undefined;
    spec.hosts = spec.hosts.map((h) => (h.name === 'k8s1worker1' ? { ...h, mac: undefined } : h));
    const script = renderProxmox(spec, inputs(spec)).files.find((f) => f.path === 'proxmox/deploy.sh')?.content ?? '';
    expect(script).toContain('qm clone 9000 9003 --name k8s1worker1 --full\n');
    expect(script).not.toContain('qm set 9003 --net0');
  });

  it('assigns VMIDs from the template and the spec position, with overrides', () => {
    const spec = proxmoxSpec();
    expect([...assignProxmoxVmids(spec)]).toEqual([
      ['k8s1master1', 9001],
      ['k8s1master2', 9002],
      ['k8s1worker1', 9003],
    ]);
    expect(assignProxmoxVmids(spec, { vmids: { k8s1worker1: 120 } }).get('k8s1worker1')).toBe(120);
    // Rendering a subset keeps each host's VMID.
    const only = renderProxmox(spec, inputs(spec).slice(2)).files.find((f) => f.path === 'proxmox/deploy.sh')?.content ?? '';
    expect(only).toContain('qm clone 9000 9003 --name k8s1worker1');
  });

  it('names every missing field with its fix', () => {
    const spec = proxmoxSpec();
    spec.proxmox = {};
    let err: unknown;
    try {
      renderProxmox(spec, inputs(spec));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxmoxSpecError);
    const issues = (err as ProxmoxSpecError).issues;
    expect(issues).toEqual([
      expect.stringMatching(/^spec\.proxmox\.node: missing — .*pve1/),
      expect.stringMatching(/^spec\.proxmox\.templateVmid: missing — .*9000/),
      expect.stringMatching(/^spec\.proxmox\.snippetStorage: missing — .*snippets/),
      expect.stringMatching(/^spec\.proxmox\.bridge: missing — host k8s1master1 has a MAC/),
      expect.stringMatching(/^spec\.proxmox\.bridge: missing — host k8s1master2 has a MAC/),
      expect.stringMatching(/^spec\.proxmox\.bridge: missing — host k8s1worker1 has a MAC/),
    ]);
    expect((err as Error).message).toContain('spec.proxmox cannot drive deploy.sh');
  });

  it('refuses invalid values and VMID clashes', () => {
    const spec = proxmoxSpec();
    spec.proxmox.snippetStorage = 'local; rm -rf /';
    spec.proxmox.templateVmid = 42;
    expect(() => renderProxmox(spec, inputs(spec))).toThrow(/templateVmid: 42 is not a VMID[\s\S]*snippetStorage: .* is not a storage id/);
    const clash = proxmoxSpec();
    expect(() => renderProxmox(clash, inputs(clash), { vmids: { k8s1worker1: 9001 } })).toThrow(/VMID 9001 is also k8s1master1's/);
    expect(() => renderProxmox(clash, [{ name: 'ghost', userData: '', metaData: '' }])).toThrow(/host ghost: not in spec.hosts/);
  });
});

describe('Proxmox: the NIC is found by the MAC deploy.sh gives the VM (issue 17, NIC names)', () => {
  // ha-stacked: k8s1worker1 (static) and k8s1worker3 (DHCP) have no mac in the spec.
  const { spec } = parseSpec(readFileSync(new URL('../../../examples/ha-stacked.yaml', import.meta.url)), 'ha-stacked.yaml');
  const host = (name: string) => spec.hosts.find((h) => h.name === name)!;
  const script =
    renderProxmox(
      spec,
      spec.hosts.map((h) => ({ name: h.name, userData: '#cloud-config\n', metaData: '', networkConfig: renderNetworkConfig(h) })),
    ).files.find((f) => f.path === 'proxmox/deploy.sh')?.content ?? '';

  it('matches a static host without a spec mac by its derived MAC and renames the NIC to the keepalived/kube-vip name', () => {
    const w1 = host('k8s1worker1');
    expect(w1.mac).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    expect(buildNetworkConfig(w1)).toEqual({
      version: 2,
      ethernets: {
        eth0: {
          match: { macaddress: w1.mac },
          'set-name': 'eth0',
          dhcp4: false,
          addresses: ['10.101.1.121/24'],
          routes: [{ to: '0.0.0.0/0', via: '10.101.1.1' }],
          nameservers: { addresses: ['10.101.1.1'] },
        },
      },
    });
  });

  it('matches a DHCP worker by MAC too, not by whatever name the image picks', () => {
    const w3 = host('k8s1worker3');
    expect(buildNetworkConfig(w3)).toEqual({
      version: 2,
      ethernets: { eth0: { match: { macaddress: w3.mac }, 'set-name': 'eth0', dhcp4: true } },
    });
  });

  it('deploy.sh sets every VM to the MAC its network-config matches, on the spec bridge', () => {
    for (const [i, h] of spec.hosts.entries()) {
      expect(script).toContain(`qm set ${9001 + i} --net0 virtio=${h.mac},bridge=vmbr0\n`);
    }
    // The spec's own MAC wins.
    expect(host('k8s1master1').mac).toBe('52:54:00:01:01:65');
  });
});

describe('Proxmox VM sizes, VMIDs, onboot and tags (issue 21)', () => {
  const base = readFileSync(new URL('../../../examples/ha-stacked.yaml', import.meta.url), 'utf8');
  const withProxmox = (extra: string, hostsEdit: (t: string) => string = (t) => t) =>
    hostsEdit(base.replace('    bridge: vmbr0\n', `    bridge: vmbr0\n${extra}`));
  const deployOf = (spec: ClusterSpec) =>
    renderProxmox(
      spec,
      spec.hosts.map((h) => ({ name: h.name, userData: '#cloud-config\n', metaData: '' })),
    ).files.find((f) => f.path === 'proxmox/deploy.sh')?.content ?? '';

  it('sizes each VM per role, a host over its role field by field, grows the boot disk, sets onboot and tags', () => {
    const text = withProxmox(
      '    onboot: true\n    tags: [k8s, k8s1-cluster]\n    bootDisk: virtio0\n    roles:\n      control-plane: { cores: 4, memory: 8192, disk: 40G }\n      worker: { cores: 8, memory: 16384 }\n',
      (t) => t.replace('- name: k8s1worker1\n', '- name: k8s1worker1\n      proxmox: { vmid: 120, memory: 32768, disk: 100G }\n'),
    );
    const { spec } = parseSpec(text, 'c.yaml');
    const script = deployOf(spec);
    const m1 = 9001 + spec.hosts.findIndex((h) => h.name === 'k8s1master1');
    expect(script).toContain(`qm set ${m1} --cores 4 --memory 8192 --onboot 1 --tags 'k8s;k8s1-cluster'\n`);
    expect(script).toContain(`grow_disk ${m1} virtio0 40G\n`);
    expect(script).toContain('qm clone 9000 120 --name k8s1worker1 --full --storage local-lvm\n');
    expect(script).toContain('qm set 120 --cores 8 --memory 32768 --onboot 1');
    expect(script).toContain('grow_disk 120 virtio0 100G\n');
    // A load balancer has no role size: only onboot and tags.
    const lb = spec.hosts.findIndex((h) => h.role === 'load-balancer');
    expect(script).toContain(`qm set ${9001 + lb} --onboot 1 --tags 'k8s;k8s1-cluster'\n`);
    expect(script).not.toContain(`grow_disk ${9001 + lb} `);
    // destroy.sh acts on the same VMIDs.
    const destroy = renderProxmox(
      spec,
      spec.hosts.map((h) => ({ name: h.name, userData: '', metaData: '' })),
    ).files.find((f) => f.path === 'proxmox/destroy.sh')?.content;
    expect(destroy).toContain('    k8s1worker1) echo 120 ;;\n');
    expect(destroy).toContain(`    k8s1master1) echo ${m1} ;;\n`);
  });

  it('writes no size, onboot or tags settings when the spec has none (the template keeps its own)', () => {
    const { spec } = parseSpec(base, 'c.yaml');
    const script = deployOf(spec);
    expect(script).not.toMatch(/qm set \d+ --(cores|memory|onboot|tags)/);
    expect(script).not.toMatch(/^\s+grow_disk /m);
  });

  it('reports bad sizes, tags and VMIDs at their place in the spec', () => {
    const text = withProxmox('    tags: ["Bad Tag"]\n    roles:\n      worker: { cores: 0, memory: 8, disk: 40 }\n', (t) =>
      t
        .replace('{ name: k8s1master2, role', '{ name: k8s1master2, proxmox: { vmid: 9000 }, role')
        .replace('- name: k8s1worker1\n', '- name: k8s1worker1\n      proxmox: { vmid: 9001 }\n'),
    );
    let err: unknown;
    try {
      parseSpec(text, 'c.yaml');
    } catch (e) {
      err = e;
    }
    const message = (err as Error).message;
    const lineOf = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(message).toContain(`c.yaml:${lineOf('tags: ["Bad Tag"]')}:`);
    expect(message).toMatch(/spec\.proxmox\.tags\[0\]: .*a Proxmox tag/);
    expect(message).toMatch(/spec\.proxmox\.roles\.worker\.cores: /);
    expect(message).toMatch(/spec\.proxmox\.roles\.worker\.memory: /);
    expect(message).toMatch(/spec\.proxmox\.roles\.worker\.disk: .*like 40G/);
    expect(message).toMatch(
      new RegExp(
        `c\\.yaml:${lineOf('k8s1master2, proxmox: { vmid: 9000 }')}:\\d+: spec\\.hosts\\[\\d\\]\\.proxmox\\.vmid: k8s1master2 gets VMID 9000 from its proxmox\\.vmid, the template's`,
      ),
    );
    // 9001 is the first host's by position (k8s1lb1).
    expect(message).toMatch(/k8s1worker1 gets VMID 9001 from its proxmox\.vmid, which k8s1lb1 has already/);
  });
});
