import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../generator/errors.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { CASES } from './bad-spec-cases.ts';
import { BASE_SPEC, withLine } from './base-spec.ts';

describe('bad specs give one located, actionable message each', () => {
  it('has at least 25 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(25));
  for (const c of CASES) {
    it(c.name, () => {
      let error: unknown;
      try {
        parseSpec(c.text, 'c.yaml');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SpecError);
      const lines = (error as SpecError).message.split('\n');
      if (!lines.some((l) => l.startsWith(c.error))) console.log(`CASE ${c.name}\n${lines.join('\n')}`);
      expect(lines.some((l) => l.startsWith(c.error))).toBe(true);
    });
  }
});

describe('names kubeadm accepts pass', () => {
  it('extra SANs: IPv4, IPv6, DNS names and a wildcard (kubeadm ValidateCertSANs)', () => {
    const sans = ['10.1.0.10', 'fd00::10', 'api.example.com', 'k8s1api', '*.apps.example.com'];
    const text = withLine(
      'controlPlaneEndpoint:',
      `  controlPlaneEndpoint: api.t1.lan:6443\n  certificates:\n    extraSANs: [${sans.map((x) => `"${x}"`).join(', ')}]`,
    );
    expect(parseSpec(text, 'c.yaml').spec.certificates.extraSANs).toEqual(sans);
  });
});

describe('warnings', () => {
  const warnings = (text: string, strict = false) => {
    const r = parseSpec(text, 'c.yaml', { strict });
    return r.warnings.map((w) => `${w.line}:${w.column}: ${w.path}: ${w.message}`);
  };
  it('a valid spec has none', () => expect(warnings(BASE_SPEC)).toEqual([]));
  it('ipvs is deprecated', () =>
    expect(warnings(withLine('mode: iptables', '    mode: ipvs'))).toEqual([
      '14:11: spec.kubeProxy.mode: ipvs is deprecated upstream (since 1.35) and kubeadm warns about it; prefer nftables',
    ]));
  it('an even number of stacked etcd members', () => {
    expect(warnings(withLine('- { name: cp3', ''))[0]).toContain(
      '2 etcd members (control planes): legal, but an even count tolerates no more failures than 1',
    );
  });
  it('explicit empty taints on a control plane', () => {
    const w = warnings(
      withLine(
        '- { name: cp3',
        '    - { name: cp3, role: control-plane, address: 10.1.0.103/24, nameservers: [10.1.0.1], taints: [], mac: "52:54:00:01:00:67" }',
      ),
    );
    expect(w).toEqual([
      "30:98: spec.hosts[4].taints: an empty list removes the control-plane NoSchedule taint, so workloads will run on this control plane; omit taints to keep kubeadm's default",
    ]);
  });
  it('--strict makes warnings errors', () => {
    expect(() => warnings(withLine('mode: iptables', '    mode: ipvs'), true)).toThrow(SpecError);
  });
  it('omitted taints stay undefined (kubeadm default), [] stays empty', () => {
    const spec = parseSpec(BASE_SPEC, 'c.yaml').spec;
    expect(spec.hosts.find((h) => h.name === 'cp1')!.taints).toBeUndefined();
  });
  it('non-UTF-8 input is a located error, not a crash', () => {
    expect(() => parseSpec(new Uint8Array([0xff, 0xfe, 0x41]), 'c.yaml')).toThrow(/c.yaml:1:1: \(file\): is not valid UTF-8/);
  });
});
