/**
 * Calico through the tigera operator, as the pinned release ships it (projectcalico/calico
 * manifests/ at v3.30.0 and later: tigera-operator.yaml holds no CustomResourceDefinition at all;
 * operator-crds.yaml holds all of them, installations.operator.tigera.io and
 * apiservers.operator.tigera.io included; the v3.32 operator creates CRDs itself only with
 * --bootstrapCRDs=true). Review F1 and F2.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { planCni } from '../../../generator/plan/cni.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { withLine } from '../spec/base-spec.ts';

const CALICO = withLine('kubeProxy:', '  cni: { plugin: calico, version: v3.32.1 }\n  kubeProxy:');

function calico(proxyMode: string, extra = '') {
  const text = withLine('mode: iptables', `    mode: ${proxyMode}`, CALICO).replace('  os:', `${extra}  os:`);
  return planCni(parseSpec(text, 'c.yaml').spec);
}

describe('Calico', () => {
  it('applies operator-crds.yaml before the operator, and the Installation only after both', () => {
    const p = calico('iptables');
    const up = 'https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests';
    expect(p.manifests.slice(0, 2)).toEqual([`${up}/operator-crds.yaml`, `${up}/tigera-operator.yaml`]);
    // cni-apply applies manifests in order, each retried (server-side) until the API accepts it, so the
    // Installation is applied once its CRD is served.
    expect(p.manifests[2]).toBe('/etc/kubeseed/cni/calico-installation.yaml');
  });

  it('takes the CRDs from mirrors.cni like the operator manifest', () => {
    const p = calico('iptables', '  mirrors: { cni: "https://files.lan/calico/" }\n');
    expect(p.manifests.slice(0, 2)).toEqual([
      'https://files.lan/calico/operator-crds.yaml',
      'https://files.lan/calico/tigera-operator.yaml',
    ]);
  });

  it('pairs kube-proxy nftables with the nftables data plane, and leaves the default otherwise', () => {
    const dataplane = (mode: string) => {
      const docs = calico(mode)
        .files[0]!.content.split(/^---$/m)
        .map((d) => parse(d));
      return docs.find((d) => d.kind === 'Installation').spec.calicoNetwork.linuxDataplane;
    };
    expect(dataplane('nftables')).toBe('Nftables');
    expect(dataplane('iptables')).toBeUndefined();
    expect(dataplane('ipvs')).toBeUndefined();
  });
});
