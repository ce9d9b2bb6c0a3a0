/** planCluster: the pure entry point from a validated spec to the whole plan. */
import type { ClusterSpec, SpecIssue } from '../spec/types.ts';
import { provisionHost } from './provision.ts';
import { planSteps } from './steps.ts';
import type { ClusterPlan, HostPlan, PlanContext, PlannedStep } from './types.ts';

/** Step ids per host, in rollout order (one pass: a 1,000-host plan has as many steps). */
function stepIdsByHost(steps: PlannedStep[]): Map<string, string[]> {
  const byHost = new Map<string, string[]>();
  for (const s of steps) {
    const ids = byHost.get(s.host);
    if (ids) ids.push(s.id);
    else byHost.set(s.host, [s.id]);
  }
  return byHost;
}

export function planCluster(spec: ClusterSpec, ctx: PlanContext, warnings: SpecIssue[] = []): ClusterPlan {
  const steps = planSteps(spec);
  const ids = stepIdsByHost(steps);
  const hosts: HostPlan[] = spec.hosts.map((h) => ({
    name: h.name,
    role: h.role,
    provisioning: provisionHost(spec, h, ctx),
    steps: ids.get(h.name) ?? [],
  }));
  return { spec, steps, hosts, ...(spec.fleet.enabled ? { fleet: provisionHost(spec, null, ctx) } : {}), warnings };
}

/**
 * The rollout alone (steps and gates, no first-boot content): what the coordinator schedules. It
 * needs no enrollment credential, which the coordinator only holds as hashes.
 */
export function planRollout(spec: ClusterSpec, warnings: SpecIssue[] = []): ClusterPlan {
  const steps = planSteps(spec);
  const ids = stepIdsByHost(steps);
  const hosts: HostPlan[] = spec.hosts.map((h) => ({ name: h.name, role: h.role, steps: ids.get(h.name) ?? [] }));
  return { spec, steps, hosts, warnings };
}
