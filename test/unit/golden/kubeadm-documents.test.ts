/** Every kubeadm document in every host plan is checked field by field against the v1beta4 types. */

import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildStep } from '../../../generator/plan/build-step.ts';
import { placeholderSecrets } from '../../../generator/plan/document.ts';
import { EXAMPLES, IGNITION_EXAMPLES, planExample } from '../../support/fixtures.ts';
import { checkKubeadmDocument } from '../../support/kubeadm-v1beta4.ts';

const TOKEN_LIKE = {
  ...placeholderSecrets,
  bootstrapToken: () => 'abcdef.0123456789abcdef',
  certificateKey: () => 'a'.repeat(64),
  discoveryHash: () => `sha256:${'b'.repeat(64)}`,
};

describe.each([...EXAMPLES, ...IGNITION_EXAMPLES])('kubeadm documents of %s', (example) => {
  const plan = planExample(example);
  const configs = plan.steps.flatMap((s) =>
    buildStep(plan, s, TOKEN_LIKE)
      .files.filter((f) => f.path.startsWith('/etc/kubeseed/kubeadm/'))
      .map((f) => ({ step: s.id, file: f })),
  );
  it('there are kubeadm configs to check', () => expect(configs.length).toBeGreaterThan(2));
  for (const { step, file } of configs) {
    it(`${step}: ${file.path}`, () => {
      const docs = parseAllDocuments(file.content).map((d) => d.toJS() as Record<string, unknown>);
      expect(docs.length).toBeGreaterThan(0);
      for (const d of docs) expect(checkKubeadmDocument(d), `${d.kind}`).toEqual([]);
      const kinds = docs.map((d) => d.kind);
      if (step.endsWith('/kubeadm-init'))
        expect(kinds).toEqual(expect.arrayContaining(['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration']));
      if (step.includes('/kubeadm-join')) expect(kinds).toEqual(['JoinConfiguration']);
    });
  }
  it('the checker rejects an unknown field and a v1beta3-style map (it can fail)', () => {
    expect(checkKubeadmDocument({ apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'JoinConfiguration', discovery: {}, bogus: 1 })).toEqual([
      'JoinConfiguration.bogus: unknown field',
    ]);
    expect(
      checkKubeadmDocument({
        apiVersion: 'kubeadm.k8s.io/v1beta4',
        kind: 'InitConfiguration',
        nodeRegistration: { kubeletExtraArgs: { 'node-ip': '10.0.0.1' } },
      }),
    ).toEqual(['InitConfiguration.nodeRegistration.kubeletExtraArgs: expected a list']);
  });
});

describe('the flex-volume directory on a read-only /usr', () => {
  const initDocs = (example: string) => {
    const plan = planExample(example);
    const init = plan.steps.find((s) => s.id.endsWith('/kubeadm-init'))!;
    const file = buildStep(plan, init, TOKEN_LIKE).files.find((f) => f.path.startsWith('/etc/kubeseed/kubeadm/'))!;
    // biome-ignore lint/suspicious/noExplicitAny: parsed YAML read field by field below
    return parseAllDocuments(file.content).map((d) => d.toJS() as Record<string, any>);
  };
  it('moves to /opt/libexec on Flatcar, for the kubelet and the controller manager (kubeadm troubleshooting guide)', () => {
    const docs = initDocs('flatcar-kube-vip');
    const dir = '/opt/libexec/kubernetes/kubelet-plugins/volume/exec/';
    expect(docs.find((d) => d.kind === 'KubeletConfiguration')?.volumePluginDir).toBe(dir);
    expect(docs.find((d) => d.kind === 'ClusterConfiguration')?.controllerManager.extraArgs).toContainEqual({
      name: 'flex-volume-plugin-dir',
      value: dir,
    });
  });
  it("keeps the kubelet's default where /usr is writable (Ubuntu)", () => {
    const docs = initDocs('kube-vip');
    expect(docs.find((d) => d.kind === 'KubeletConfiguration')).not.toHaveProperty('volumePluginDir');
    const args = docs.find((d) => d.kind === 'ClusterConfiguration')?.controllerManager.extraArgs as { name: string }[];
    expect(args.map((a) => a.name)).not.toContain('flex-volume-plugin-dir');
  });
});
