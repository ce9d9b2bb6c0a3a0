/**
 * generator/versions.ts is the one home of facts that depend on the Kubernetes minor: every row
 * has every column, every column cites a source, and every value the code uses is read from the
 * row (change the row, what lands on the hosts or what the spec accepts follows).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { describeHostPlan, placeholderSecrets } from '../../../generator/plan/document.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import { renderCloudConfig } from '../../../generator/render/cloud-init.ts';
import { renderIgnition } from '../../../generator/render/ignition.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { type MinorVersions, SUPPORTED_MINORS, VERSION_SOURCES, VERSIONS_BY_MINOR } from '../../../generator/versions.ts';
import { fixedContext, TEST_COORDINATOR_CA } from '../../support/fixtures.ts';
import { withVersionRow } from '../../support/version-row.ts';

const EXAMPLES = join(import.meta.dirname, '../../../examples');

/** Everything an example puts on its hosts: user-data or Ignition, and each host's plan (steps, kubeadm documents). */
function renderExample(example: string, edit: (text: string) => string = (t) => t): string {
  const [name, variant] = example.split(':');
  const file = join(EXAMPLES, `${name}.yaml`);
  let text = edit(readFileSync(file, 'utf8'));
  if (variant === 'unpinned') text = text.replace(/\n +version: v3\.\d+\.\d+ .*/, '');
  const { spec, warnings } = parseSpec(text, file);
  const plan = planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), warnings);
  return plan.hosts
    .map((hp) => {
      const host = spec.hosts.find((h) => h.name === hp.name)!;
      const userData =
        spec.os.format === 'ignition'
          ? renderIgnition(hp.provisioning!, host, spec, { coordinatorCa: TEST_COORDINATOR_CA, agentSha256: '0'.repeat(64) })
          : renderCloudConfig(hp.provisioning!);
      return `${userData}\n${stringify(describeHostPlan(plan, hp.name, placeholderSecrets), { lineWidth: 0 })}`;
    })
    .join('\n');
}

describe('the version table', () => {
  it('has one row per supported minor, each with every column, and every column cites its source', () => {
    const minors = Object.keys(VERSIONS_BY_MINOR).map(Number);
    expect(minors).toEqual(Array.from({ length: SUPPORTED_MINORS.max - SUPPORTED_MINORS.min + 1 }, (_, i) => SUPPORTED_MINORS.min + i));
    const columns = Object.keys(VERSION_SOURCES).sort();
    for (const row of Object.values(VERSIONS_BY_MINOR)) expect(Object.keys(row).sort()).toEqual(columns);
    // A source names an upstream repository path or issue, or a documentation site.
    for (const source of Object.values(VERSION_SOURCES)) expect(source).toMatch(/[\w-]+\/[\w.-]+( |#|$)|docs\.\w+/);
  });

  it('the spec accepts exactly the minors with a row', () => {
    const at = (version: string) => () =>
      parseSpec(readFileSync(join(EXAMPLES, 'ha-stacked.yaml'), 'utf8').replace('v1.37.0', version), 'ha-stacked.yaml');
    expect(at(`v1.${SUPPORTED_MINORS.min}.0`)).not.toThrow();
    expect(at(`v1.${SUPPORTED_MINORS.max}.0`)).not.toThrow();
    expect(at(`v1.${SUPPORTED_MINORS.min - 1}.0`)).toThrow(/is not supported/);
    expect(at(`v1.${SUPPORTED_MINORS.max + 1}.0`)).toThrow(/is not supported/);
  });

  // Column, a changed value, the example whose hosts use it (at that example's minor), and what must then appear.
  // ha-external-etcd pins its etcd; without the pin its members run the row's.
  const cases: Array<[keyof MinorVersions, string, string, number, string]> = [
    ['pause', '9.8.7', 'ha-stacked', 37, '/pause:9.8.7'],
    ['etcdImageTag', '3.9.8-0', 'ha-external-etcd:unpinned', 36, 'imageTag: 3.9.8-0'],
    ['calico', 'v3.98.7', 'ha-stacked', 37, 'v3.98.7'],
    ['flannel', 'v0.98.7', 'ha-external-etcd', 36, 'v0.98.7'],
    ['cilium', 'v1.98.7', 'kube-vip', 37, '/cilium-1.98.7.tgz'],
    ['containerd', '2.98.7', 'flatcar-kube-vip', 37, 'containerd-2.98.7-x86-64.raw'],
    ['kubeadmApi', 'kubeadm.k8s.io/v9test', 'ha-stacked', 37, 'apiVersion: kubeadm.k8s.io/v9test'],
    ['kubeVip', 'v0.98.7', 'kube-vip', 37, '/kube-vip:v0.98.7'],
  ];
  it.each(cases)('%s: a changed row changes what lands on the hosts', async (column, value, example, minor, expected) => {
    const before = renderExample(example);
    expect(before).not.toContain(expected);
    const after = await withVersionRow(minor, { [column]: value }, () => renderExample(example));
    expect(after).toContain(expected);
    expect(renderExample(example)).toBe(before);
  });

  it('every column has a test that changes it (adminGroup, etcdClientGroups: test/unit/pki/certificates.test.ts)', () => {
    const tested = [...cases.map(([column]) => column), 'parallelStackedJoins', 'adminGroup', 'etcdClientGroups'];
    expect(tested.sort()).toEqual(Object.keys(VERSION_SOURCES).sort());
  });

  it('parallelStackedJoins: the row decides whether stacked control planes may join in parallel', async () => {
    const parallel = (text: string) => text.replace('  rollout:\n', '  rollout:\n    controlPlaneParallelism: 2\n');
    expect(() => renderExample('ha-stacked', parallel)).not.toThrow();
    await withVersionRow(37, { parallelStackedJoins: false }, () => {
      expect(() => renderExample('ha-stacked', parallel)).toThrow(/controlPlaneParallelism: 2 is refused for stacked etcd/);
    });
    // The coordinator's scheduler reads the same column: test/unit/server/scheduler.test.ts.
  });
});
