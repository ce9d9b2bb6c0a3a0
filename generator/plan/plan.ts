/** planCluster: the pure entry point from a validated spec to the whole plan. */
import type { ClusterSpec, SpecIssue } from '../spec/types.ts';
import { toProvisioning } from './provision.ts';
import { planSteps, stepsByHost } from './steps.ts';
import type { ClusterPlan, HostPlan, PlanContext } from './types.ts';

export function planCluster(spec: ClusterSpec, ctx: PlanContext, warnings: SpecIssue[] = []): ClusterPlan {
  const steps = planSteps(spec);
  const byHost = stepsByHost(steps);
  const ids = (name: string) => (byHost.get(name) ?? []).map(({ s }) => s.id);
  const hosts: HostPlan[] = spec.hosts.map((h) => ({
    name: h.name,
    role: h.role,
    provisioning: toProvisioning(spec, h, ctx),
    steps: ids(h.name),
  }));
  return { spec, steps, hosts, ...(spec.fleet.enabled ? { fleet: toProvisioning(spec, null, ctx) } : {}), warnings };
}

/**
 * The rollout alone (steps and gates, no first-boot content): what the coordinator schedules. It
 * needs no enrollment credential, which the coordinator only holds as hashes.
 */
export function planRollout(spec: ClusterSpec, warnings: SpecIssue[] = []): ClusterPlan {
  const steps = planSteps(spec);
  const byHost = stepsByHost(steps);
  const ids = (name: string) => (byHost.get(name) ?? []).map(({ s }) => s.id);
  const hosts: HostPlan[] = spec.hosts.map((h) => ({ name: h.name, role: h.role, steps: ids(h.name) }));
  return { spec, steps, hosts, warnings };
}
