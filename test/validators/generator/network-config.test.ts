/**
 * Every example host's network-config read by the real cloud-init (Debian's package: its v2
 * parser `cloudinit.net.network_state` and its ENI renderer, what Debian 12 images use): the NIC
 * is found by the MAC the spec gives or Proxmox's deploy.sh sets, and renamed to the interface
 * keepalived/kube-vip use — the udev rule cloud-init writes names both.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderNetworkConfig } from '../../../generator/render/network-config.ts';
import { EXAMPLES, planExample } from '../../support/fixtures.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

const skip = skipUnless('validators', { commands: ['cloud-init', '/usr/bin/python3'] });
const dir = tempDir('ks-netcfg-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Prints, per file: interface name, MAC, subnet types, and the persistent-net rule ENI writes. */
const READER = `
import json, sys, yaml
from cloudinit.net import eni, network_state
out = {}
for path in sys.argv[1:]:
    ns = network_state.parse_net_config_data(yaml.safe_load(open(path)))
    ifs = [{"name": i["name"], "mac": i.get("mac_address"), "subnets": [s.get("type") for s in i.get("subnets", [])]}
           for i in ns.iter_interfaces() if i["name"] != "lo"]
    out[path] = {"interfaces": ifs, "rules": eni.Renderer()._render_persistent_net(ns)}
print(json.dumps(out))
`;

describe.skipIf(skip)('network-config as the real cloud-init reads it', () => {
  const cases = EXAMPLES.flatMap((example) => {
    const plan = planExample(example);
    return plan.spec.hosts.map((host) => {
      const file = join(dir, `${example}--${host.name}.yaml`);
      writeFileSync(file, renderNetworkConfig(host));
      return { example, host, file, proxmox: plan.spec.os.platform === 'proxmox' };
    });
  });
  const r = spawnSync('/usr/bin/python3', ['-c', READER, ...cases.map((c) => c.file)], { encoding: 'utf8' });

  it('parses every file', () => {
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  const parsed = (r.status === 0 ? JSON.parse(r.stdout) : {}) as Record<
    string,
    { interfaces: { name: string; mac: string | null; subnets: string[] }[]; rules: string }
  >;
  it.each(cases.map((c) => [`${c.example}/${c.host.name}`, c]))('%s: the NIC is found and named', (_name, c) => {
    const got = parsed[c.file]!;
    expect(got.interfaces).toHaveLength(1);
    const nic = got.interfaces[0]!;
    expect(nic.subnets).toEqual([c.host.address ? 'static' : 'dhcp4']);
    if (c.proxmox) expect(c.host.mac).toBeDefined(); // every Proxmox VM has a MAC deploy.sh sets
    if (c.host.mac) {
      expect(nic).toMatchObject({ name: c.host.interface, mac: c.host.mac });
      expect(got.rules).toContain(`ATTR{address}=="${c.host.mac}", NAME="${c.host.interface}"`);
    }
  });
});
