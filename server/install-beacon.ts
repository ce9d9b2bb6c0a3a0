/**
 * The install-failed beacon (POST /v1/install-failed) and cloud-init's report at enrollment, on the
 * coordinator's side: what a host record keeps of them (bounded, printable, redacted) and what
 * GET /v1/status shows. The beacon is authenticated by the host's enrollment credential over HTTPS
 * only (ADR 0019); it can mark that one host `install failed` and nothing else.
 *
 * Runtime contract: pure.
 */
import {
  CLOUD_INIT_MAX_MESSAGE,
  CLOUD_INIT_MAX_MESSAGES,
  CLOUD_INIT_MAX_STATUS,
  type CloudInitReport,
  INSTALL_FAILED_TAIL_MAX,
  type InstallFailedRequest,
} from '../protocol/index.ts';
import type { Redactor } from '../protocol/redact.ts';
import type { CloudInitStatus, InstallFailedStatus } from './host-notes.ts';
import type { CloudInitRecord, HostRecord, InstallFailureRecord } from './model.ts';

// Everything but tab, newline and printable characters: a beacon's tail is shown in terminals and pages.
const UNPRINTABLE = /[^\t\n\x20-\x7e\u00a0-\uffff]|[\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Printable text with the secrets the redactor knows (and the presented credential) replaced, the end kept. */
function cleanTail(text: string, redactor: Redactor, credential: string): string {
  const redacted = redactor.redact(credential.length >= 6 ? text.split(credential).join('[REDACTED]') : text);
  const printable = redacted.replace(/\r\n?/g, '\n').replace(UNPRINTABLE, '?');
  return printable.length <= INSTALL_FAILED_TAIL_MAX ? printable : printable.slice(printable.length - INSTALL_FAILED_TAIL_MAX);
}

function cleanShort(text: string, limit: number): string {
  const printable = text.replace(UNPRINTABLE, '?');
  return printable.length <= limit ? printable : `${printable.slice(0, limit - 1)}…`;
}

/** The host's mark after this beacon: a repeat of the same failure only moves `at` and the count. */
export function recordInstallFailure(
  previous: InstallFailureRecord | undefined,
  request: InstallFailedRequest,
  redactor: Redactor,
  sourceAddress: string,
  now: number,
): InstallFailureRecord {
  return {
    reason: request.reason,
    logTail: cleanTail(request.logTail, redactor, request.credential),
    hostname: cleanShort(request.hostname, 253),
    machineId: cleanShort(request.machineId, 128),
    arch: cleanShort(request.arch, 32),
    sourceAddress,
    at: now,
    firstAt: previous?.firstAt ?? now,
    count: (previous?.count ?? 0) + 1,
  };
}

/** One line for the security/audit event of a beacon. */
export function describeBeacon(request: InstallFailedRequest, host: string | undefined, sourceAddress: string): string {
  const who = `hostname ${cleanShort(request.hostname, 64) || '-'}, machine-id ${cleanShort(request.machineId, 64) || '-'}, arch ${cleanShort(request.arch, 32) || '-'}, from ${sourceAddress}`;
  return host
    ? `${host}: install failed: ${request.reason} (${who})`
    : `a fleet machine's install failed: ${request.reason} (${who}); not tied to a host: fleet facts are self-reported`;
}

/** cloud-init's report as the host record keeps it: re-bounded and printable whatever the schema let through. */
function recordCloudInit(report: CloudInitReport, now: number): CloudInitRecord {
  const messages = (list: string[]) => list.slice(0, CLOUD_INIT_MAX_MESSAGES).map((m) => cleanShort(m, CLOUD_INIT_MAX_MESSAGE));
  return {
    status: cleanShort(report.status, CLOUD_INIT_MAX_STATUS),
    ...(report.extendedStatus !== undefined ? { extendedStatus: cleanShort(report.extendedStatus, CLOUD_INIT_MAX_STATUS) } : {}),
    exitCode: report.exitCode,
    errors: messages(report.errors),
    recoverableErrors: messages(report.recoverableErrors),
    at: now,
  };
}

/** The host record with the marks a successful enrollment replaces: no install failure; this enrollment's cloud-init report. */
export function afterEnrollment(host: HostRecord, cloudInit: CloudInitReport | undefined, now: number): HostRecord {
  const { installFailure: _cleared, cloudInit: _previous, ...rest } = host;
  return cloudInit ? { ...rest, cloudInit: recordCloudInit(cloudInit, now) } : rest;
}

/** The fields GET /v1/status adds to a host for these marks. */
export function hostNotes(record: HostRecord | undefined): { installFailed?: InstallFailedStatus; cloudInit?: CloudInitStatus } {
  return {
    ...(record?.installFailure ? { installFailed: { ...record.installFailure } } : {}),
    ...(record?.cloudInit ? { cloudInit: { ...record.cloudInit } } : {}),
  };
}
