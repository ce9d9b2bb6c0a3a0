/**
 * How a host's NIC is found and how it resolves the endpoint (issue 17 defects 5 and 6):
 * deterministic MACs on Proxmox, a warning for a static host matched only by a guessed name,
 * and an error for a node that can resolve the endpoint's name by no means at all.
 */
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../generator/errors.ts';
import { describeHostPlan, placeholderSecrets } from '../../../generator/plan/document.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import { expectedEndpointAddress } from '../../../generator/spec/endpoint.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { fixedContext } from '../../support/fixtures.ts';
import { BASE_SPEC, withLine } from './base-spec.ts';

const PROXMOX = `    platform: proxmox
  proxmox:
    node: pve1
    templateVmid: 9000
    snippetStorage: local
    bridge: vmbr0`;

/** BASE_SPEC on Proxmox (deploy.sh written), with the static hosts' MACs removed. */
function proxmoxSpec(text = BASE_SPEC, clusterName = 't1'): string {
  return withLine('platform: generic', PROXMOX, text)
    .replace(/, mac: "[0-9a-f:]+"/g, '')
    .replace('name: t1', `name: ${clusterName}`);
}

function messages(text: string): string[] {
  try {
    return parseSpec(text, 'c.yaml').warnings.map((w) => `${w.line}:${w.column}: ${w.path}: ${w.message}`);
  } catch (e) {
    if (e instanceof SpecError) return e.message.split('\n');
    throw e;
  }
}

const macsOf = (text: string) => Object.fromEntries(parseSpec(text, 'c.yaml').spec.hosts.map((h) => [h.name, h.mac]));

describe('Proxmox: every VM gets a deterministic MAC', () => {
  it('derives a locally administered unicast MAC for each host without one, stable across runs', () => {
    const first = macsOf(proxmoxSpec());
    expect(Object.keys(first)).toEqual(['lb1', 'lb2', 'cp1', 'cp2', 'cp3', 'w1']);
    for (const mac of Object.values(first)) {
      expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      const octet = Number.parseInt(mac!.slice(0, 2), 16);
      expect(octet & 0b10).toBe(0b10); // locally administered
      expect(octet & 0b01).toBe(0); // unicast
    }
    expect(new Set(Object.values(first)).size).toBe(6);
    expect(macsOf(proxmoxSpec())).toEqual(first);
  });

  it('depends on the cluster name and the host name only', () => {
    const t1 = macsOf(proxmoxSpec());
    const other = macsOf(proxmoxSpec(BASE_SPEC, 'k8s2'));
    for (const name of Object.keys(t1)) expect(other[name]).not.toBe(t1[name]);
    // Adding a host or reordering does not move the others.
    const more = macsOf(proxmoxSpec(withLine('- { name: w1', '    - { name: w2, role: worker }\n    - { name: w1, role: worker }')));
    expect(more.w1).toBe(t1.w1);
    expect(more.cp1).toBe(t1.cp1);
  });

  it("keeps the spec's mac, and never hands out a MAC the spec declares", () => {
    const t1 = macsOf(proxmoxSpec());
    const declared = proxmoxSpec(withLine('- { name: w1', `    - { name: w1, role: worker, mac: "${t1.cp1!.toUpperCase()}" }`));
    const macs = macsOf(declared);
    expect(macs.w1).toBe(t1.cp1);
    expect(macs.cp1).not.toBe(t1.cp1);
    expect(macs.cp1).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  });

  it('derives nothing when no deploy.sh is written (no templateVmid), so nothing would set the MAC', () => {
    const noTemplate = proxmoxSpec().replace('    templateVmid: 9000\n', '');
    expect(parseSpec(noTemplate, 'c.yaml', {}).spec.hosts.every((h) => h.mac === undefined)).toBe(true);
  });

  it('refuses a Proxmox spec whose deploy.sh could not set the NIC (no bridge)', () => {
    const noBridge = proxmoxSpec().replace('    bridge: vmbr0', '');
    expect(messages(noBridge)).toContainEqual(
      expect.stringMatching(
        /^c\.yaml:20:3: spec\.proxmox: deploy\.sh sets every VM's NIC to virtio=<MAC>,bridge=<bridge>: set spec\.proxmox\.bridge/,
      ),
    );
  });
});

describe('a static host without a MAC is matched by a guessed NIC name', () => {
  const noMac = withLine('- { name: cp3', '    - { name: cp3, role: control-plane, address: 10.1.0.103/24, nameservers: [10.1.0.1] }');

  it('warns, naming the name it guesses and the fix', () => {
    const w = messages(noMac);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^30:7: spec\.hosts\[4\]: cp3 has a static address but no mac/);
    expect(w[0]).toContain('matched by the name eth0');
    expect(w[0]).toContain('ens18');
    expect(w[0]).toMatch(/set mac: .* or set interface:/);
  });

  it('is quiet when the host names its interface itself', () => {
    const named = withLine(
      '- { name: cp3',
      '    - { name: cp3, role: control-plane, address: 10.1.0.103/24, nameservers: [10.1.0.1], interface: ens18 }',
    );
    expect(messages(named)).toEqual([]);
    expect(parseSpec(named, 'c.yaml').spec.hosts.find((h) => h.name === 'cp3')?.interface).toBe('ens18');
  });

  it('does not warn for a DHCP worker (it takes the first Ethernet NIC)', () => {
    expect(messages(BASE_SPEC)).toEqual([]);
  });
});

describe('an endpoint name nobody can resolve', () => {
  const cp3NoDns = (text = BASE_SPEC) =>
    withLine('- { name: cp3', '    - { name: cp3, role: control-plane, address: 10.1.0.103/24, mac: "52:54:00:01:00:67" }', text);

  it('is an error for a node with a static address, no nameservers and no hostsFile', () => {
    const lines = messages(cp3NoDns());
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^c\.yaml:30:7: spec\.hosts\[4\]: cp3 has a static address but no nameservers, and spec\.networking\.hostsFile is false: nothing resolves api\.t1\.lan/,
      ),
    );
    const line = lines.find((l) => l.includes('nothing resolves'))!;
    expect(line).toContain('add nameservers: [<your DNS server>] to cp3');
    expect(line).toContain('set spec.networking.hostsFile: true (maps api.t1.lan to 10.1.0.10)');
  });

  it('passes with hostsFile, with an address as endpoint, and on hosts that never contact the endpoint', () => {
    expect(messages(withLine('nodeCidrMaskSize:', '    nodeCidrMaskSize: 24\n    hostsFile: true', cp3NoDns()))).toEqual([]);
    expect(messages(withLine('controlPlaneEndpoint:', '  controlPlaneEndpoint: 10.1.0.10:6443', cp3NoDns()))).toEqual([]);
    const lbNoDns = withLine('- { name: lb2', '    - { name: lb2, role: load-balancer, address: 10.1.0.12/24, mac: "52:54:00:01:00:12" }');
    expect(messages(lbNoDns)).toEqual([]);
  });

  it('with an external load balancer and no vip, hostsFile cannot help: the fix says so', () => {
    const external = cp3NoDns(
      withLine('type: haproxy', '    type: external', withLine('vip:', '', withLine('- { name: lb1', '', withLine('- { name: lb2', '')))),
    );
    const line = messages(external).find((l) => l.includes('nothing resolves'))!;
    expect(line).toContain('add nameservers');
    expect(line).not.toContain('hostsFile: true');
  });
});

describe('expectedEndpointAddress: what the endpoint name must resolve to', () => {
  const spec = (text: string) => parseSpec(text, 'c.yaml').spec;
  it('is the VIP with two keepalived load balancers', () => expect(expectedEndpointAddress(spec(BASE_SPEC))).toBe('10.1.0.10'));
  it("is the single load balancer's own address (no keepalived, no VIP)", () => {
    const single = withLine('vip:', '', withLine('- { name: lb2', ''));
    expect(expectedEndpointAddress(spec(single))).toBe('10.1.0.11');
  });
  it('is the VIP with kube-vip', () => {
    const kubeVip = withLine('type: haproxy', '    type: kube-vip', withLine('- { name: lb1', '', withLine('- { name: lb2', '')));
    expect(expectedEndpointAddress(spec(kubeVip))).toBe('10.1.0.10');
  });
  it('is unknown with an external load balancer without a vip (it need only resolve)', () => {
    const external = withLine(
      'type: haproxy',
      '    type: external',
      withLine('vip:', '', withLine('- { name: lb1', '', withLine('- { name: lb2', ''))),
    );
    expect(expectedEndpointAddress(spec(external))).toBeUndefined();
  });
});

describe('the steps carry the address the endpoint must resolve to', () => {
  const endpointsOf = (text: string, host: string) => {
    const { spec } = parseSpec(text, 'c.yaml');
    const plan = planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), []);
    const steps = describeHostPlan(plan, host, placeholderSecrets).steps as { kind: string; params: { endpoint?: unknown } }[];
    return steps.flatMap((s) => (s.params.endpoint ? [[s.kind, s.params.endpoint]] : []));
  };

  it('the VIP with two keepalived load balancers', () => {
    expect(endpointsOf(BASE_SPEC, 'w1')).toContainEqual([
      'kubeadm-join-worker',
      { host: 'api.t1.lan', port: 6443, vip: '10.1.0.10', address: '10.1.0.10' },
    ]);
  });

  it('the single load balancer host, and no VIP nobody holds', () => {
    const single = withLine('- { name: lb2', '', BASE_SPEC);
    for (const [, endpoint] of endpointsOf(single, 'cp1'))
      expect(endpoint).toEqual({ host: 'api.t1.lan', port: 6443, address: '10.1.0.11' });
    expect(endpointsOf(single, 'cp1').length).toBeGreaterThan(0);
  });
});

describe('Ignition hosts: no silent eth0 (issue 23, interface names)', () => {
  // Flatcar with kube-vip: no load-balancer hosts, Ignition format.
  const flatcar = withLine(
    'type: haproxy',
    '    type: kube-vip',
    withLine(
      '- { name: lb1',
      '',
      withLine('- { name: lb2', '', withLine('platform: generic', '    platform: generic\n    family: flatcar')),
    ),
  );

  it('refuses a static host matched by nothing but the default name', () => {
    const text = withLine(
      '- { name: cp3',
      '    - { name: cp3, role: control-plane, address: 10.1.0.103/24, nameservers: [10.1.0.1] }',
      flatcar,
    );
    expect(messages(text)).toContainEqual(
      expect.stringMatching(/^c\.yaml:31:7: spec\.hosts\[2\]: cp3 has a static address but no mac: .*set mac: .* or set interface:/),
    );
  });

  it('warns that renaming to eth0 races with the kernel, and is quiet for lan0', () => {
    // The images' TLS-only warning (generator/spec/integrity.ts) is not about the network.
    const network = (text: string) => messages(text).filter((m) => !m.includes('trusted through TLS only'));
    const w = network(flatcar);
    expect(w).toHaveLength(3);
    expect(w[0]).toMatch(/^29:7: spec\.hosts\[0\]: the \.link that renames cp1's NIC to eth0 races with the kernel's own ethN names/);
    expect(w[0]).toContain('interface: lan0');
    const lan0 = withLine('vip:', '    vip: 10.1.0.10\n    interface: lan0', flatcar);
    expect(network(lan0)).toEqual([]);
  });
});
