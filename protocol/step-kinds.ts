/**
 * What each step kind is, as one table: the traits the coordinator's scheduler, the generator and
 * the agent used to re-derive with `kind === …` checks (ADR 0027). Adding a kind is one row here,
 * its params in `StepParamsByKind` (steps.ts), its builder (generator/plan/build-step.ts) and its
 * handler (agent/steps); gates and success checks are named here and implemented once, as tables,
 * by the scheduler. Pure data: bundled into the agent.
 */
import { STEP_KINDS, type StepKind } from './steps.ts';

/**
 * Gates a step of the kind waits for beyond plan order and `after`, checked in this order by the
 * scheduler (server/scheduler-gates.ts implements each once):
 * - `concurrency-group`: its group (control-plane-join, worker-join) has a free slot;
 * - `etcd-members-enrolled`: every external etcd member enrolled (members start together);
 * - `init-lock`: the init lock is free or this host's; released with the lock taken and the init token minted;
 * - `init-succeeded`: kubeadm init succeeded;
 * - `bootstrap-token`: a bootstrap token valid long enough, released with the step;
 * - `fresh-certificate-upload`: upload-certs mode: a kubeadm-certs upload with time left.
 */
export const STEP_GATES = [
  'concurrency-group',
  'etcd-members-enrolled',
  'init-lock',
  'init-succeeded',
  'bootstrap-token',
  'fresh-certificate-upload',
] as const;
export type StepGate = (typeof STEP_GATES)[number];

/**
 * Facts a success must report before the coordinator counts it (beyond exit 0):
 * - `control-plane-member`: stacked: its etcd member is a voter; external etcd: Node registered and API server ready.
 */
export const STEP_SUCCESS_CHECKS = ['control-plane-member'] as const;
export type StepSuccessCheck = (typeof STEP_SUCCESS_CHECKS)[number];

export interface StepKindTraits {
  /** An observation: run again on every release instead of being answered from its sentinel. */
  rerun: boolean;
  /** Writes a kubeadm config (`params.kubeadmConfigPath`) that the agent deletes after the step whatever happened. */
  writesKubeadmConfig: boolean;
  /** The node the step makes: `init` creates the cluster on the first control plane; the others join it. */
  makesNode?: 'init' | 'control-plane' | 'worker';
  /** A failed attempt leaves state behind: reset (and member removal, Node deletion) before its retry. */
  cleanupOnFailure: boolean;
  /** `reset` deletes this kind's sentinel: after a reset the step runs again. */
  clearedByReset: boolean;
  /** Its success uploads the control-plane certificates (opens a kubeadm-certs window). */
  uploadsCertificates: boolean;
  /** Gates beyond plan order and `after`, in the order they are checked. */
  gates: readonly StepGate[];
  successCheck?: StepSuccessCheck;
}

/** An ordinary step: runs once (sentinel), no cleanup, only a concurrency group can hold it back. */
const PLAIN: StepKindTraits = {
  rerun: false,
  writesKubeadmConfig: false,
  cleanupOnFailure: false,
  clearedByReset: false,
  uploadsCertificates: false,
  gates: ['concurrency-group'],
};

const JOIN: StepKindTraits = {
  ...PLAIN,
  writesKubeadmConfig: true,
  cleanupOnFailure: true,
  clearedByReset: true,
  gates: ['init-succeeded', 'concurrency-group', 'bootstrap-token'],
};

/** The built-in kinds. Every `StepKind` has a row (the type checker says when one is missing). */
export const STEP_KIND_TRAITS: { readonly [K in StepKind]: StepKindTraits } = {
  'prepare-host': PLAIN,
  'lb-check': { ...PLAIN, rerun: true },
  'etcd-start': { ...PLAIN, gates: ['etcd-members-enrolled'] },
  'kubeadm-init': {
    ...PLAIN,
    writesKubeadmConfig: true,
    makesNode: 'init',
    cleanupOnFailure: true,
    uploadsCertificates: true,
    gates: ['init-lock'],
  },
  'cni-apply': PLAIN,
  'kube-vip-manifest': { ...PLAIN, clearedByReset: true },
  'upload-certs': { ...PLAIN, writesKubeadmConfig: true, clearedByReset: true, uploadsCertificates: true },
  'kubeadm-join-control-plane': {
    ...JOIN,
    makesNode: 'control-plane',
    gates: [...JOIN.gates, 'fresh-certificate-upload'],
    successCheck: 'control-plane-member',
  },
  'kubeadm-join-worker': { ...JOIN, makesNode: 'worker' },
  'label-nodes': PLAIN,
  verify: { ...PLAIN, rerun: true },
  'etcd-member-remove': PLAIN,
  reset: { ...PLAIN, rerun: true },
  // Every release takes a new snapshot: never answered from a sentinel.
  'etcd-snapshot': { ...PLAIN, rerun: true },
  // Day 2 (ADR 0039): ordered by `after` edges only; each runs once per operation (its id names it).
  'kubeadm-upgrade-apply': { ...PLAIN, gates: [] },
  'kubeadm-upgrade-node': { ...PLAIN, gates: [] },
  'node-drain': { ...PLAIN, gates: [] },
  'kubelet-upgrade': { ...PLAIN, gates: [] },
  'node-uncordon': { ...PLAIN, gates: [] },
  'etcd-cert-renew': { ...PLAIN, gates: [] },
  'control-plane-cert-renew': { ...PLAIN, gates: [] },
  // Released one member at a time by `after` edges; static-pod mode keeps its etcd.yaml like etcd-start (no secret in it).
  'etcd-member-upgrade': { ...PLAIN, gates: [] },
};

/** Kinds not in the table (the coordinator's own `delete-node`): no gate, no trait. */
const NO_TRAITS: StepKindTraits = { ...PLAIN, gates: [] };

const registered = new Map<string, StepKindTraits>();

/**
 * Adds a kind that is not built in (tests show with it that a new kind needs only its row; a
 * kind that ships belongs in STEP_KINDS and STEP_KIND_TRAITS instead). Refuses a known kind.
 */
export function registerStepKind(kind: string, traits: StepKindTraits): void {
  if ((STEP_KINDS as readonly string[]).includes(kind) || registered.has(kind)) throw new Error(`step kind ${kind} is already registered`);
  registered.set(kind, traits);
}

/** The traits of `kind`; a kind nobody registered has none (no gate, runs once, no cleanup). */
export function stepTraits(kind: string): StepKindTraits {
  if (Object.hasOwn(STEP_KIND_TRAITS, kind)) return STEP_KIND_TRAITS[kind as StepKind];
  return registered.get(kind) ?? NO_TRAITS;
}

/** A kind of STEP_KINDS or one registered with `registerStepKind`. */
export function isStepKind(kind: string): boolean {
  return (STEP_KINDS as readonly string[]).includes(kind) || registered.has(kind);
}

/** A kubeadm join (control plane or worker). */
export function isJoinKind(kind: string): boolean {
  const node = stepTraits(kind).makesNode;
  return node === 'control-plane' || node === 'worker';
}

/** kubeadm init or a control-plane join: its success makes a control plane. */
export function makesControlPlane(kind: string): boolean {
  const node = stepTraits(kind).makesNode;
  return node === 'init' || node === 'control-plane';
}

/** The kinds `reset` makes run again. */
export function kindsClearedByReset(): StepKind[] {
  return STEP_KINDS.filter((kind) => STEP_KIND_TRAITS[kind].clearedByReset);
}
