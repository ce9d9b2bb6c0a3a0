/** The per-host plan document shown by `kubeseed plan` and written to OUT/plan/<host>.yaml. Pure. */
import { etcdStartCommands, prepareHostCommand, type StepKind, type StepParams, type StepParamsOf } from '../../protocol/index.ts';
import { buildStep, findHost } from './build-step.ts';
import { hostPackages } from './host-files.ts';
import { stepsByHost } from './steps.ts';
import { type ClusterPlan, SECRET_PLACEHOLDER, type SecretSource } from './types.ts';

/** Every value is the placeholder: `kubeseed plan` runs before any secret exists. */
export const placeholderSecrets: SecretSource = {
  bootstrapToken: () => SECRET_PLACEHOLDER,
  certificateKey: () => SECRET_PLACEHOLDER,
  discoveryHash: () => `sha256:${SECRET_PLACEHOLDER}`,
  pkiFile: () => SECRET_PLACEHOLDER,
  adminKubeconfig: () => SECRET_PLACEHOLDER,
};

/** Kinds whose commands are fixed by their params: the argv the agent runs, shown as `runs`. */
const STEP_RUNS: { [K in StepKind]?: (params: StepParamsOf<K>) => string[][] } = {
  'etcd-start': (params) => etcdStartCommands(params.etcdMode),
  'prepare-host': (params) => [prepareHostCommand(params.prepareScript)],
};

function runsOf(kind: StepKind, params: StepParams): { runs?: string[] } {
  const runs = STEP_RUNS[kind] as ((params: StepParams) => string[][]) | undefined;
  return runs ? { runs: runs(params).map((argv) => argv.join(' ')) } : {};
}

/** The plan of one host as a document: its steps in rollout order, each with the files it writes. */
export function describeHostPlan(plan: ClusterPlan, hostName: string, secrets: SecretSource): Record<string, unknown> {
  const host = findHost(plan.spec, hostName);
  const steps = (stepsByHost(plan.steps).get(hostName) ?? []).map(({ s, order }) => {
    const built = buildStep(plan, s, secrets);
    return {
      step: s.id,
      kind: s.kind,
      order,
      waitsFor: s.waitsFor,
      after: s.after,
      ...(s.group ? { concurrency: `${s.group.name}, at most ${s.group.limit} at once` } : {}),
      secrets: s.secrets,
      ...runsOf(s.kind, built.params),
      params: built.params,
      files: built.files.map((f) => ({
        path: f.path,
        mode: `0${f.mode.toString(8)}`,
        ...(f.removeAfter ? { removedAfterStep: true } : {}),
        content: f.content,
      })),
    };
  });
  // What preparation installs (the prepare-host step; Ignition on CoreOS families); docs/host-preparation.md says why each.
  const packages = hostPackages(plan.spec, host.role);
  return {
    host: host.name,
    role: host.role,
    ...(host.address ? { address: host.address.cidr } : {}),
    // How the host's network config finds its NIC: by MAC (then renamed to `name`), or by `name`.
    nic: host.mac ? { macaddress: host.mac, name: host.interface } : { name: host.interface },
    ...(packages.length ? { packages } : {}),
    steps,
  };
}
