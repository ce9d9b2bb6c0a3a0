/**
 * Issue 17 (defect 2, acceptance): `kubeseed plan` shows that an external etcd member reloads systemd
 * and restarts the kubelet before `kubeadm init phase etcd local` (kubeadm's HA etcd guide), and the
 * agent runs exactly what the plan shows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeHostPlan, placeholderSecrets } from '../../../generator/plan/document.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { packageRoot } from '../../../generator/util/package-root.ts';
import { fixedContext } from '../../support/fixtures.ts';

const example = readFileSync(join(packageRoot(import.meta.dirname), 'examples', 'ha-external-etcd.yaml'), 'utf8');

function etcdStartRuns(text: string): unknown {
  const { spec } = parseSpec(text, 'c.yaml');
  const plan = planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), []);
  const etcdHost = spec.hosts.find((h) => h.role === 'etcd')!.name;
  const steps = describeHostPlan(plan, etcdHost, placeholderSecrets).steps as Array<{ kind: string; runs?: string[] }>;
  return steps.find((s) => s.kind === 'etcd-start')?.runs;
}

describe('kubeseed plan: what etcd-start runs', () => {
  it('static pod: daemon-reload, kubelet restart, then kubeadm init phase etcd local', () => {
    expect(example).toMatch(/mode: static-pod/);
    expect(etcdStartRuns(example)).toEqual(['systemctl daemon-reload', 'systemctl restart kubelet', 'kubeadm init phase etcd local']);
  });

  it('binary: daemon-reload, then the etcd unit from the user-data', () => {
    expect(etcdStartRuns(example.replace('mode: static-pod', 'mode: binary'))).toEqual([
      'systemctl daemon-reload',
      'systemctl enable --now etcd',
    ]);
  });
});
