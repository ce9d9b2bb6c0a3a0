/**
 * `kubeseed status [--watch] [--json] [--state DIR] [--token T] [--url URL]`: the rollout's
 * progress from the coordinator's GET /v1/status, over HTTPS that trusts only the pinned
 * coordinator CA (`<state>/tls/ca.crt`), with the operator token `kubeseed serve` stored in
 * `<state>/operator-token` (or --token, or KUBESEED_OPERATOR_TOKEN). A terminal gets per-host
 * progress bars; a pipe gets plain lines; --json the status document. --watch redraws on every
 * coordinator event (GET /v1/events) until the rollout is done or failed, or Ctrl-C.
 *
 * Exit codes: 0 done · 3 still running · 4 a host failed · 1 coordinator unreachable · 2 bad input
 * (no token/CA/URL, token refused). This module holds the pure parts (bars, frames, outcome) and the
 * HTTPS client; the command and --watch are in status-command.ts, the target in coordinator-target.ts.
 */
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { OPERATOR_TOKEN_FILE } from '../generator/state/index.ts';
import { hostNoteLines, INSTALL_FAILURE_HINTS, installFailedText } from '../server/host-notes.ts';
import { type CertificateExpiry, certificateWarning, describeFailure, expiryDate, expiryLeft, shortStep } from '../server/model.ts';
import { SseParser } from '../server/status-page/client/sse.ts';
import {
  countSteps,
  deriveHostState,
  formatDuration,
  type HostState,
  type HostStatus,
  type RolloutStatus,
  replicaText,
} from '../server/status-page/client/view-model.ts';
import type { Io } from './commands.ts';
import type { StatusTarget } from './coordinator-target.ts';
import { CoordinatorError, EXIT, InputError } from './exit-codes.ts';

/** The CLI's extra hooks: tests pass a signal instead of Ctrl-C, a terminal width, a shorter patience. */
export interface StatusIo extends Io {
  signal?: AbortSignal;
  columns?: number;
  /** --watch: how long the coordinator may stay unreachable before exit 1 (default 60 s). */
  giveUpAfterMs?: number;
}

// ───────────────────────────── the status document (what GET /v1/status answers) ─────────────────────────────

export type Outcome = 'done' | 'running' | 'failed';

export function statusOutcome(status: Pick<RolloutStatus, 'done' | 'counts'>): Outcome {
  if (status.counts.failed > 0) return 'failed';
  return status.done ? 'done' : 'running';
}

const OUTCOME_EXIT = { done: EXIT.ok, running: EXIT.running, failed: EXIT.failed } as const;

export function exitCodeOf(outcome: Outcome): number {
  return OUTCOME_EXIT[outcome];
}

// ───────────────────────────── pure rendering ─────────────────────────────

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/**
 * A progress bar of exactly `width` cells. Full only when done === total; anything done shows at
 * least a sliver, so "started" and "not started" never look the same. Unicode eighth blocks, or
 * `#`/`-` with `ascii`.
 */
export function renderBar(done: number, total: number, width: number, ascii = false): string {
  const cells = Math.max(1, Math.floor(width));
  const ratio = total <= 0 ? 0 : Math.min(1, Math.max(0, done / total));
  const resolution = ascii ? 1 : 8;
  const max = cells * resolution;
  let units = Math.round(ratio * max);
  if (done > 0 && units === 0) units = 1;
  if (done < total && units === max) units = max - 1;
  const full = Math.floor(units / resolution);
  const partial = ascii ? '' : EIGHTHS[units % resolution]!;
  const used = full + (partial ? 1 : 0);
  return (ascii ? '#' : '█').repeat(full) + partial + (ascii ? '-' : '░').repeat(cells - used);
}

/** What follows the state word: the current step and its time, the gate, or the error. */
export function hostDetail(host: HostStatus, now: number): string {
  const word = deriveHostState(host);
  switch (word) {
    case 'running': {
      const step = host.steps.find((s) => s.id === host.currentStep);
      const time = step?.releasedAt !== undefined ? ` · ${formatDuration(now - step.releasedAt)}` : '';
      const phase = host.phase ? ` · ${host.phase}${host.message ? `: ${host.message}` : ''}` : '';
      return `${shortStep(host.currentStep ?? '')}${time}${phase}`;
    }
    case 'failed': {
      if (host.installFailed) return `${installFailedText(host.installFailed)} — ${INSTALL_FAILURE_HINTS[host.installFailed.reason]}`;
      const step = host.steps.find((s) => s.state === 'failed');
      return step ? `${describeFailure(step)} — fix, then \`kubeseed retry ${host.name}\`` : '';
    }
    case 'retrying': {
      const step = host.steps.find((s) => s.state === 'retry-wait');
      if (!step) return '';
      return step.kind === 'prepare-host'
        ? `${describeFailure(step)}; retrying (attempt ${step.attempt})`
        : `${shortStep(step.id)} failed (${step.lastReport?.reason ?? 'error'}); retrying`;
    }
    case 'done':
    case 'removed':
      return '';
    default:
      return host.waitingFor ? `for ${host.waitingFor.replace(/^waiting for /i, '')}` : '';
  }
}

function failureLog(host: HostStatus, lines: number): string[] {
  const step = host.steps.find((s) => s.state === 'failed');
  const tail = step?.lastReport?.logTail ?? host.installFailed?.logTail ?? '';
  const all = tail.split('\n').filter((l) => l.trim() !== '');
  return all.slice(Math.max(0, all.length - lines));
}

export interface FrameOptions {
  /** Bars and colors (a terminal); false gives plain, stable lines for pipes and logs. */
  tty: boolean;
  color: boolean;
  columns: number;
  /** Coordinator time now (ms). */
  now: number;
  ascii?: boolean;
}

const COLORS: Record<HostState, string> = {
  done: '32',
  running: '34',
  failed: '31;1',
  retrying: '33',
  approval: '35',
  waiting: '2',
  'not-enrolled': '2',
  removed: '2',
};

// C0 and C1 controls, DEL, and the Unicode line/bidi controls that reorder or hide text.
const TERMINAL_CONTROLS = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A remote string made safe to print: every control character is shown escaped (`\x1b`, `\u202e`),
 * so an agent's heartbeat, a log line or an attacker's machine-id cannot move the cursor, retitle
 * the window or write the clipboard (OSC 52). Newlines are kept only where asked (log tails).
 */
export function terminalSafe(text: string, keepNewlines = false): string {
  return text.replace(TERMINAL_CONTROLS, (c) => {
    if (keepNewlines && c === '\n') return c;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Every string in a document from the coordinator, made terminal-safe (log tails keep their lines). */
export function terminalSafeDeep<T>(value: T, key?: string): T {
  if (typeof value === 'string') return terminalSafe(value, key === 'logTail') as T;
  if (Array.isArray(value)) return value.map((v) => terminalSafeDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = terminalSafeDeep(v, k);
    return out as T;
  }
  return value;
}

function paint(text: string, code: string, on: boolean): string {
  return on ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function clip(text: string, width: number): string {
  if (width <= 0) return '';
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * Under the heading: the earliest certificate expiry, and a warning line (yellow; red once
 * expired) below CERTIFICATE_WARNING_DAYS. Nothing when the coordinator does not know its certificates.
 */
export function certificateLines(expiry: CertificateExpiry | null | undefined, now: number): { text: string; code: string }[] {
  if (!expiry) return [];
  const date = expiryDate(expiry.notAfter);
  const lines = [{ text: `certificates: earliest expiry ${date} (${expiry.file}, ${expiryLeft(expiry.notAfter, now)})`, code: '' }];
  const warning = certificateWarning(expiry, now);
  if (warning) lines.push({ text: `WARNING: ${warning}`, code: expiry.notAfter <= now ? '31;1' : '33;1' });
  return lines;
}

/** One line per machine waiting for approval of the host: what the operator compares before `approve --key`. */
function candidateLines(host: HostStatus): string[] {
  return (host.candidates ?? []).map(
    (c) =>
      `candidate ${c.keyFingerprint}  machine-id ${c.machineId || '-'}  MACs ${c.macs.join(',') || '-'}  UUID ${c.smbiosUuid || '-'}  from ${c.sourceAddress}  by ${c.matchedBy}  first seen ${new Date(c.firstSeen).toISOString()}`,
  );
}

/** All events ever recorded: each kept event carries its number within its kind, so the highest per kind is the total. */
export function securityEventTotal(events: RolloutStatus['securityEvents']): number {
  const perKind = new Map<string, number>();
  for (const e of events) {
    const seen = perKind.get(e.kind) ?? 0;
    // Events stored before counting existed carry no count: each counts once.
    perKind.set(e.kind, e.count === undefined ? seen + 1 : Math.max(seen, e.count));
  }
  let total = 0;
  for (const n of perKind.values()) total += n;
  return total;
}

/** The whole picture as lines (no trailing newline): a heading, one line per host, failure logs, security events. */
export function renderFrame(remote: RolloutStatus, options: FrameOptions): string[] {
  const status = terminalSafeDeep(remote);
  const outcome = statusOutcome(status);
  let steps = 0;
  let stepsDone = 0;
  for (const host of status.hosts) {
    if (host.removed) continue;
    const c = countSteps(host.steps);
    steps += c.total;
    stepsDone += c.done;
  }
  const { counts, cluster } = status;
  const lines: string[] = [];
  const outcomeWord = outcome === 'done' ? 'done' : outcome === 'failed' ? 'FAILED' : 'running';
  const heading = `${cluster.name} · Kubernetes ${cluster.kubernetesVersion} · ${cluster.topology} · rollout ${outcomeWord} · hosts ${counts.done}/${counts.hosts} done · steps ${stepsDone}/${steps} · enrolled ${counts.enrolled}/${counts.hosts} · failed ${counts.failed}`;
  const headCode = outcome === 'done' ? '32;1' : outcome === 'failed' ? '31;1' : '1';
  lines.push(options.tty ? paint(clip(heading, options.columns), headCode, options.color) : heading);
  for (const line of certificateLines(status.certificateExpiry, options.now)) {
    lines.push(options.tty ? paint(clip(line.text, options.columns), line.code, options.color && line.code !== '') : line.text);
  }

  const nameWidth = Math.max(4, ...status.hosts.map((h) => h.name.length));
  const roleWidth = Math.max(4, ...status.hosts.map((h) => h.role.length));
  const countWidth = Math.max(5, ...status.hosts.map((h) => `${countSteps(h.steps).done}/${countSteps(h.steps).total}`.length));
  const wordWidth = 12;
  const barWidth = Math.max(10, Math.min(30, options.columns - nameWidth - roleWidth - countWidth - wordWidth - 30));
  for (const host of status.hosts) {
    const word = deriveHostState(host);
    const { done, total } = countSteps(host.steps);
    const count = `${done}/${total}`.padStart(countWidth);
    const detail = hostDetail(host, options.now);
    if (!options.tty) {
      lines.push(
        `${host.name.padEnd(nameWidth)}  ${host.role.padEnd(roleWidth)}  ${count}  ${word.padEnd(wordWidth)}  ${detail}`.trimEnd(),
      );
      for (const line of candidateLines(host)) lines.push(`${' '.repeat(nameWidth + 2)}${line}`);
      for (const line of hostNoteLines({ ...host, installFailed: undefined }, 0)) lines.push(`${' '.repeat(nameWidth + 2)}${line}`);
      continue;
    }
    const bar = renderBar(done, total, barWidth, options.ascii);
    const head = `${host.name.padEnd(nameWidth)}  ${host.role.padEnd(roleWidth)}  `;
    const room = options.columns - head.length - barWidth - count.length - wordWidth - 5;
    const code = COLORS[word];
    lines.push(
      `${head}${paint(bar, code, options.color)} ${count}  ${paint(word.padEnd(wordWidth), code, options.color)}  ${clip(detail, room)}`.trimEnd(),
    );
    if (word === 'failed') {
      for (const line of failureLog(host, 3))
        lines.push(paint(clip(`${' '.repeat(nameWidth + 2)}│ ${line}`, options.columns), '2', options.color));
    }
    for (const line of candidateLines(host))
      lines.push(paint(clip(`${' '.repeat(nameWidth + 2)}${line}`, options.columns), '35', options.color));
    for (const line of hostNoteLines({ ...host, installFailed: undefined }, 0))
      lines.push(paint(clip(`${' '.repeat(nameWidth + 2)}${line}`, options.columns), '33', options.color));
  }
  if (!options.tty) {
    for (const host of status.hosts) {
      if (deriveHostState(host) !== 'failed') continue;
      for (const line of failureLog(host, 3)) lines.push(`${host.name} log: ${line}`);
    }
  }
  const replica = replicaText(status.coordinator);
  if (replica) lines.push(options.tty ? clip(replica, options.columns) : replica);
  if (status.securityEvents.length > 0) {
    const last = status.securityEvents[status.securityEvents.length - 1]!;
    const text = `security events: ${securityEventTotal(status.securityEvents)} (latest: ${last.kind}${last.host ? ` ${last.host}` : ''}: ${last.message})`;
    lines.push(options.tty ? paint(clip(text, options.columns), '33', options.color) : text);
  }
  return lines;
}

// ───────────────────────────── talking to the coordinator ─────────────────────────────

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

function errorCode(error: unknown): string {
  let e = error as { code?: string; cause?: unknown; message?: string } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && e.code !== 'UND_ERR_SOCKET') return e.code;
    e = e.cause as typeof e;
  }
  return (error as Error)?.message ?? String(error);
}

/** Maps a transport failure to the exit-1 message that names the URL and the fix. */
export function unreachable(target: StatusTarget, error: unknown): CoordinatorError {
  const code = errorCode(error);
  if (TLS_CODES.has(code)) {
    return new CoordinatorError(
      `the server at ${target.url} did not prove it is this coordinator (${code}): its certificate does not match the CA pinned in ${target.caFile}. Wrong --state or --url?`,
    );
  }
  return new CoordinatorError(
    `cannot reach the coordinator at ${target.url} (${code}). Is \`kubeseed serve --state ${target.stateDir}\` running and listening there? Use --url to give another address.`,
  );
}

export class StatusClient {
  private readonly dispatcher: Agent;

  constructor(readonly target: StatusTarget) {
    this.dispatcher = new Agent({
      connect: { ca: target.ca, timeout: 5_000 },
      headersTimeout: 10_000,
      bodyTimeout: 45_000,
      keepAliveTimeout: 10_000,
    });
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.target.token}`, ...extra };
  }

  private async refusedOrFailed(
    statusCode: number,
    body: { text(): Promise<string> },
    path: string,
  ): Promise<InputError | CoordinatorError> {
    const text = await body.text().catch(() => '');
    if (statusCode === 401) {
      return new InputError(
        `the coordinator at ${this.target.url} refused the operator token (401): use the token \`kubeseed serve\` printed for this state directory (${join(this.target.stateDir, OPERATOR_TOKEN_FILE)}) or --token`,
      );
    }
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    return new CoordinatorError(`the coordinator at ${this.target.url} answered ${statusCode} to ${path}: ${message}`);
  }

  async fetchStatus(signal?: AbortSignal): Promise<RolloutStatus> {
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(`${this.target.url}/v1/status`, {
        dispatcher: this.dispatcher,
        headers: this.headers({ accept: 'application/json' }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw unreachable(this.target, error);
    }
    if (response.statusCode !== 200) throw await this.refusedOrFailed(response.statusCode, response.body, '/v1/status');
    try {
      return (await response.body.json()) as RolloutStatus;
    } catch (error) {
      throw unreachable(this.target, error);
    }
  }

  /** Calls `onMessage` for each event until the stream ends (resolves) or fails (rejects). */
  async follow(signal: AbortSignal, onMessage: (event: string) => void): Promise<void> {
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(`${this.target.url}/v1/events`, {
        dispatcher: this.dispatcher,
        headers: this.headers({ accept: 'text/event-stream' }),
        signal,
      });
    } catch (error) {
      throw unreachable(this.target, error);
    }
    if (response.statusCode !== 200) throw await this.refusedOrFailed(response.statusCode, response.body, '/v1/events');
    const parser = new SseParser();
    response.body.setEncoding('utf8');
    for await (const chunk of response.body) {
      for (const message of parser.push(chunk as string)) onMessage(message.event);
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}
