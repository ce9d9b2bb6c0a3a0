/**
 * Review F7: kube-vip v0.9.0 removed `vip_cidr` in favour of `vip_subnet` (kube-vip/kube-vip
 * c5e854f "Breaking: Remove vip_cidr in favor of vip_subnet"; pkg/kubevip/config_envvar.go at
 * v0.9.2 reads only `vip_subnet`, a bare prefix length such as "32"; cmd/kube-vip.go
 * GenerateCidrRange defaults it to 32 for IPv4 and 128 for IPv6). The manifest must name the
 * variable the pinned image reads.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildKubeVipManifest } from '../../../generator/plan/kube-vip.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { VERSIONS_BY_MINOR } from '../../../generator/versions.ts';
import { withLine } from '../spec/base-spec.ts';

const KUBE_VIP_SPEC = withLine('type: haproxy-keepalived', '    type: kube-vip')
  .split('\n')
  .filter((l) => !l.includes('role: load-balancer'))
  .join('\n');

function envOf(manifest: string): Record<string, string> {
  const pod = parse(manifest) as { spec: { containers: { env: { name: string; value: string }[] }[] } };
  return Object.fromEntries(pod.spec.containers[0]!.env.map((e) => [e.name, e.value]));
}

describe('kube-vip manifest', () => {
  it('sets vip_subnet, the variable the pinned kube-vip reads, and no removed vip_cidr', () => {
    // Re-check the variable names when a row of generator/versions.ts moves the pin.
    for (const row of Object.values(VERSIONS_BY_MINOR)) expect(row.kubeVip).toMatch(/^v0\.9\./);
    const { spec } = parseSpec(KUBE_VIP_SPEC, 'c.yaml');
    const env = envOf(buildKubeVipManifest(spec, 'eth0', 'admin.conf'));
    expect(env.vip_subnet).toBe('32');
    expect(env).not.toHaveProperty('vip_cidr');
    expect(env.address).toBe('10.1.0.10');
  });
});
