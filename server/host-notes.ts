/**
 * What `kubeseed status`, `kubeseed hosts` and the status page say about a host besides its steps:
 * `install failed: <reason>` (the install script's beacon, POST /v1/install-failed) and cloud-init's
 * own errors as the agent reported them at enrollment. Pure and free of Node APIs: the status page's
 * browser bundle imports it too.
 */
import { AGENT_UNIT_NAME } from '../protocol/host-paths.ts';
import type { InstallFailureReason } from '../protocol/index.ts';
import type { CloudInitRecord, InstallFailureRecord } from './model.ts';

/** A host's install-failed mark as GET /v1/status shows it (the record as stored). */
export type InstallFailedStatus = InstallFailureRecord;

/** cloud-init's outcome as GET /v1/status shows it (absent on Ignition hosts and before enrollment). */
export type CloudInitStatus = CloudInitRecord;

/** What each reason means and what to do about it, for the operator. */
export const INSTALL_FAILURE_HINTS: Record<InstallFailureReason, string> = {
  'unsupported-arch': 'the machine is neither amd64 nor arm64; boot it on a supported architecture',
  'agent-download-failed': 'the agent executable could not be downloaded: check mirrors.agent or that `kubeseed serve` has a built dist/',
  'checksum-download-failed': "the agent's SHA-256 could not be fetched from the coordinator",
  'agent-checksum-mismatch': 'the downloaded agent does not match the SHA-256 the coordinator publishes: the mirror serves other bytes',
  'agent-corrupt': 'the download is not gzip data (an error page or a truncated file?)',
  'agent-not-runnable': 'the agent executable does not run on this machine (`kubeseed-agent --version` failed)',
  'disk-full': 'no space left on the disk the agent is written to',
  'agent-install-failed': 'the agent could not be put in place (read-only or missing directory?)',
  'unit-start-failed': `systemd refused to load, enable or start ${AGENT_UNIT_NAME}`,
};

/** `install failed: agent-checksum-mismatch` */
export function installFailedText(failure: Pick<InstallFailedStatus, 'reason'>): string {
  return `install failed: ${failure.reason}`;
}

/** What the operator does about it: the reason's hint, then re-provisioning (the machine never ran the agent). */
export function installFailedFix(failure: Pick<InstallFailedStatus, 'reason'>): string {
  return `${INSTALL_FAILURE_HINTS[failure.reason]}; then re-provision the machine`;
}

/** The last `max` non-empty lines of a beacon's tail. */
export function installFailedLines(failure: Pick<InstallFailedStatus, 'logTail'>, max: number): string[] {
  const lines = failure.logTail.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(Math.max(0, lines.length - max));
}

/** True when cloud-init reported errors or recoverable errors (status error, exit 1 or 2). */
function cloudInitHasProblems(c: Pick<CloudInitStatus, 'status' | 'exitCode' | 'errors' | 'recoverableErrors'>): boolean {
  return c.errors.length > 0 || c.recoverableErrors.length > 0 || c.status === 'error' || c.exitCode === 1 || c.exitCode === 2;
}

/** One line: `cloud-init: error (2 errors, 1 recoverable): first message`, or null when cloud-init was fine. */
export function cloudInitWarning(c: CloudInitStatus | undefined): string | null {
  if (!c || !cloudInitHasProblems(c)) return null;
  const counts = [
    c.errors.length ? `${c.errors.length} error${c.errors.length === 1 ? '' : 's'}` : '',
    c.recoverableErrors.length ? `${c.recoverableErrors.length} recoverable` : '',
  ].filter(Boolean);
  const first = c.errors[0] ?? c.recoverableErrors[0];
  const word = c.extendedStatus ?? c.status;
  return `cloud-init: ${word}${counts.length ? ` (${counts.join(', ')})` : ''}${first ? `: ${first.replace(/\s+/g, ' ').trim()}` : ''}`;
}

/**
 * The lines `kubeseed status` and `kubeseed hosts` print under a host for these marks (plain text;
 * the caller escapes control characters): the install failure with its hint and last `tailLines`
 * lines, and cloud-init's warning.
 */
export function hostNoteLines(
  host: { name: string; installFailed?: InstallFailedStatus; cloudInit?: CloudInitStatus },
  tailLines: number,
): string[] {
  const lines: string[] = [];
  const failure = host.installFailed;
  if (failure) {
    const times = failure.count > 1 ? `, ${failure.count} reports` : '';
    lines.push(
      `${host.name}: ${installFailedText(failure)} (${new Date(failure.at).toISOString()}${times}; hostname ${failure.hostname || '-'}, from ${failure.sourceAddress}) — ${installFailedFix(failure)}`,
    );
    for (const line of installFailedLines(failure, tailLines)) lines.push(`${host.name} install log: ${line}`);
  }
  const warning = cloudInitWarning(host.cloudInit);
  if (warning) lines.push(`WARNING: ${host.name}: ${warning}`);
  return lines;
}
