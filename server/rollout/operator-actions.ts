/**
 * Operator actions (`kubeseed retry|approve|rebind|remove`, through the admin API). Each one
 * refuses a no-op with the reason (409), writes in one compare-and-swap transaction, announces
 * the change and reconciles; the step rewrites themselves are the scheduler's pure functions
 * (`requeueFailed`, `planRebind`, `planRemoval`).
 */
import { describeCandidate, keyFingerprint, pickCandidate } from '../enrollment-guard.ts';
import { conflict, notFound } from '../errors.ts';
import type { EnrollmentCandidate, HostRecord, StepRecord } from '../model.ts';
import { planRebind, planRemoval, requeueFailed } from '../scheduler.ts';
import type { ServiceContext } from './context.ts';
import type { RolloutTxn, Stored } from './repository.ts';

export class OperatorActions {
  constructor(private readonly ctx: ServiceContext) {}

  private hostRecord(name: string): Stored<HostRecord> {
    const stored = this.ctx.repo.host(name);
    if (!stored) throw notFound(`host ${name} is not in the plan`);
    return stored;
  }

  private async commitOrConflict(txn: RolloutTxn): Promise<void> {
    const result = await this.ctx.repo.commit(txn);
    if (!result.ok) throw conflict('the rollout changed while the command ran; run it again');
  }

  private stepsTouching(host: string): Stored<StepRecord>[] {
    return this.ctx.repo.steps().filter((r) => r.value.host === host || r.value.target === host);
  }

  /** `kubeseed retry HOST`: failed steps of the host (and failed cleanup for it) are queued again. */
  async retry(name: string): Promise<{ requeued: string[] }> {
    const stored = this.hostRecord(name);
    const touching = this.stepsTouching(name);
    const updated = requeueFailed(
      touching.map((r) => r.value),
      this.ctx.clock.now(),
    );
    if (updated.length === 0) {
      // A no-op is refused with the reason: the operator learns the host is not stuck on a failure.
      throw conflict(
        stored.value.removed
          ? `${name} was removed; there is nothing to retry`
          : `${name} has no failed step, so there is nothing to retry (\`kubeseed hosts\` shows what it is doing)`,
      );
    }
    const versions = new Map(touching.map((r) => [r.value.id, r.version]));
    const txn = this.ctx.repo.txn();
    for (const r of updated) txn.step(r, versions.get(r.id)!);
    await this.commitOrConflict(txn);
    for (const r of updated) this.ctx.events.step(r);
    await this.ctx.scheduled();
    return { requeued: updated.map((r) => r.id) };
  }

  /**
   * `kubeseed approve HOST [--key FINGERPRINT]`: binds the candidate with that key fingerprint
   * (or the only candidate) and rejects the others, recording each. Several candidates and no key:
   * 409 listing them, so the operator picks by fingerprint and never by luck.
   */
  async approve(name: string, key?: string): Promise<{ approved: boolean; host?: string; key?: string; rejected?: number }> {
    const stored = this.hostRecord(name);
    const candidates = stored.value.candidates ?? [];
    if (candidates.length > 0) return this.approveCandidate(stored, candidates, key);
    if (stored.value.awaitingApproval) {
      // A binding made before candidates existed (older state directory): approve it as it is.
      if (key !== undefined && stored.value.enrollment && keyFingerprint(stored.value.enrollment.publicKey) !== key.trim()) {
        throw conflict(`${name} is bound to key ${keyFingerprint(stored.value.enrollment.publicKey)}, not ${key}`);
      }
      await this.commitOrConflict(this.ctx.repo.txn().host({ ...stored.value, awaitingApproval: false }, stored.version));
    } else {
      throw conflict(
        this.ctx.plan.spec.fleet.enabled
          ? `no machine waits for approval of ${name}; \`kubeseed hosts\` lists the hosts awaiting approval`
          : `no machine waits for approval of ${name}: this cluster is not in fleet mode (spec.fleet.enabled), every host enrolls with its own credential and needs no approval`,
      );
    }
    this.ctx.events.host(name);
    await this.ctx.scheduled();
    return { approved: true };
  }

  private async approveCandidate(
    stored: Stored<HostRecord>,
    candidates: EnrollmentCandidate[],
    key: string | undefined,
  ): Promise<{ approved: boolean; host: string; key: string; rejected: number }> {
    const name = stored.value.name;
    const pick = pickCandidate(name, candidates, key);
    if ('error' in pick) throw conflict(pick.error);
    const { keyFingerprint: fingerprint, firstSeen: _f, matchedBy: _m, fleetCredential: _c, ...binding } = pick.chosen;
    const { candidates: _all, ...rest } = stored.value;
    const rejectedKeys = [...(rest.rejectedKeys ?? []), ...pick.rejected.map((c) => c.keyFingerprint)].slice(-64);
    const updated: HostRecord = {
      ...rest,
      awaitingApproval: false,
      credentialSpent: true,
      rebindAllowed: false,
      enrollment: binding,
      ...(rejectedKeys.length ? { rejectedKeys } : {}),
    };
    await this.commitOrConflict(this.ctx.repo.txn().host(updated, stored.version));
    this.ctx.live.keys.delete(name);
    this.ctx.live.lastSeen[name] = this.ctx.clock.now();
    await this.ctx.events.security(
      'candidate-approved',
      name,
      pick.chosen.sourceAddress,
      `operator approved ${describeCandidate(pick.chosen)} for ${name}`,
    );
    for (const c of pick.rejected) {
      await this.ctx.events.security(
        'candidate-rejected',
        name,
        c.sourceAddress,
        `rejected for ${name} (another machine was approved): ${describeCandidate(c)}`,
      );
    }
    this.ctx.log.info({ host: name, key: fingerprint, rejected: pick.rejected.length }, 'enrollment candidate approved');
    this.ctx.events.host(name);
    this.ctx.live.wakeHost(name);
    await this.ctx.scheduled();
    return { approved: true, host: name, key: fingerprint, rejected: pick.rejected.length };
  }

  /**
   * `kubeseed rebind HOST`: forget the bound machine so a rebuilt one can enroll with the SAME
   * credential once (its user-data cannot change). Its steps start over; a host that had joined
   * is cleaned up first (Node, etcd member) through the normal retry-with-cleanup path.
   */
  async rebind(name: string, options: { dryRun?: boolean } = {}): Promise<{ rebound: boolean; dryRun?: true; restarts?: string[] }> {
    const stored = this.hostRecord(name);
    if (stored.value.removed) throw conflict(`host ${name} was removed; add it back to the spec under a new name`);
    const lock = this.ctx.repo.initLock();
    if (lock?.succeeded && lock.holder === name) {
      throw conflict(
        `${name} ran kubeadm init; it cannot be rebuilt in place. Remove it (\`kubeseed remove ${name}\`) and add a new control plane`,
      );
    }
    const now = this.ctx.clock.now();
    const { enrollment: _old, ...rest } = stored.value;
    const txn = this.ctx.repo.txn().host({ ...rest, rebindAllowed: true }, stored.version);
    const records = this.ctx.repo.steps();
    const versions = new Map(records.map((r) => [r.value.id, r.version]));
    const changed = planRebind(
      records.map((r) => r.value),
      name,
      now,
    );
    for (const step of changed) txn.step(step, versions.get(step.id)!);
    if (options.dryRun) {
      const restarts = changed.flatMap((s) => (s.state === 'cancelled' ? [] : [s.id]));
      return { rebound: false, dryRun: true, restarts };
    }
    await this.commitOrConflict(txn);
    this.ctx.live.keys.delete(name);
    this.ctx.log.info({ host: name }, 'host binding cleared (rebind)');
    this.ctx.events.host(name);
    this.ctx.live.wakeHost(name);
    await this.ctx.scheduled();
    return { rebound: true };
  }

  /** `kubeseed remove HOST`: cancel its steps, delete its Node and (stacked) etcd member. */
  async remove(
    name: string,
    options: { dryRun?: boolean } = {},
  ): Promise<{ removed: boolean; cleanup: string[]; dryRun?: true; cancels?: string[] }> {
    const stored = this.hostRecord(name);
    if (stored.value.removed) throw conflict(`${name} was already removed; there is nothing to do`);
    const now = this.ctx.clock.now();
    const snapshot = this.ctx.repo.snapshot(this.ctx.live.lastSeen);
    const { cancel, create } = planRemoval(snapshot, this.ctx.plan, name, now, this.ctx.config);
    if (options.dryRun) return { removed: false, dryRun: true, cancels: cancel.map((c) => c.id), cleanup: create.map((c) => c.id) };
    const txn = this.ctx.repo.txn().host({ ...stored.value, removed: true, removedAt: now }, stored.version);
    for (const step of cancel) txn.stepAsStored(step);
    for (const step of create) txn.step(step, 0);
    await this.commitOrConflict(txn);
    this.ctx.live.keys.delete(name);
    this.ctx.log.info({ host: name, cleanup: create.map((s) => s.id) }, 'host removed');
    this.ctx.events.host(name);
    this.ctx.live.wakeHost(name);
    await this.ctx.scheduled();
    return { removed: true, cleanup: create.map((s) => s.id) };
  }
}
