import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../generator/errors.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { renderContainerdConfig } from '../../../templates/containerd.ts';
import { ROOT } from '../../support/fixtures.ts';

const EXAMPLE = readFileSync(join(ROOT, 'examples', 'fedora-coreos-kube-vip.yaml'), 'utf8');
const withMirrors = (lines: string) => EXAMPLE.replace('  coordinator:\n', `  mirrors:\n${lines}  coordinator:\n`);
const issues = (text: string) => {
  try {
    return parseSpec(text, 'c.yaml').warnings.map((w) => `${w.line}:${w.column}: ${w.path}: ${w.message}`);
  } catch (e) {
    if (e instanceof SpecError) return e.message.split('\n');
    throw e;
  }
};

describe('fedora-coreos specs', () => {
  it('validate says once, plainly, what is and is not proven for fedora-coreos', () => {
    const w = issues(EXAMPLE);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(
      /^20:13: spec\.os\.family: fedora-coreos: proven by real programs here are the Ignition config \(ignition-validate\)/,
    );
    expect(w[0]).toContain('NOT proven, because no Fedora CoreOS host boots in these tests: rpm-ostree layering');
    // Flatcar has its own note: images from https without spec.mirrors.sysextSha256 are trusted through TLS only.
    const flatcar = issues(EXAMPLE.replace('family: fedora-coreos', 'family: flatcar'));
    expect(flatcar.filter((m) => !m.includes('trusted through TLS only'))).toEqual([]);
    expect(flatcar).toHaveLength(1);
  });

  it('an apt mirror of the Kubernetes packages is a located error naming the RPM field', () => {
    const out = issues(withMirrors('    kubernetesApt: https://apt.kloud.lan/k8s/\n'));
    expect(
      out.some((l) =>
        /^c\.yaml:23:20: spec\.mirrors\.kubernetesApt: is an apt repository; fedora-coreos layers RPMs with rpm-ostree: set spec\.mirrors\.kubernetesRpm/.test(
          l,
        ),
      ),
    ).toBe(true);
  });

  it('a plain-http RPM mirror needs an https key URL; the key URL itself must be https', () => {
    const out = issues(withMirrors('    kubernetesRpm: http://rpm.kloud.lan/k8s/\n'));
    expect(out.some((l) => l.startsWith('c.yaml:23:20: spec.mirrors.kubernetesRpm: is plain http'))).toBe(true);
    const ok = issues(withMirrors('    kubernetesRpm: http://rpm.kloud.lan/k8s/\n    kubernetesRpmKey: https://keys.kloud.lan/k8s.asc\n'));
    expect(ok).toHaveLength(1);
    const httpKey = issues(
      withMirrors('    kubernetesRpm: https://rpm.kloud.lan/k8s/\n    kubernetesRpmKey: http://keys.kloud.lan/k8s.asc\n'),
    );
    expect(httpKey.some((l) => l.includes('spec.mirrors.kubernetesRpmKey: "http://keys.kloud.lan/k8s.asc" is not an https URL'))).toBe(
      true,
    );
  });

  it('says os.containerdVersion is not used: Fedora CoreOS runs the image’s own containerd', () => {
    const w = issues(EXAMPLE.replace('    family: fedora-coreos\n', '    family: fedora-coreos\n    containerdVersion: 2.1.5\n'));
    expect(w.some((m) => m.includes('spec.os.containerdVersion: is not used with fedora-coreos'))).toBe(true);
  });

  it('warns about mirrors fedora-coreos does not use, and kubernetesRpm on other families', () => {
    expect(issues(withMirrors('    sysext: https://mirror.kloud.lan/sysext/\n'))[1]).toContain(
      'spec.mirrors.sysext: is not used with fedora-coreos',
    );
    const flatcar = issues(
      withMirrors('    kubernetesRpm: https://rpm.kloud.lan/k8s/\n').replace('family: fedora-coreos', 'family: flatcar'),
    );
    expect(flatcar.filter((m) => !m.includes('trusted through TLS only'))).toEqual([
      '23:20: spec.mirrors.kubernetesRpm: is only used by os.family fedora-coreos, not flatcar; remove it',
    ]);
  });
});

describe('containerd config on SELinux hosts', () => {
  it('turns on enable_selinux in the CRI runtime plugin of config version 3 only when asked', () => {
    const on = renderContainerdConfig({ sandboxImage: 'registry.k8s.io/pause:3.10.2', enableSelinux: true });
    expect(on).toContain("[plugins.'io.containerd.cri.v1.runtime']\n  # SELinux enforcing host: label every container");
    expect(on).toMatch(/\n {2}enable_selinux = true\n/);
    expect(renderContainerdConfig({ sandboxImage: 'registry.k8s.io/pause:3.10.2' })).not.toContain('enable_selinux');
  });
});
