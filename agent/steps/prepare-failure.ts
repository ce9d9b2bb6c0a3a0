/**
 * Why a host preparation failed, from what the prepare script printed and how it ended. Pure: no
 * I/O. The script (templates/prepare-host.ts) prints progress lines `kubeseed-prepare: …` and, when
 * it stops, `kubeseed-prepare: ERROR: [<reason>: ]<message>`; the tools it runs (apt-get, dpkg,
 * curl, gpg) print their own errors in between, in English (the agent runs it with LC_ALL=C.UTF-8).
 *
 * Order of judgement: the reason the script names itself (it knows, e.g., that a version is missing
 * from a repository it could read); then the tool messages of the failed section — the output after
 * the last progress line, so warnings of sections that went well (an image's unreachable default
 * sources) do not mislead; then, when the script could not say ERROR (killed, timed out), the whole
 * output; `timed-out` and `unknown` last. Test fixtures:
 * test/unit/agent/fixtures/prepare/ (real apt/dpkg/curl output, each with how it was produced).
 */
import { PREPARE_FAILURE_REASONS, type PrepareFailureReason } from '../../protocol/steps.ts';

export interface PrepareFailure {
  reason: PrepareFailureReason;
  /** One line for `kubeseed status`: the evidence, shortened. */
  summary: string;
  /** A retry without a change on the mirror or the machine cannot succeed: no automatic retries. */
  permanent: boolean;
}

export interface PrepareOutcome {
  /** stdout and stderr interleaved, as the agent captured them (a bounded tail). */
  output: string;
  code: number | null;
  timedOut: boolean;
}

/** Transient reasons are retried by the coordinator (bounded, with backoff) before the step is `failed`. */
const TRANSIENT: ReadonlySet<PrepareFailureReason> = new Set([
  'repository-unreachable',
  'dpkg-locked',
  'download-failed',
  'timed-out',
  'unknown',
]);

/** Tool messages per reason, most specific first (a full disk also fails downloads; a lock, installs). */
const EVIDENCE: readonly [PrepareFailureReason, RegExp][] = [
  ['disk-full', /No space left on device|You don't have enough free space in|not enough free space/],
  [
    'dpkg-locked',
    /Could not get lock \/var\/lib\/dpkg\/lock|Unable to acquire the dpkg frontend lock|Unable to lock the administration directory|dpkg (?:frontend )?lock (?:was locked|is locked) by another process/,
  ],
  ['dpkg-interrupted', /dpkg was interrupted, you must manually run/],
  [
    'key-mismatch',
    /NO_PUBKEY|EXPKEYSIG|BADSIG|KEYEXPIRED|is not signed\.|The following signatures were invalid|The following signatures couldn't be verified|not an OpenPGP key|no valid OpenPGP data found/,
  ],
  [
    'repository-unreachable',
    /Could not connect to|Could not resolve|Temporary failure resolving|Failed to connect to|Connection timed out|Connection refused|Network is unreachable|No route to host|Couldn't connect to server|Unable to connect to|Could not resolve host|Connection failed/,
  ],
  [
    'package-not-found',
    /Unable to locate package|has no installation candidate|Version '[^']*' for '[^']*' was not found|no version of \S+ matching/,
  ],
  [
    'download-failed',
    /Hash Sum mismatch|File has unexpected size|The requested URL returned error|\b40[34]\s+Not Found|does not have a Release file|Failed to fetch|cannot download/,
  ],
  ['unsupported-os', /unsupported OS|unsupported architecture/],
];

const PROGRESS = 'kubeseed-prepare: ';
const ERROR_LINE = /^kubeseed-prepare: ERROR: (.*)$/;

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trimEnd());
}

/** The output after the last progress line that is not the final ERROR: the section that failed. */
export function failedSection(output: string): string {
  const all = lines(output);
  let start = 0;
  for (let i = all.length - 1; i >= 0; i--) {
    const line = all[i] ?? '';
    if (line.startsWith(PROGRESS) && !ERROR_LINE.test(line)) {
      start = i;
      break;
    }
  }
  return all.slice(start).join('\n');
}

function isReason(value: string): value is PrepareFailureReason {
  return (PREPARE_FAILURE_REASONS as readonly string[]).includes(value);
}

function firstEvidence(text: string): { reason: PrepareFailureReason; line: string } | null {
  for (const [reason, pattern] of EVIDENCE) {
    const line = lines(text).find((l) => pattern.test(l));
    if (line !== undefined) return { reason, line };
  }
  return null;
}

function shorten(text: string, max = 300): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function verdict(reason: PrepareFailureReason, summary: string): PrepareFailure {
  return { reason, summary: shorten(summary), permanent: !TRANSIENT.has(reason) };
}

export function classifyPrepareFailure(outcome: PrepareOutcome): PrepareFailure {
  const all = lines(outcome.output);
  const errorLine = [...all].reverse().find((l) => ERROR_LINE.test(l));
  const error = errorLine ? (ERROR_LINE.exec(errorLine)?.[1] ?? '') : '';
  const named = /^([a-z-]+): (.*)$/.exec(error);
  if (named?.[1] && isReason(named[1])) return verdict(named[1], named[2] ?? named[1]);
  const section = failedSection(outcome.output);
  // Without the script's ERROR line (killed, timed out) the whole output is the only witness.
  const evidence = firstEvidence(error) ?? firstEvidence(section) ?? (errorLine ? null : firstEvidence(outcome.output));
  const status = outcome.timedOut ? 'timed out' : outcome.code === null ? 'killed' : `exit ${outcome.code}`;
  if (evidence) return verdict(evidence.reason, error && evidence.line !== errorLine ? `${evidence.line} (${error})` : evidence.line);
  if (outcome.timedOut) return verdict('timed-out', `the prepare script did not finish in time${error ? `: ${error}` : ''}`);
  const last = [...all].reverse().find((l) => l.trim() !== '');
  return verdict('unknown', error || `prepare script ${status}${last ? `: ${last}` : ''}`);
}
