/**
 * cloud-init's own outcome on this host, for the enrollment request (`cloudInit`): what
 * `cloud-init status --long --format json` says (cloud-init ≥ 22.4), or `cloud-init status --long`
 * where --format is unknown (22.1–22.3 answer exit 2 "unrecognized arguments"). Never `--wait`:
 * the agent must not wait on cloud-init from anywhere cloud-init might wait on it; its unit runs
 * after cloud-final, so the status it reads is final on a real host (`running` is reported as is).
 *
 * Output formats (canonical/cloud-init cloudinit/cmd/status.py; fixtures in
 * test/unit/agent/fixtures/cloud-init-status/ from real runs):
 *   - JSON (≥ 22.4): `status`, `errors` [..]; ≥ 23.4 also `extended_status` and `recoverable_errors`
 *     {LEVEL: [..]}. Exit 0 fine, 1 error, 2 recoverable errors (≥ 23.4).
 *   - tabular --long, ≥ 23.4: `status:`, `extended_status:`, `errors:` then `\t- message` lines (or
 *     ` []`), `recoverable_errors:` then `LEVEL:` and `\t- message` lines (or ` {}`).
 *   - tabular --long, 22.x: `status:` and `detail:`, whose following lines are the errors when the
 *     status is `error`.
 */
import { CLOUD_INIT_MAX_MESSAGE, CLOUD_INIT_MAX_MESSAGES, CLOUD_INIT_MAX_STATUS, type CloudInitReport } from '../protocol/wire.ts';
import type { Exec } from './io.ts';

export const CLOUD_INIT_STATUS_TIMEOUT_MS = 30_000;

function bound(messages: string[]): string[] {
  return messages
    .map((m) => m.trim())
    .filter((m) => m !== '')
    .slice(0, CLOUD_INIT_MAX_MESSAGES)
    .map((m) => (m.length <= CLOUD_INIT_MAX_MESSAGE ? m : `${m.slice(0, CLOUD_INIT_MAX_MESSAGE - 1)}…`));
}

function short(text: string): string {
  return text.trim().slice(0, CLOUD_INIT_MAX_STATUS);
}

/** The report from `--format json` output, or null when the output holds no status object. */
export function parseCloudInitJson(output: string, exitCode: number | null): CloudInitReport | null {
  // Anything cloud-init printed before the object (a systemctl complaint on stderr) is skipped.
  const start = output.search(/^\{/m);
  const end = output.lastIndexOf('}');
  if (start === -1 || end < start) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(output.slice(start, end + 1));
  } catch {
    return null;
  }
  if (!doc || typeof doc !== 'object' || typeof (doc as { status?: unknown }).status !== 'string') return null;
  const o = doc as { status: string; extended_status?: unknown; errors?: unknown; recoverable_errors?: unknown };
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const recoverable: string[] = [];
  if (o.recoverable_errors && typeof o.recoverable_errors === 'object') {
    for (const [level, messages] of Object.entries(o.recoverable_errors as Record<string, unknown>))
      for (const m of strings(messages)) recoverable.push(`${level}: ${m}`);
  }
  return {
    status: short(o.status),
    ...(typeof o.extended_status === 'string' ? { extendedStatus: short(o.extended_status) } : {}),
    exitCode,
    errors: bound(strings(o.errors)),
    recoverableErrors: bound(recoverable),
  };
}

/** The report from tabular `--long` output (22.x or ≥ 23.4), or null without a `status:` line. */
export function parseCloudInitTabular(output: string, exitCode: number | null): CloudInitReport | null {
  const lines = output.split('\n');
  const value = (key: string) => {
    const line = lines.find((l) => l.startsWith(`${key}:`));
    return line === undefined ? undefined : line.slice(key.length + 1).trim();
  };
  const status = value('status');
  if (status === undefined) return null;
  const extended = value('extended_status');
  const errors: string[] = [];
  const recoverable: string[] = [];
  const errorsAt = lines.findIndex((l) => l.startsWith('errors:'));
  if (errorsAt !== -1) {
    // ≥ 23.4: "\t- message" lines under `errors:` and under each level of `recoverable_errors:`.
    let section: 'errors' | 'recoverable' | 'other' = 'errors';
    let level = '';
    for (const line of lines.slice(errorsAt + 1)) {
      if (line.startsWith('recoverable_errors:')) section = 'recoverable';
      else if (/^\t- /.test(line)) {
        if (section === 'errors') errors.push(line.slice(3));
        else if (section === 'recoverable') recoverable.push(`${level}: ${line.slice(3)}`);
      } else if (section === 'recoverable' && /^[A-Z]+:$/.test(line)) level = line.slice(0, -1);
      else if (line.trim() !== '' && section === 'errors') section = 'other';
    }
  } else if (status === 'error') {
    // 22.x: the errors are the lines of `detail:`.
    const detailAt = lines.findIndex((l) => l.startsWith('detail:'));
    if (detailAt !== -1) errors.push(...[lines[detailAt]!.slice('detail:'.length), ...lines.slice(detailAt + 1)].filter((l) => l.trim()));
  }
  return {
    status: short(status),
    ...(extended !== undefined ? { extendedStatus: short(extended) } : {}),
    exitCode,
    errors: bound(errors),
    recoverableErrors: bound(recoverable),
  };
}

/** argparse's answer of a cloud-init that has no `--format` (22.1–22.3): exit 2, "unrecognized arguments". */
function isUnknownOption(output: string, exitCode: number | null): boolean {
  return exitCode === 2 && /unrecognized arguments|invalid choice/.test(output);
}

/** cloud-init has finished this boot with an outcome the preflight accepts (`status --wait` exit 0 or 2). */
export function cloudInitFinished(report: CloudInitReport): boolean {
  return !['running', 'not run', 'not started', 'unknown'].includes(report.status) && (report.exitCode === 0 || report.exitCode === 2);
}

/**
 * What cloud-init says about this boot, or undefined when it is not installed (Ignition hosts).
 * Bounded: each command at most CLOUD_INIT_STATUS_TIMEOUT_MS, and no `--wait`.
 */
export async function readCloudInitStatus(exec: Exec): Promise<CloudInitReport | undefined> {
  const options = { timeoutMs: CLOUD_INIT_STATUS_TIMEOUT_MS };
  let r = await exec.run(['cloud-init', 'status', '--long', '--format', 'json'], options);
  if (r.notFound) return undefined;
  if (!r.timedOut) {
    const fromJson = parseCloudInitJson(r.output, r.code);
    if (fromJson) return fromJson;
    if (isUnknownOption(r.output, r.code)) r = await exec.run(['cloud-init', 'status', '--long'], options);
  }
  if (r.timedOut)
    return {
      status: 'unknown',
      exitCode: null,
      errors: [`cloud-init status did not answer within ${CLOUD_INIT_STATUS_TIMEOUT_MS / 1000} s`],
      recoverableErrors: [],
    };
  const fromTable = parseCloudInitTabular(r.output, r.code);
  if (fromTable) return fromTable;
  return {
    status: 'unknown',
    exitCode: r.code,
    errors: bound([`cloud-init status printed no status: ${r.output.trim().slice(-300)}`]),
    recoverableErrors: [],
  };
}
