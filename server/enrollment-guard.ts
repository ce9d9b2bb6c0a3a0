/**
 * Guards for claims that fleet mode cannot authenticate (issue 18): a machine booted over plain
 * HTTP presents only the `unauthenticated` marker, so anyone who reaches the coordinator can send
 * the same request with forged facts. Such claims are rate-limited per source address and in
 * total, and a claim never binds a host that needs approval: it becomes a candidate, shown with
 * its fingerprint, until the operator approves one (`kubeseed approve HOST --key SHA256:…`).
 *
 * Runtime contract: pure, except that the limiter keeps its window in memory.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { ERROR_CODES } from '../protocol/index.ts';
import { ApiError } from './errors.ts';
import type { EnrollmentCandidate, HostRecord } from './model.ts';

/** Candidates kept per host; a new one replaces the one heard from least recently (the real agent keeps re-enrolling). */
export const MAX_CANDIDATES = 16;

/** 429 with the seconds to wait (the app sends them as `Retry-After`). */
export class RateLimitedError extends ApiError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, ERROR_CODES.rateLimited, message);
  }
}

/** OpenSSH-style fingerprint of an agent's public key: `SHA256:` + unpadded base64 of the SPKI DER digest. */
export function keyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

export interface ClaimLimits {
  /** New unauthenticated claims per source address per window. */
  perSource: number;
  /** New unauthenticated claims from all addresses per window. */
  global: number;
  windowMs: number;
}

export const DEFAULT_CLAIM_LIMITS: ClaimLimits = { perSource: 10, global: 120, windowMs: 60_000 };

/** Sliding-window limits on new unauthenticated claims, per source address and in total. */
export class ClaimLimiter {
  private readonly bySource = new Map<string, number[]>();
  private all: number[] = [];
  /** When each scope (an address, or `*` for all) was last reported as limited: one security event per window. */
  private readonly reported = new Map<string, number>();

  constructor(private readonly limits: ClaimLimits = DEFAULT_CLAIM_LIMITS) {}

  /**
   * Seconds until a claim from `source` is allowed again, or 0 (and the claim is counted).
   * `firstRefusal` is set once per scope and window, so a flood yields one security event, not one per request.
   */
  take(source: string, now: number): { retryAfterSeconds: number; scope?: 'source' | 'global'; firstRefusal?: boolean } {
    const since = now - this.limits.windowMs;
    this.all = this.all.filter((t) => t > since);
    const mine = (this.bySource.get(source) ?? []).filter((t) => t > since);
    const wait = (times: number[]) => Math.max(1, Math.ceil((times[0]! + this.limits.windowMs - now) / 1000));
    const refuse = (scope: 'source' | 'global', times: number[]) => {
      const key = scope === 'global' ? '*' : source;
      const last = this.reported.get(key);
      const firstRefusal = last === undefined || last <= since;
      if (firstRefusal) this.reported.set(key, now);
      if (this.reported.size > 10_000) for (const [k, t] of this.reported) if (t <= since) this.reported.delete(k);
      return { retryAfterSeconds: wait(times), scope, firstRefusal };
    };
    if (mine.length >= this.limits.perSource) return refuse('source', mine);
    if (this.all.length >= this.limits.global) return refuse('global', this.all);
    mine.push(now);
    this.all.push(now);
    this.bySource.set(source, mine);
    if (this.bySource.size > 10_000) {
      for (const [key, times] of this.bySource) if ((times[times.length - 1] ?? 0) <= since) this.bySource.delete(key);
    }
    return { retryAfterSeconds: 0 };
  }
}

/** The candidate with this key, if the machine (key and facts) already waits for the host. */
export function findCandidate(record: HostRecord, fingerprint: string): EnrollmentCandidate | undefined {
  return record.candidates?.find((c) => c.keyFingerprint === fingerprint);
}

/** The record with `candidate` added (or refreshed, same key), keeping at most MAX_CANDIDATES. */
export function withCandidate(record: HostRecord, candidate: EnrollmentCandidate): HostRecord {
  const others = (record.candidates ?? []).filter((c) => c.keyFingerprint !== candidate.keyFingerprint);
  // Oldest-heard-from first out: `at` is refreshed each time a candidate re-enrolls.
  const kept = others.sort((a, b) => b.at - a.at).slice(0, MAX_CANDIDATES - 1);
  return { ...record, awaitingApproval: true, candidates: [...kept, candidate].sort((a, b) => a.firstSeen - b.firstSeen) };
}

/** One line per candidate, for errors and terminals. */
export function describeCandidate(c: EnrollmentCandidate): string {
  const macs = c.macs.join(',') || '-';
  return `${c.keyFingerprint}  machine-id ${c.machineId || '-'}  MACs ${macs}  UUID ${c.smbiosUuid || '-'}  from ${c.sourceAddress}  matched by ${c.matchedBy}  first seen ${new Date(c.firstSeen).toISOString()}`;
}

/** Picks the candidate `kubeseed approve` names, or explains why it cannot. */
export function pickCandidate(
  host: string,
  candidates: EnrollmentCandidate[],
  key: string | undefined,
): { chosen: EnrollmentCandidate; rejected: EnrollmentCandidate[] } | { error: string } {
  if (candidates.length === 0) return { error: `no machine waits for ${host}` };
  if (key === undefined) {
    if (candidates.length === 1) return { chosen: candidates[0]!, rejected: [] };
    return {
      error: `${candidates.length} machines claim ${host}; approve one by its key: kubeseed approve ${host} --key FINGERPRINT\n${candidates.map((c) => `  ${describeCandidate(c)}`).join('\n')}`,
    };
  }
  const wanted = key.trim();
  const matches = candidates.filter((c) => c.keyFingerprint === wanted || (wanted.length >= 16 && c.keyFingerprint.startsWith(wanted)));
  if (matches.length !== 1) {
    return {
      error: `${matches.length === 0 ? 'no' : 'more than one'} candidate for ${host} has key ${wanted}; the candidates:\n${candidates.map((c) => `  ${describeCandidate(c)}`).join('\n')}`,
    };
  }
  const chosen = matches[0]!;
  return { chosen, rejected: candidates.filter((c) => c !== chosen) };
}
