/**
 * Issue 23 item 7: one containerd version per cluster — `spec.os.containerdVersion`, else the row of
 * the Kubernetes minor in generator/versions.ts (containerd's own Kubernetes support matrix) — read
 * by Flatcar's fallback extension image, a containerd tarball mirror's `{version}` and, when the spec
 * names one, Docker's containerd.io pin. Plus the host `arch` Ignition fetches for.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../generator/errors.ts';
import { hostPackages, hostTemplateFiles, PREPARE_SCRIPT } from '../../../generator/plan/host-files.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { containerdVersionOf, describeVersions, VERSIONS_BY_MINOR } from '../../../generator/versions.ts';
import { ROOT } from '../../support/fixtures.ts';
import { BASE_SPEC, withLine } from '../spec/base-spec.ts';

const withOs = (extra: string, text = BASE_SPEC) => withLine('platform: generic', `    platform: generic\n${extra}`, text);
const firstError = (text: string): string => {
  try {
    parseSpec(text, 'c.yaml');
  } catch (e) {
    if (e instanceof SpecError) return e.message.split('\n').find((l) => l.startsWith('c.yaml:')) ?? e.message;
    throw e;
  }
  return '(no error)';
};
const prepareScript = (text: string): string => {
  const { spec } = parseSpec(text, 'c.yaml');
  const cp = spec.hosts.find((h) => h.name === 'cp1')!;
  return hostTemplateFiles(spec, cp).files.find((f) => f.path === PREPARE_SCRIPT)?.content ?? '';
};

describe('the containerd version of a cluster', () => {
  it('defaults to the version table of the Kubernetes minor, every pick newer than the November 2025 fixes', () => {
    const { spec } = parseSpec(BASE_SPEC, 'c.yaml');
    expect(spec.os.containerdVersion).toBeUndefined();
    expect(containerdVersionOf(spec)).toBe('2.3.4');
    const v134 = parseSpec(withLine('kubernetesVersion:', '  kubernetesVersion: v1.34.3'), 'c.yaml').spec;
    expect(containerdVersionOf(v134)).toBe('2.0.11');
    // containerd v2.0.7, v2.1.5 and v2.2.0 (2025-11-05) carry the fixes for CVE-2025-64329 and runc's CVE-2025-31133/52565/52881.
    const fixedIn: Record<string, number> = { '2.0': 7, '2.1': 5, '2.2': 0, '2.3': 0 };
    for (const row of Object.values(VERSIONS_BY_MINOR)) {
      const [major, minor, patch] = row.containerd.split('.').map(Number) as [number, number, number];
      expect(major).toBe(2);
      expect(patch).toBeGreaterThanOrEqual(fixedIn[`${major}.${minor}`] ?? Number.POSITIVE_INFINITY);
    }
  });

  it('takes spec.os.containerdVersion, and refuses a 1.x with the place and the fix', () => {
    const { spec } = parseSpec(withOs('    containerdVersion: 2.1.5'), 'c.yaml');
    expect(containerdVersionOf(spec)).toBe('2.1.5');
    expect(firstError(withOs('    containerdVersion: 1.7.28'))).toBe(
      'c.yaml:20:24: spec.os.containerdVersion: "1.7.28" is not a containerd release of 2.0 or newer without "v", like 2.3.4 (kubeseed writes config version 3, which containerd 1.x refuses)',
    );
  });

  it("pins Docker's containerd.io to the version the spec names, else keeps its newest 2.x", () => {
    expect(prepareScript(BASE_SPEC)).toContain("resolve_version containerd.io '^2\\.'");
    const pinned = withOs('    containerdVersion: 2.1.5');
    expect(prepareScript(pinned)).toContain("resolve_version containerd.io '^2\\.1\\.5-'");
    const { spec } = parseSpec(pinned, 'c.yaml');
    expect(hostPackages(spec, 'worker')[0]).toBe('containerd.io 2.1.5 — Docker apt repository, held (the container runtime)');
    expect(hostPackages(parseSpec(BASE_SPEC, 'c.yaml').spec, 'worker')[0]).toBe(
      'containerd.io 2.x — Docker apt repository, held (the container runtime)',
    );
  });

  it("fills a containerd tarball mirror's {version} from the same version", () => {
    const mirror = '  mirrors:\n    containerd: https://mirror.lan/containerd/v{version}/containerd-{version}-linux-{arch}.tar.gz';
    const script = prepareScript(withLine('coordinator:', `${mirror}\n  coordinator:`));
    expect(script).toContain("CONTAINERD_URL='https://mirror.lan/containerd/v2.3.4/containerd-2.3.4-linux-{arch}.tar.gz'");
    expect(script).toContain("RUNC_URL='https://mirror.lan/containerd/v2.3.4/runc.{arch}'");
  });
});

describe('kubeseed plan names the containerd the hosts run', () => {
  const line = (text: string) => describeVersions(parseSpec(text, 'c.yaml').spec);
  it('per family and pin', () => {
    expect(line(BASE_SPEC)).toMatch(/, containerd: Docker's newest containerd\.io 2\.x$/);
    expect(line(withOs('    containerdVersion: 2.1.5'))).toMatch(/, containerd 2\.1\.5$/);
    const flatcar = withOs('    family: flatcar').replace(/type: haproxy-keepalived/, 'type: kube-vip');
    const flatcarHosts = flatcar
      .replace(/ {4}- \{ name: lb\d.*\n/g, '')
      .replace(/mac: "52:54:00:01:00:6(\d)"/g, 'mac: "52:54:00:01:00:6$1", interface: lan0');
    expect(line(flatcarHosts)).toMatch(/, containerd: Flatcar's own when ≥ 2\.0, else the 2\.3\.4 extension$/);
    const fcos = readFileSync(join(ROOT, 'examples', 'fedora-coreos-kube-vip.yaml'), 'utf8');
    expect(line(fcos)).toMatch(/, containerd: Fedora CoreOS's own \(the image's package\)$/);
  });
});

describe('the architecture of a host', () => {
  it('defaults to amd64 and takes arm64', () => {
    const text = withLine('- { name: w1', '    - { name: w1, role: worker, arch: arm64 }');
    const hosts = parseSpec(text, 'c.yaml').spec.hosts;
    expect(hosts.find((h) => h.name === 'w1')?.arch).toBe('arm64');
    expect(hosts.find((h) => h.name === 'cp1')?.arch).toBe('amd64');
    expect(firstError(withLine('- { name: w1', '    - { name: w1, role: worker, arch: x86_64 }'))).toMatch(
      /^c\.yaml:31:39: spec\.hosts\[5\]\.arch: "x86_64" is not accepted; use one of amd64 \| arm64/,
    );
  });
});
