/**
 * The agent-facing enrollment service: `POST /v1/enroll` (per-host credentials, fleet matching,
 * candidates waiting for approval, identity checks), the install script's `POST /v1/install-failed`
 * beacon, and the signature check every later agent request passes (`authenticate`).
 */
import type { KeyObject } from 'node:crypto';
import { describeEndpoint } from '../../generator/spec/endpoint.ts';
import { FLEET_KEY } from '../../generator/state/types.ts';
import {
  type EnrollRequest,
  type EnrollResponse,
  ERROR_CODES,
  type InstallFailedRequest,
  type InstallFailedResponse,
  PROTOCOL_VERSION,
} from '../../protocol/index.ts';
import { FailureRateLimiter, parseAgentPublicKey, type SignedRequest, verifySignedRequest } from '../auth.ts';
import { ClaimLimiter, DEFAULT_CLAIM_LIMITS, findCandidate, keyFingerprint, RateLimitedError, withCandidate } from '../enrollment-guard.ts';
import { ApiError, conflict, unauthorized } from '../errors.ts';
import { type MatchedBy, matchFleetHost, sameMachine } from '../fleet-match.ts';
import { afterEnrollment, describeBeacon, recordInstallFailure } from '../install-beacon.ts';
import type { EnrollmentBinding, EnrollmentCandidate, HostRecord } from '../model.ts';
import { indexPlan } from '../scheduler.ts';
import type { ServiceContext } from './context.ts';
import type { Stored } from './repository.ts';

function sameIdentity(a: HostRecord['enrollment'], facts: EnrollRequest['facts']): boolean {
  return !!a && sameMachine(a, facts);
}

export class EnrollmentService {
  private readonly failures: FailureRateLimiter;
  private readonly claims: ClaimLimiter;
  /** Install-failed beacons per source address and in total (server/install-beacon.ts). */
  private readonly beacons: ClaimLimiter;

  constructor(private readonly ctx: ServiceContext) {
    const options = ctx.options;
    this.failures = new FailureRateLimiter(options.enrollFailureLimit ?? 10, 60_000);
    this.claims = new ClaimLimiter({ ...DEFAULT_CLAIM_LIMITS, ...options.claimLimits });
    this.beacons = new ClaimLimiter({ ...DEFAULT_CLAIM_LIMITS, ...options.claimLimits });
  }

  /** Requests that present an enrollment credential: refused while the address is blocked for failed ones, or in another protocol. */
  private admitCredentialRequest(protocol: number, sourceAddress: string, now: number): void {
    if (this.failures.blocked(sourceAddress, now)) {
      throw new RateLimitedError('too many failed enrollments from this address; wait a minute', 60);
    }
    if (protocol !== PROTOCOL_VERSION) {
      throw new ApiError(
        400,
        ERROR_CODES.protocolVersion,
        `protocol ${protocol} is not supported; this coordinator speaks ${PROTOCOL_VERSION}`,
      );
    }
  }

  /** POST /v1/enroll. */
  async enroll(request: EnrollRequest, sourceAddress: string): Promise<EnrollResponse> {
    const now = this.ctx.clock.now();
    this.admitCredentialRequest(request.protocol, sourceAddress, now);
    const { key, pem } = parseAgentPublicKey(request.publicKey);
    let verified = await this.ctx.inputs.enrollment.verify(request.host, request.credential);
    /** Set for a fleet claim that must wait as a candidate (server/enrollment-guard.ts). */
    let claim: { matchedBy: MatchedBy; fleetCredential: boolean } | undefined;
    if (verified?.host === FLEET_KEY) {
      // A machine booted from content served over plain HTTP carries no credential: the verifier
      // marks it (requiresApproval), and whatever it matches waits for `kubeseed approve`.
      const unauthenticated = verified.requiresApproval === true;
      const match = matchFleetHost(this.ctx.plan.spec.hosts, this.ctx.repo.hostRecords(), request.facts);
      if (unauthenticated) await this.admitUnauthenticatedClaim(request, pem, match, sourceAddress, now);
      if ('error' in match) {
        await this.enrollmentFailed(sourceAddress, now);
        const rejectedFor = this.rejectedHostOf(keyFingerprint(pem));
        if (rejectedFor) {
          throw new ApiError(
            409,
            ERROR_CODES.identityMismatch,
            `the operator approved another machine for ${rejectedFor}; this one was rejected`,
          );
        }
        if (match.error === 'ambiguous') throw conflict(match.message);
        throw new ApiError(404, ERROR_CODES.unknownHost, match.message);
      }
      const requiresApproval = unauthenticated || match.requiresApproval;
      verified = { host: match.host, requiresApproval };
      if (requiresApproval && match.matchedBy !== 'binding') claim = { matchedBy: match.matchedBy, fleetCredential: !unauthenticated };
    }
    if (!verified) {
      await this.enrollmentFailed(sourceAddress, now);
      // One answer whether or not the named host exists: a wrong credential must not reveal the plan's host names.
      throw unauthorized('enrollment credential is not valid for this host');
    }
    const stored = this.ctx.repo.host(verified.host);
    if (!stored) throw new ApiError(404, ERROR_CODES.unknownHost, `host ${verified.host} is not in this coordinator's plan`);
    const host = stored.value;
    if (host.removed) {
      await this.enrollmentFailed(sourceAddress, now);
      await this.ctx.events.security('removed-host-request', host.name, sourceAddress, `enrollment for removed host ${host.name} refused`);
      throw new ApiError(409, ERROR_CODES.credentialSpent, `host ${host.name} was removed from the rollout`);
    }
    if (host.enrollment) {
      const sameKey = host.enrollment.publicKey === pem;
      const sameMachine = sameIdentity(host.enrollment, request.facts);
      if (sameKey && sameMachine) return this.enrollResponse(host);
      await this.enrollmentFailed(sourceAddress, now);
      if (!sameMachine) {
        await this.ctx.events.security(
          'identity-mismatch',
          host.name,
          sourceAddress,
          `credential of ${host.name} presented by another machine (machine-id ${request.facts.machineId || '?'}, MACs ${request.facts.macs.join(',') || '?'}); refused — a cloned VM or a copied user-data? Use \`kubeseed rebind ${host.name}\` if the machine was rebuilt`,
        );
        throw new ApiError(
          409,
          ERROR_CODES.identityMismatch,
          `host ${host.name} is bound to another machine; run \`kubeseed rebind ${host.name}\` if it was rebuilt`,
        );
      }
      await this.ctx.events.security(
        'credential-spent',
        host.name,
        sourceAddress,
        `credential of ${host.name} presented again with a different key; refused`,
      );
      throw new ApiError(409, ERROR_CODES.credentialSpent, `the enrollment credential of ${host.name} was already used with another key`);
    }
    if (claim) return this.addCandidate(stored, request, pem, claim, sourceAddress, now);
    const wasRebind = host.rebindAllowed;
    const updated: HostRecord = {
      ...afterEnrollment(host, request.cloudInit, now),
      awaitingApproval: host.awaitingApproval || verified.requiresApproval === true,
      credentialSpent: true,
      rebindAllowed: false,
      enrollment: this.bindingOf(request, pem, sourceAddress, now),
    };
    const pending = this.ctx.repo.commit(this.ctx.repo.txn().host(updated, stored.version));
    // The commit is already applied to the store's view: ask for a pass (end of this turn), then wait for durability.
    this.ctx.live.lastSeen[host.name] = now;
    this.ctx.reconcile();
    const result = await pending;
    if (!result.ok) throw new ApiError(409, ERROR_CODES.credentialSpent, `host ${host.name} enrolled concurrently; retry`);
    // The key just bound: the agent's first signed request need not parse it again.
    this.ctx.live.keys.set(host.name, key);
    if (wasRebind)
      await this.ctx.events.security('rebind-used', host.name, sourceAddress, `${host.name} re-enrolled after \`kubeseed rebind\``);
    this.ctx.log.info({ host: host.name, sourceAddress }, 'host enrolled');
    this.ctx.events.host(host.name);
    await this.ctx.repo.flushed();
    return this.enrollResponse(updated);
  }

  /**
   * A claim without a credential: a machine already waiting (same key, same facts) may re-enroll
   * freely; every new claim is counted against the per-address and global limits and recorded as
   * a security event, matched or not.
   */
  private async admitUnauthenticatedClaim(
    request: EnrollRequest,
    pem: string,
    match: ReturnType<typeof matchFleetHost>,
    sourceAddress: string,
    now: number,
  ): Promise<void> {
    const fingerprint = keyFingerprint(pem);
    if (!('error' in match)) {
      const record = this.ctx.repo.host(match.host)?.value;
      const waiting = record && findCandidate(record, fingerprint);
      if (waiting && sameIdentity(waiting, request.facts)) return;
      if (match.matchedBy === 'binding') return;
    }
    const facts = request.facts;
    const described = `machine-id ${facts.machineId || '-'}, MACs ${facts.macs.join(',') || '-'}, UUID ${facts.smbiosUuid || '-'}, hostname ${facts.hostname || '-'}, key ${fingerprint}`;
    await this.takeOrRefuse(
      this.claims,
      sourceAddress,
      now,
      (scope, seconds) =>
        scope === 'global'
          ? `too many unauthenticated claims from all addresses; refusing new ones for ${seconds} s`
          : `too many unauthenticated claims from ${sourceAddress}; refusing it for ${seconds} s`,
      'too many enrollment claims without a credential; retry later',
    );
    await this.ctx.events.security(
      'unauthenticated-claim',
      'error' in match ? undefined : match.host,
      sourceAddress,
      'error' in match
        ? `unauthenticated claim refused (${match.error}): ${described}`
        : `unauthenticated claim for ${match.host} (matched by ${match.matchedBy}), waiting for approval: ${described}`,
    );
  }

  /** The host whose approval rejected this key, if any (a rejected machine gets a clear 409). */
  private rejectedHostOf(fingerprint: string): string | undefined {
    for (const r of this.ctx.repo.hosts()) if (r.value.rejectedKeys?.includes(fingerprint)) return r.value.name;
    return undefined;
  }

  /** Adds (or refreshes) a candidate for a host that waits for approval; the host stays unbound. */
  private async addCandidate(
    stored: Stored<HostRecord>,
    request: EnrollRequest,
    pem: string,
    claim: { matchedBy: MatchedBy; fleetCredential: boolean },
    sourceAddress: string,
    now: number,
  ): Promise<EnrollResponse> {
    const fingerprint = keyFingerprint(pem);
    const existing = findCandidate(stored.value, fingerprint);
    const same = existing && sameIdentity(existing, request.facts);
    // An agent re-enrolls while it waits: refresh its `at` at most once a minute (no write per retry).
    if (same && now - existing.at < 60_000) return this.enrollResponse({ ...stored.value, awaitingApproval: true });
    const candidate: EnrollmentCandidate = {
      ...this.bindingOf(request, pem, sourceAddress, now),
      keyFingerprint: fingerprint,
      firstSeen: same ? existing.firstSeen : now,
      matchedBy: claim.matchedBy,
      fleetCredential: claim.fleetCredential,
    };
    const updated = withCandidate(stored.value, candidate);
    const result = await this.ctx.repo.commit(this.ctx.repo.txn().host(updated, stored.version));
    if (!result.ok) throw new ApiError(409, ERROR_CODES.conflict, `host ${stored.value.name} changed concurrently; retry`);
    if (!existing) {
      this.ctx.log.info({ host: stored.value.name, sourceAddress, key: fingerprint }, 'enrollment candidate waits for approval');
      this.ctx.events.host(stored.value.name);
    }
    await this.ctx.repo.flushed();
    return this.enrollResponse(updated);
  }

  private bindingOf(request: EnrollRequest, pem: string, sourceAddress: string, now: number): EnrollmentBinding {
    return {
      publicKey: pem,
      machineId: request.facts.machineId,
      smbiosUuid: request.facts.smbiosUuid.toLowerCase(),
      macs: [...request.facts.macs].map((m) => m.toLowerCase()).sort(),
      hostname: request.facts.hostname,
      arch: request.facts.arch,
      os: request.facts.os,
      agentVersion: request.facts.agentVersion,
      at: now,
      sourceAddress,
    };
  }

  /**
   * Counts a request from `sourceAddress` against `limiter`. Over the limit: 429 with Retry-After,
   * and one `claim-rate-limited` security event per scope and window (`describe` words it).
   */
  private async takeOrRefuse(
    limiter: ClaimLimiter,
    sourceAddress: string,
    now: number,
    describe: (scope: 'source' | 'global' | undefined, retryAfterSeconds: number) => string,
    refusal: string,
  ): Promise<void> {
    const limit = limiter.take(sourceAddress, now);
    if (limit.retryAfterSeconds === 0) return;
    if (limit.firstRefusal)
      await this.ctx.events.security('claim-rate-limited', undefined, sourceAddress, describe(limit.scope, limit.retryAfterSeconds));
    throw new RateLimitedError(refusal, limit.retryAfterSeconds);
  }

  private async enrollmentFailed(sourceAddress: string, now: number): Promise<void> {
    if (this.failures.fail(sourceAddress, now)) {
      await this.ctx.events.security(
        'enrollment-rate-limited',
        undefined,
        sourceAddress,
        `too many failed enrollments from ${sourceAddress}; refusing it for a minute`,
      );
    }
  }

  /**
   * POST /v1/install-failed: the install script's beacon. The credential is checked like an
   * enrollment's (a wrong one counts toward the same per-address limit); every beacon is counted
   * against its own per-address and global limits. It marks only a host that has not enrolled;
   * a fleet machine's beacon is a security event, tied to no host (its facts are self-reported).
   */
  async installFailed(request: InstallFailedRequest, sourceAddress: string): Promise<InstallFailedResponse> {
    const now = this.ctx.clock.now();
    this.admitCredentialRequest(request.protocol, sourceAddress, now);
    await this.takeOrRefuse(
      this.beacons,
      sourceAddress,
      now,
      (scope, seconds) =>
        `too many install-failed beacons (${scope === 'global' ? 'from all addresses' : `from ${sourceAddress}`}); refusing them for ${seconds} s`,
      'too many install-failed reports; retry later',
    );
    const verified = await this.ctx.inputs.enrollment.verify(request.host, request.credential);
    if (!verified) {
      await this.enrollmentFailed(sourceAddress, now);
      throw unauthorized('enrollment credential is not valid for this host');
    }
    if (verified.host === FLEET_KEY) {
      await this.ctx.events.security('install-failed', undefined, sourceAddress, describeBeacon(request, undefined, sourceAddress));
      return { recorded: false };
    }
    const stored = this.ctx.repo.host(verified.host);
    if (!stored) throw new ApiError(404, ERROR_CODES.unknownHost, `host ${verified.host} is not in this coordinator's plan`);
    if (stored.value.removed) throw new ApiError(409, ERROR_CODES.credentialSpent, `host ${verified.host} was removed from the rollout`);
    // An enrolled host's agent runs and reports for itself: a beacon cannot overwrite what it says.
    if (stored.value.enrollment)
      throw conflict(`host ${verified.host} is enrolled; an install-failed report is taken only before enrollment`);
    const updated: HostRecord = {
      ...stored.value,
      installFailure: recordInstallFailure(stored.value.installFailure, request, this.ctx.redactor, sourceAddress, now),
    };
    const result = await this.ctx.repo.commit(this.ctx.repo.txn().host(updated, stored.version));
    if (!result.ok) throw conflict(`host ${verified.host} changed concurrently; retry`);
    await this.ctx.events.security('install-failed', verified.host, sourceAddress, describeBeacon(request, verified.host, sourceAddress));
    this.ctx.events.host(verified.host);
    await this.ctx.repo.flushed();
    return { recorded: true };
  }

  private enrollResponse(host: HostRecord): EnrollResponse {
    const spec = this.ctx.plan.spec;
    const prepareHost = indexPlan(this.ctx.plan)
      .byHost.get(host.name)
      ?.some((s) => s.kind === 'prepare-host');
    return {
      host: host.name,
      role: host.role,
      serverTime: this.ctx.clock.now(),
      awaitingApproval: host.awaitingApproval,
      kubernetesVersion: spec.kubernetesVersion,
      endpoint: describeEndpoint(spec),
      ...(prepareHost ? { prepareHost: true } : {}),
    };
  }

  /** Verifies a signed request; returns the enrolled host. */
  authenticate(request: SignedRequest): string {
    const host = verifySignedRequest(request, (name) => this.publicKeyOf(name), this.ctx.live.nonces, this.ctx.clock.now());
    this.ctx.live.lastSeen[host] = this.ctx.clock.now();
    return host;
  }

  private publicKeyOf(name: string): KeyObject | undefined {
    const record = this.ctx.repo.host(name)?.value;
    if (!record?.enrollment || record.removed) return undefined;
    let key = this.ctx.live.keys.get(name);
    if (!key) {
      key = parseAgentPublicKey(record.enrollment.publicKey).key;
      this.ctx.live.keys.set(name, key);
    }
    return key;
  }
}
