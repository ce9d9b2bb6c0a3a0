/**
 * CNI × kube-proxy × mirrors combinations that validate must catch (review F5, F6).
 */
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../generator/errors.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { withLine } from './base-spec.ts';

const withCni = (plugin: string, mode: string) =>
  withLine('mode: iptables', `    mode: ${mode}`, withLine('kubeProxy:', `  cni: { plugin: ${plugin} }\n  kubeProxy:`));

function errorOf(text: string): string {
  try {
    parseSpec(text, 'c.yaml');
  } catch (e) {
    if (e instanceof SpecError) return e.message;
    throw e;
  }
  return '';
}

describe('kubeProxy.mode: disabled needs a CNI that replaces kube-proxy', () => {
  it.each(['flannel', 'calico'])('%s without kube-proxy is an error naming the field and the fix', (plugin) => {
    const message = errorOf(withCni(plugin, 'disabled'));
    expect(message).toContain('spec.kubeProxy.mode: disabled');
    expect(message).toContain(`${plugin} does not replace kube-proxy`);
    expect(message).toContain('use nftables or iptables, or cni.plugin: cilium');
  });
  it('cilium without kube-proxy stays valid', () => {
    expect(errorOf(withCni('cilium', 'disabled'))).toBe('');
  });
});

const warnings = (text: string) => parseSpec(text, 'c.yaml').warnings.map((w) => `${w.path}: ${w.message}`);
const mirrored = (plugin: string, mirrors: string) => withCni(plugin, 'iptables').replace('  os:', `  mirrors: ${mirrors}\n  os:`);

describe.each([
  {
    cni: 'Calico',
    plugin: 'calico',
    registry: 'quay.io',
    image: 'quay.io/tigera/operator',
    pulls: 'the tigera operator image still comes from quay.io',
  },
  {
    cni: 'Flannel',
    plugin: 'flannel',
    registry: 'ghcr.io',
    image: 'ghcr.io/flannel-io/flannel',
    pulls: 'kube-flannel.yml still pulls its images from ghcr.io',
  },
])('$cni with mirrors.imageRepository', ({ plugin, registry, image, pulls }) => {
  it(`warns that ${pulls}, naming the fix`, () => {
    const w = warnings(mirrored(plugin, '{ imageRepository: registry.lan/k8s }'));
    expect(w.some((x) => x.startsWith('spec.mirrors.imageRepository:') && x.includes(image))).toBe(true);
    expect(w.some((x) => x.includes('spec.mirrors.registryMirrors') && x.includes(registry))).toBe(true);
  });
  it(`is quiet when ${registry} (or every registry) is mirrored, or without imageRepository`, () => {
    expect(
      warnings(mirrored(plugin, `{ imageRepository: registry.lan/k8s, registryMirrors: { ${registry}: [https://registry.lan] } }`)),
    ).toEqual([]);
    expect(
      warnings(mirrored(plugin, '{ imageRepository: registry.lan/k8s, registryMirrors: { _default: [https://registry.lan] } }')),
    ).toEqual([]);
    expect(warnings(withCni(plugin, 'iptables'))).toEqual([]);
  });
});
