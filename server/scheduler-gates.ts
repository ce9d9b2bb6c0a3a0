/**
 * The gates and success checks of the step-kind table (protocol/step-kinds.ts), each implemented
 * once: `gate()` checks a plan step's order, its `after` and then its kind's gates in the row's
 * order. Pure.
 */

import type { ClusterPlan, PlannedStep } from '../generator/plan/types.ts';
import { VERSIONS_BY_MINOR } from '../generator/versions.ts';
import { type StepGate, type StepSuccessCheck, stepTraits } from '../protocol/index.ts';
import type { StepRecord, TokenRecord, WorkKind } from './model.ts';
import {
  ACTIVE,
  cleanupDone,
  currentToken,
  hostReady,
  hostRemoved,
  indexedSteps,
  initSucceeded,
  isStacked,
  newStep,
  type Pass,
  pickControlPlane,
  type ReleaseExtra,
  rec,
  release,
  stepDone,
  TERMINAL_OK,
} from './scheduler-pass.ts';

/** Each success check of the step-kind table (protocol/step-kinds.ts), once. */
export const SUCCESS_CHECKS: Record<StepSuccessCheck, (plan: ClusterPlan, results: StepRecord['results']) => boolean> = {
  // DESIGN.md: rollout order 5. Stacked: the new etcd member is a voter; external: Node and API server up.
  'control-plane-member': (plan, results) =>
    isStacked(plan) ? results.etcdVoter === true : results.nodeRegistered === true && results.apiServerReady === true,
};

/** Whether a step's success needs facts beyond "exit 0" and they are reported. */
export function joinGateMet(plan: ClusterPlan, kind: WorkKind, results: StepRecord['results']): boolean {
  const check = stepTraits(kind).successCheck;
  return check === undefined || SUCCESS_CHECKS[check](plan, results);
}

export function lastCertUpload(pass: Pass): number | undefined {
  let last: number | undefined;
  for (const r of indexedSteps(pass, 'uploads')) {
    if (stepTraits(r.kind).uploadsCertificates && r.state === 'succeeded' && r.releasedAt !== undefined) {
      if (last === undefined || r.releasedAt > last) last = r.releasedAt;
    }
  }
  return last;
}

/** upload-certs mode: true when a fresh kubeadm-certs upload is in place for a join released now. */
export function certsUploaded(pass: Pass): true | string {
  const last = lastCertUpload(pass);
  const closes = last === undefined ? undefined : last + pass.config.uploadCertsWindowMs - pass.config.uploadCertsMarginMs;
  if (closes !== undefined && pass.now <= closes) {
    pass.wake.push(closes + 1);
    return true;
  }
  const inProgress = indexedSteps(pass, 'uploads').find((r) => r.kind === 'upload-certs' && !TERMINAL_OK.has(r.state));
  if (inProgress) return `the kubeadm-certs upload (${inProgress.id}, ${inProgress.state})`;
  const executor = pickControlPlane(pass, '');
  if (!executor) return 'a joined control plane to upload the certificates';
  const step = newStep(pass, executor, 'upload-certs', 'upload-certs');
  pass.working.set(step.id, step);
  pass.decisions.push({ type: 'create-steps', steps: [step] });
  if (!pass.busyHosts.has(executor) && hostReady(pass, executor)) release(pass, step);
  return `the kubeadm-certs upload on ${executor}`;
}

export function countGroupUsage(pass: Pass): Map<string, number> {
  const used = new Map<string, number>();
  // With an index, only the steps that can occupy a slot (a sum: order does not matter).
  const occupying = pass.snapshot.index?.occupying;
  const steps: Iterable<PlannedStep | undefined> = occupying ? [...occupying].map((id) => pass.index.byId.get(id)) : pass.plan.steps;
  for (const step of steps) {
    if (!step?.group) continue;
    const r = rec(pass, step.id);
    if (!r || hostRemoved(pass, step.host)) continue;
    const occupies = ACTIVE.has(r.state) || ((r.state === 'retry-wait' || r.state === 'failed') && !cleanupDone(pass, r));
    if (occupies) used.set(step.group.name, (used.get(step.group.name) ?? 0) + 1);
  }
  return used;
}

export function groupUsage(pass: Pass, group: string): number {
  return pass.groupUsed.get(group) ?? 0;
}

export function groupLimit(pass: Pass, step: PlannedStep): number {
  const limit = step.group?.limit ?? Infinity;
  // Defence in depth: the spec refuses this combination, the scheduler never runs it.
  if (
    step.group?.name === 'control-plane-join' &&
    isStacked(pass.plan) &&
    VERSIONS_BY_MINOR[pass.plan.spec.kubernetesMinor]?.parallelStackedJoins !== true
  )
    return 1;
  return limit;
}

export function tokenForJoin(pass: Pass): TokenRecord | string {
  const token = currentToken(pass.snapshot.tokens);
  if (token && token.expiresAt - pass.now >= pass.config.tokenRenewBeforeMs) return token;
  if (!pass.mintRequested) {
    pass.mintRequested = true;
    pass.decisions.push({ type: 'mint-token' });
  }
  return 'a fresh bootstrap token';
}

/**
 * Each gate of the step-kind table (protocol/step-kinds.ts), once: `check` says true or what the
 * step waits for; `release` adds what the released step carries because of the gate.
 */
export const GATES: Record<
  StepGate,
  { check(pass: Pass, step: PlannedStep, record: StepRecord): true | string; release?(pass: Pass, step: PlannedStep): ReleaseExtra }
> = {
  'concurrency-group': {
    check: (pass, step) => {
      if (!step.group || groupUsage(pass, step.group.name) < groupLimit(pass, step)) return true;
      return step.group.name === 'control-plane-join' ? 'the previous control plane to finish joining' : `a free ${step.group.name} slot`;
    },
  },
  'etcd-members-enrolled': {
    check: (pass) => {
      const missing = pass.plan.hosts.filter(
        (h) => h.role === 'etcd' && !hostRemoved(pass, h.name) && !pass.snapshot.hosts[h.name]?.enrollment,
      );
      if (missing.length > 0) return `every etcd member to enroll (missing: ${missing.map((h) => h.name).join(', ')})`;
      return true;
    },
  },
  'init-lock': {
    check: (pass, step, record) => {
      const lock = pass.snapshot.initLock;
      if (lock && lock.holder !== step.host && !(hostRemoved(pass, lock.holder) && !lock.succeeded))
        return `the init lock (held by ${lock.holder})`;
      if (lock?.succeeded && record.state !== 'retry-wait') return 'nothing: the cluster is already initialized';
      return true;
    },
    // Taken in the release's own transaction (CAS); kubeadm init creates the token minted with it.
    release: (pass, step) => {
      const lock = pass.snapshot.initLock;
      return { acquireInitLock: !lock || lock.holder !== step.host, mintInitToken: true };
    },
  },
  'init-succeeded': { check: (pass) => initSucceeded(pass) || 'kubeadm init to succeed' },
  'bootstrap-token': {
    check: (pass) => {
      const token = tokenForJoin(pass);
      return typeof token === 'string' ? token : true;
    },
    release: (pass) => ({ tokenId: currentToken(pass.snapshot.tokens)!.id }),
  },
  'fresh-certificate-upload': {
    check: (pass) => pass.plan.spec.certificates.distribution !== 'upload-certs' || certsUploaded(pass),
  },
};

/** Checks the gates of one plan step; returns true, or what it waits for. */
export function gate(pass: Pass, step: PlannedStep, record: StepRecord): true | string {
  for (const earlier of pass.index.byHost.get(step.host) ?? []) {
    if (earlier.id === step.id) break;
    if (!stepDone(pass, earlier.id)) return `${earlier.id} to finish`;
  }
  const open = step.after.filter((id) => !stepDone(pass, id));
  if (open.length > 0) return step.waitsFor || `waiting for ${open.join(', ')}`;
  for (const name of stepTraits(step.kind).gates) {
    const verdict = GATES[name].check(pass, step, record);
    if (verdict !== true) return verdict;
  }
  return true;
}
