/**
 * A host's state in one word, derived from its status projection (server/rollout/status.ts): the
 * one derivation the status page's badges, its filters and counts, and `kubeseed status|hosts`
 * share. Pure and type-only in its imports, so the browser bundle carries it as it is.
 */
import type { HostStatus } from './status.ts';

export type HostState = 'removed' | 'failed' | 'done' | 'approval' | 'not-enrolled' | 'running' | 'retrying' | 'waiting';

/** The word shown on a host's badge; the order of checks is the order of importance. */
export function deriveHostState(host: HostStatus): HostState {
  if (host.removed) return 'removed';
  if (host.failed) return 'failed';
  if (host.done) return 'done';
  if (host.awaitingApproval) return 'approval';
  if (!host.enrolled) return 'not-enrolled';
  if (host.currentStep) return 'running';
  if (host.steps.some((s) => s.state === 'retry-wait')) return 'retrying';
  return 'waiting';
}
