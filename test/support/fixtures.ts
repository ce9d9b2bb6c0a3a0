/** Deterministic planning inputs for golden files and validator runs (no PKI needed). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planCluster } from '../../generator/plan/plan.ts';
import type { ClusterPlan, PlanContext } from '../../generator/plan/types.ts';
import { parseSpec } from '../../generator/spec/parse.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
/** Examples rendered to cloud-init. */
export const EXAMPLES = ['ha-stacked', 'ha-external-etcd', 'kube-vip', 'nginx-keepalived', 'fleet-pxe'] as const;
/** Examples rendered to Ignition. */
export const IGNITION_EXAMPLES = ['flatcar-kube-vip', 'fedora-coreos-kube-vip'] as const;

/** A fixed, clearly fake coordinator CA: golden files must not churn with real key material. */
export const TEST_COORDINATOR_CA =
  '-----BEGIN CERTIFICATE-----\nTUlJQ0dGQUtFLUNPT1JESU5BVE9SLUNBLUZPUi1HT0xERU4tRklMRVM=\n-----END CERTIFICATE-----\n';

export function fixedContext(hosts: string[]): PlanContext {
  return {
    coordinatorCa: TEST_COORDINATOR_CA,
    enrollmentCredentials: Object.fromEntries([...hosts.map((h) => [h, `ksenr_golden_${h}`]), ['*', 'ksenr_golden_fleet']]),
  };
}

export function planExample(name: string): ClusterPlan {
  const file = join(ROOT, 'examples', `${name}.yaml`);
  const { spec, warnings } = parseSpec(readFileSync(file), file);
  return planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), warnings);
}
