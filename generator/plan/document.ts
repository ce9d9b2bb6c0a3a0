/** The per-host plan document shown by `kubeseed plan` and written to OUT/plan/<host>.yaml. Pure. */
import { buildStep, findHost } from './build-step.ts';
import { type ClusterPlan, type PlannedStep, SECRET_PLACEHOLDER, type SecretSource } from './types.ts';

/** Every value is the placeholder: `kubeseed plan` runs before any secret exists. */
export const placeholderSecrets: SecretSource = {
  bootstrapToken: () => SECRET_PLACEHOLDER,
  certificateKey: () => SECRET_PLACEHOLDER,
  discoveryHash: () => `sha256:${SECRET_PLACEHOLDER}`,
  pkiFile: () => SECRET_PLACEHOLDER,
  adminKubeconfig: () => SECRET_PLACEHOLDER,
};

/** Each host's steps with their 1-based rollout order, grouped once per plan (plans are not edited). */
const stepIndexes = new WeakMap<readonly PlannedStep[], Map<string, { s: PlannedStep; order: number }[]>>();

function stepsOf(steps: readonly PlannedStep[]): Map<string, { s: PlannedStep; order: number }[]> {
  let index = stepIndexes.get(steps);
  if (!index) {
    index = new Map();
    steps.forEach((s, i) => {
      const list = index!.get(s.host);
      if (list) list.push({ s, order: i + 1 });
      else index!.set(s.host, [{ s, order: i + 1 }]);
    });
    stepIndexes.set(steps, index);
  }
  return index;
}

/** The plan of one host as a document: its steps in rollout order, each with the files it writes. */
export function describeHostPlan(plan: ClusterPlan, hostName: string, secrets: SecretSource): Record<string, unknown> {
  const host = findHost(plan.spec, hostName);
  const steps = (stepsOf(plan.steps).get(hostName) ?? []).map(({ s, order }) => {
    const built = buildStep(plan, s, secrets);
    return {
      step: s.id,
      kind: s.kind,
      order,
      waitsFor: s.waitsFor,
      after: s.after,
      ...(s.group ? { concurrency: `${s.group.name}, at most ${s.group.limit} at once` } : {}),
      secrets: s.secrets,
      params: built.params,
      files: built.files.map((f) => ({
        path: f.path,
        mode: `0${f.mode.toString(8)}`,
        ...(f.removeAfter ? { removedAfterStep: true } : {}),
        content: f.content,
      })),
    };
  });
  return { host: host.name, role: host.role, ...(host.address ? { address: host.address.cidr } : {}), steps };
}
