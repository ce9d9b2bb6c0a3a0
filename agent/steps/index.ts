/**
 * Runs one released step and returns its report. Idempotence lives here: a step whose sentinel
 * exists is reported from the sentinel (init only after checking admin.conf), a successful step
 * writes its sentinel before it is reported, and files marked `removeAfter` (kubeadm configs that
 * carry tokens) are deleted whatever happened. An unknown kind is a failed report, never a throw.
 */

import { Redactor } from '../../protocol/redact.ts';
import { stepTraits } from '../../protocol/step-kinds.ts';
import type { StepKind } from '../../protocol/steps.ts';
import type { ReleasedStep, ReportRequest, StepResults } from '../../protocol/wire.ts';
import { KubeadmArgvError } from '../kubeadm-argv.ts';
import { isKnownStepKind, unknownStepReport } from '../machine.ts';
import { listSentinels, readSentinel, writeSentinel } from '../sentinel.ts';
import { runCniApply } from './cni-apply.ts';
import { runControlPlaneCertRenew, runEtcdCertRenew } from './day2-renew.ts';
import { runKubeadmUpgradeApply, runKubeadmUpgradeNode, runKubeletUpgrade, runNodeDrain, runNodeUncordon } from './day2-upgrade.ts';
import { runEtcdMemberRemove } from './etcd-member-remove.ts';
import { runEtcdMemberUpgrade } from './etcd-member-upgrade.ts';
import { runEtcdStart } from './etcd-start.ts';
import { runKubeVipManifest } from './kube-vip-manifest.ts';
import { withKubeadmCertificates } from './kubeadm-certs.ts';
import { runKubeadmInit } from './kubeadm-init.ts';
import { runKubeadmJoin } from './kubeadm-join.ts';
import { runLabelNodes } from './label-nodes.ts';
import { runLbCheck } from './lb-check.ts';
import { runPrepareHost } from './prepare-host.ts';
import { runReset } from './reset.ts';
import { ADMIN_CONF, configPathOf, type StepContext, StepFailure, StepRun } from './step-run.ts';
import { runUploadCerts } from './upload-certs.ts';
import { runVerify } from './verify.ts';

export { useAdminConf } from './kube-vip-manifest.ts';
export { configHasCertificateKey } from './kubeadm-init.ts';
export * from './step-run.ts';
export { readyNodeNames } from './verify.ts';

type StepHandler<K extends StepKind> = (run: StepRun<K>) => Promise<StepResults>;

/** One handler per kind, each typed by its kind's params; the type checker says when a kind has none. */
const STEP_HANDLERS: { [K in StepKind]: StepHandler<K> } = {
  'prepare-host': runPrepareHost,
  'lb-check': runLbCheck,
  'etcd-start': runEtcdStart,
  'kubeadm-init': runKubeadmInit,
  'cni-apply': runCniApply,
  'kube-vip-manifest': runKubeVipManifest,
  'upload-certs': runUploadCerts,
  'kubeadm-join-control-plane': runKubeadmJoin,
  'kubeadm-join-worker': runKubeadmJoin,
  'label-nodes': runLabelNodes,
  verify: runVerify,
  'etcd-member-remove': runEtcdMemberRemove,
  reset: runReset,
  // Day 2 only: loaded when a snapshot is taken, not at every agent start.
  'etcd-snapshot': async (run) => (await import('./etcd-snapshot.ts')).runEtcdSnapshot(run),
  'kubeadm-upgrade-apply': runKubeadmUpgradeApply,
  'kubeadm-upgrade-node': runKubeadmUpgradeNode,
  'node-drain': runNodeDrain,
  'kubelet-upgrade': runKubeletUpgrade,
  'node-uncordon': runNodeUncordon,
  'etcd-cert-renew': runEtcdCertRenew,
  'control-plane-cert-renew': runControlPlaneCertRenew,
  'etcd-member-upgrade': runEtcdMemberUpgrade,
};

function dispatch(run: StepRun): Promise<StepResults> {
  const kind = run.step.kind;
  if (!Object.hasOwn(STEP_HANDLERS, kind)) throw new StepFailure('unknown-step', `unknown step kind ${String(kind)}`, true);
  // The table pairs each kind with its own handler; TypeScript cannot follow that through the lookup.
  return (STEP_HANDLERS[kind] as StepHandler<StepKind>)(run);
}

/** The answer from an earlier success, or null when the step must run. */
async function answerFromSentinel(run: StepRun): Promise<StepResults | null> {
  const { step, ctx } = run;
  // Observations (lb-check, verify, reset) run again; everything else is answered from its sentinel.
  if (stepTraits(step.kind).rerun) return null;
  const own = await readSentinel(ctx.fs, ctx.stateDir, step.id);
  if (stepTraits(step.kind).makesNode === 'init') {
    // Any init that succeeded here counts (a retried init has another step id): never init twice.
    const anyInit = own ?? (await listSentinels(ctx.fs, ctx.stateDir)).find((s) => stepTraits(s.kind).makesNode === 'init') ?? null;
    if (!anyInit) return null;
    if (!(await ctx.fs.exists(ADMIN_CONF))) {
      throw new StepFailure(
        'init-sentinel-without-admin-conf',
        `kubeadm init succeeded here before (step ${anyInit.stepId}) but ${ADMIN_CONF} is gone: refusing to run init twice`,
        true,
      );
    }
    run.note(`kubeadm init already succeeded on this host (step ${anyInit.stepId}, attempt ${anyInit.attempt}); not running it again`);
    return anyInit.results;
  }
  if (!own) return null;
  run.note(`step ${step.id} already succeeded (attempt ${own.attempt}); reporting from its sentinel`);
  return own.results;
}

export async function executeStep(
  step: ReleasedStep,
  ctx: StepContext,
  redact: Redactor = new Redactor(step.redact),
): Promise<ReportRequest> {
  const startedAt = ctx.clock.now();
  if (!isKnownStepKind(step.kind)) {
    return unknownStepReport(step.id, step.attempt, String(step.kind), startedAt, ctx.clock.now());
  }
  const run = new StepRun(step, ctx, redact);
  const base = { stepId: step.id, attempt: step.attempt, startedAt };
  try {
    const previous = await answerFromSentinel(run);
    if (previous) return { ...base, outcome: 'succeeded', results: previous, logTail: run.logTail(), finishedAt: ctx.clock.now() };
    const results = await withKubeadmCertificates(run, await dispatch(run));
    await writeSentinel(ctx.fs, ctx.stateDir, {
      stepId: step.id,
      kind: step.kind,
      attempt: step.attempt,
      finishedAt: ctx.clock.now(),
      results,
    });
    return { ...base, outcome: 'succeeded', results, logTail: run.logTail(), finishedAt: ctx.clock.now() };
  } catch (error) {
    const failure =
      error instanceof StepFailure
        ? error
        : error instanceof KubeadmArgvError
          ? new StepFailure('kubeadm-argv-refused', error.message, true)
          : new StepFailure('agent-error', (error as Error)?.message ?? String(error));
    run.note(`failed: ${failure.reason}: ${failure.message}`);
    return {
      ...base,
      outcome: 'failed',
      reason: failure.reason,
      ...(failure.permanent ? { permanent: true } : {}),
      ...(Object.keys(failure.results).length > 0 ? { results: failure.results } : {}),
      logTail: run.logTail(),
      finishedAt: ctx.clock.now(),
    };
  } finally {
    await removeAfterUse(run);
  }
}

async function removeAfterUse(run: StepRun): Promise<void> {
  const paths = new Set(run.step.files.filter((f) => f.removeAfter).map((f) => f.path));
  // A kubeadm config carries tokens and keys: deleted after the step whatever `removeAfter` says.
  const configPath = configPathOf(run.step);
  if (stepTraits(run.step.kind).writesKubeadmConfig && configPath) paths.add(configPath);
  for (const path of paths) {
    try {
      await run.fs.remove(path);
    } catch (error) {
      run.ctx.log('error', 'remove-failed', { path, message: (error as Error).message });
    }
  }
}
