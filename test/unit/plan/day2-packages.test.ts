/**
 * How day-2 package steps get the target's Kubernetes packages (generator/plan/build-step.ts,
 * templates/kubernetes-apt-source.ts, generator/plan/upgrade-issues.ts): apt hosts get the script
 * that moves the Kubernetes source to the target minor's repository — the prepare script's own
 * install_key/add_repo — image-based hosts get none, and `kubeseed upgrade` refuses a Kubernetes
 * change on Flatcar and Fedora CoreOS hosts whose packages kubeseed installed. The real apt run:
 * test/validators/day2-apt-source.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildStep, KUBERNETES_APT_SOURCE_SCRIPT } from '../../../generator/plan/build-step.ts';
import { placeholderSecrets } from '../../../generator/plan/document.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import type { PlannedStep } from '../../../generator/plan/types.ts';
import { upgradeIssues } from '../../../generator/plan/upgrade-issues.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import type { StepKind } from '../../../protocol/steps.ts';
import { renderPrepareHostScript } from '../../../templates/index.ts';

const EXAMPLE = readFileSync('examples/ha-stacked.yaml', 'utf8');

function spec(version: string, os: string, mirrors = ''): ClusterSpec {
  const text = EXAMPLE.replace('kubernetesVersion: v1.37.0', `kubernetesVersion: ${version}`).replace(
    /\n {2}os:\n {4}family: ubuntu\n/,
    `\n${mirrors}  os:\n${os}`,
  );
  return parseSpec(text, 'cluster.yaml').spec;
}

/** The Flatcar or Fedora CoreOS example at `version`, with `packages` when given. */
function imageBased(family: 'flatcar' | 'fedora-coreos', version: string, packages?: string): ClusterSpec {
  let text = readFileSync(`examples/${family}-kube-vip.yaml`, 'utf8').replace(/kubernetesVersion: v\S+/, `kubernetesVersion: ${version}`);
  if (packages) text = text.replace(`family: ${family}\n`, `family: ${family}\n    packages: ${packages}\n`);
  return parseSpec(text, `${family}.yaml`).spec;
}

function built(s: ClusterSpec, kind: StepKind) {
  const plan = planCluster(s, { coordinatorCa: '', enrollmentCredentials: Object.fromEntries(s.hosts.map((h) => [h.name, 'c'])) });
  const host = s.hosts.find((h) => h.role === 'worker')!;
  const step: PlannedStep = { id: `${host.name}/op/${kind}`, kind, host: host.name, role: host.role, after: [], waitsFor: '', secrets: [] };
  return buildStep(plan, step, placeholderSecrets);
}

describe('day-2 package steps: the Kubernetes apt source of the target minor', () => {
  it.each(['kubeadm-upgrade-apply', 'kubeadm-upgrade-node', 'kubelet-upgrade'] as const)(
    '%s on an apt host carries the script for pkgs.k8s.io v1.37 (a 1.36 → 1.37 upgrade)',
    (kind) => {
      const { files, params } = built(spec('v1.37.0', '    family: debian\n    packages: install\n'), kind);
      expect(params).toMatchObject({ version: '1.37.0', packageManager: 'apt', aptSourceScript: KUBERNETES_APT_SOURCE_SCRIPT });
      expect(files.map((f) => [f.path, f.mode, f.secret, f.removeAfter])).toEqual([[KUBERNETES_APT_SOURCE_SCRIPT, 0o700, false, true]]);
      const script = files[0]?.content ?? '';
      expect(script).toContain('K8S_REPO=https://pkgs.k8s.io/core:/stable:/v1.37/deb/');
      expect(script).toContain('K8S_KEY=https://pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key');
      expect(script).toContain('add_repo /etc/apt/sources.list.d/kubernetes.list "deb [signed-by=$K8S_KEYRING] $K8S_REPO /"');
      expect(script).not.toContain('apt_update_once');
    },
  );

  it('writes the source with the very lines the prepare script wrote it with at first boot', () => {
    const s = spec('v1.37.0', '    family: debian\n    packages: install\n');
    const day2 = built(s, 'kubelet-upgrade').files[0]?.content ?? '';
    const firstBoot = renderPrepareHostScript({ kubernetesVersion: 'v1.37.0', packagesMode: 'install' });
    const section = (text: string) =>
      text.slice(text.indexOf('install_key() {'), text.indexOf('add_repo /etc/apt/sources.list.d/kubernetes.list'));
    expect(section(day2)).toBe(section(firstBoot));
  });

  it('follows spec.mirrors.kubernetesApt (a mirror of the target minor) and its key', () => {
    const mirrors =
      '  mirrors:\n    kubernetesApt: https://mirror.lan/k8s/v1.37/deb/\n    kubernetesAptKey: https://mirror.lan/k8s/key.asc\n';
    const { files } = built(spec('v1.37.0', '    family: debian\n    packages: install\n', mirrors), 'kubelet-upgrade');
    expect(files[0]?.content).toContain('K8S_REPO=https://mirror.lan/k8s/v1.37/deb/');
    expect(files[0]?.content).toContain('K8S_KEY=https://mirror.lan/k8s/key.asc');
  });

  it.each([
    ['preinstalled images', () => spec('v1.37.0', '    family: debian\n    packages: preinstalled\n')],
    ['Flatcar', () => imageBased('flatcar', 'v1.37.0')],
  ])('%s: no script, the step checks kubeadm instead', (_, make) => {
    const { files, params } = built(make(), 'kubeadm-upgrade-node');
    expect(params).toEqual({ nodeName: expect.any(String), version: '1.37.0', packageManager: 'none' });
    expect(files).toEqual([]);
  });
});

describe('upgradeIssues: packages kubeseed cannot change on day 2', () => {
  it.each([
    [
      'flatcar',
      /flatcar hosts carry Kubernetes in their image \(Flatcar: system extension images; .*which kubeseed does not replace on day 2/,
    ],
    ['fedora-coreos', /fedora-coreos hosts carry Kubernetes in their image/],
  ] as const)('%s refuses a Kubernetes change, naming the way out', (family, message) => {
    const current = imageBased(family, 'v1.36.4');
    const issues = upgradeIssues(current, imageBased(family, 'v1.37.0'), false);
    expect(issues).toEqual([expect.stringMatching(message)]);
    expect(issues[0]).toMatch(/set os\.packages: preinstalled/);
    // The same version (an etcd-only upgrade) needs no package.
    expect(upgradeIssues(current, current, false)).toEqual([]);
  });

  it('apt hosts and preinstalled images are fine', () => {
    const os = '    family: debian\n    packages: install\n';
    expect(upgradeIssues(spec('v1.36.4', os), spec('v1.37.0', os), false)).toEqual([]);
    expect(
      upgradeIssues(imageBased('flatcar', 'v1.36.4', 'preinstalled'), imageBased('flatcar', 'v1.37.0', 'preinstalled'), false),
    ).toEqual([]);
  });
});
