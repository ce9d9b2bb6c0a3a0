/**
 * What every step executor works with: the I/O interfaces, a transcript whose every line is
 * redacted before it is kept, file writing with the step's modes, and bounded polling.
 */

import { MANIFESTS_DIR } from '../../protocol/host-paths.ts';
import type { Redactor } from '../../protocol/redact.ts';
import type { StepFile, StepKind } from '../../protocol/steps.ts';
import type { ReleasedStep, ReleasedStepOf, StepResults } from '../../protocol/wire.ts';
import type { Clock, Exec, ExecResult, Fs, Log, Net } from '../io.ts';
import type { SnapshotUpload } from '../snapshot-upload.ts';

export const ADMIN_CONF = '/etc/kubernetes/admin.conf';
export const SUPER_ADMIN_CONF = '/etc/kubernetes/super-admin.conf';
export const KUBELET_CONF = '/etc/kubernetes/kubelet.conf';
export const BOOTSTRAP_KUBELET_CONF = '/etc/kubernetes/bootstrap-kubelet.conf';
export const CNI_CONF_DIR = '/etc/cni/net.d';
export const ETCD_MANIFEST = `${MANIFESTS_DIR}/etcd.yaml`;
/** Shared with the generator; the etcd healthcheck client is what the agent uses for etcd's health and JSON gateway. */
export { ETCD_HEALTHCHECK_CLIENT, KUBE_VIP_MANIFEST, MANIFESTS_DIR, PKI_DIR } from '../../protocol/host-paths.ts';
export const LOCAL_ETCD_CLIENT_URL = 'https://127.0.0.1:2379';

/** Bounded waits; tests shrink them. */
export interface StepTiming {
  pollMs: number;
  commandTimeoutMs: number;
  lbReadyTimeoutMs: number;
  etcdHealthTimeoutMs: number;
  apiReadyTimeoutMs: number;
  nodeRegisteredTimeoutMs: number;
  etcdVoterTimeoutMs: number;
  nodesReadyTimeoutMs: number;
  endpointTimeoutMs: number;
  /** How long a static Pod's manifest stays out of the manifests directory (the kubelet checks it every 20 s). */
  staticPodRestartMs: number;
}

export const DEFAULT_STEP_TIMING: StepTiming = {
  pollMs: 2_000,
  commandTimeoutMs: 20 * 60_000,
  lbReadyTimeoutMs: 120_000,
  etcdHealthTimeoutMs: 300_000,
  apiReadyTimeoutMs: 300_000,
  nodeRegisteredTimeoutMs: 300_000,
  etcdVoterTimeoutMs: 300_000,
  nodesReadyTimeoutMs: 600_000,
  endpointTimeoutMs: 5_000,
  staticPodRestartMs: 25_000,
};

export interface StepContext {
  fs: Fs;
  exec: Exec;
  net: Net;
  clock: Clock;
  log: Log;
  stateDir: string;
  timing: StepTiming;
  /** Uploads an etcd snapshot to the coordinator (etcd-snapshot steps); absent before enrollment. */
  uploadSnapshot?: SnapshotUpload;
}

/** A step failure with a short machine-readable reason (`ReportRequest.reason`). */
export class StepFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly permanent = false,
    readonly results: StepResults = {},
  ) {
    super(message);
  }
}

/** Transcript bytes kept for the report. */
export const LOG_TAIL_BYTES = 16 * 1024;

/** One run of a released step of kind `K` (handlers name their kind; the dispatcher runs any). */
export class StepRun<K extends StepKind = StepKind> {
  private lines: string[] = [];
  private size = 0;
  constructor(
    readonly step: ReleasedStepOf<K>,
    readonly ctx: StepContext,
    readonly redactor: Redactor,
  ) {}

  get fs(): Fs {
    return this.ctx.fs;
  }

  /** Adds a (redacted) line to the transcript and the journal. */
  note(message: string, fields: Record<string, unknown> = {}): void {
    const line = this.redactor.redact(message);
    this.push(line);
    this.ctx.log('info', 'step-note', { stepId: this.step.id, message: line, ...fields });
  }

  private push(text: string): void {
    this.lines.push(text);
    this.size += text.length + 1;
    while (this.size > LOG_TAIL_BYTES * 2 && this.lines.length > 1) this.size -= (this.lines.shift()?.length ?? 0) + 1;
  }

  logTail(): string {
    const all = this.lines.join('\n');
    return all.length > LOG_TAIL_BYTES ? all.slice(all.length - LOG_TAIL_BYTES) : all;
  }

  /** Runs argv (no shell); output is redacted before it reaches the transcript or the journal. */
  async command(
    argv: readonly string[],
    options: { timeoutMs?: number; quiet?: boolean; env?: Record<string, string> } = {},
  ): Promise<ExecResult> {
    const started = this.ctx.clock.now();
    const result = await this.ctx.exec.run(argv, {
      timeoutMs: options.timeoutMs ?? this.ctx.timing.commandTimeoutMs,
      ...(options.env ? { env: options.env } : {}),
    });
    const output = this.redactor.redact(result.output);
    const status = result.notFound ? 'not found' : result.timedOut ? 'timed out' : `exit ${result.code}`;
    if (!options.quiet || result.code !== 0) {
      this.push(`$ ${this.redactor.redact(argv.join(' '))}`);
      if (output.trim()) this.push(output.trimEnd());
      this.push(`(${status}, ${this.ctx.clock.now() - started} ms)`);
    }
    this.ctx.log(result.code === 0 ? 'info' : 'warn', 'command', {
      stepId: this.step.id,
      argv: argv.map((a) => this.redactor.redact(a)),
      status,
      output: output.slice(-4096),
    });
    return { ...result, output };
  }

  /** Like `command` but throws StepFailure('<name>-exit-N') on anything but exit 0. */
  async mustRun(argv: readonly string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ExecResult> {
    const result = await this.command(argv, options);
    const name = (argv[0] ?? 'command').split('/').pop();
    if (result.notFound) throw new StepFailure(`${name}-not-found`, `${name} is not installed`);
    if (result.timedOut) throw new StepFailure(`${name}-timeout`, `${argv.join(' ')} timed out`);
    if (result.code !== 0) throw new StepFailure(`${name}-exit-${result.code}`, `${argv.slice(0, 3).join(' ')} exited ${result.code}`);
    return result;
  }

  /** Writes the step's files: secret files never wider than 0600. */
  async writeFiles(files: readonly StepFile[] = this.step.files): Promise<void> {
    for (const file of files) {
      const mode = file.secret && (file.mode & 0o077) !== 0 ? 0o600 : file.mode;
      await this.ctx.fs.writeText(file.path, file.content, mode);
      this.note(`wrote ${file.path} (${mode.toString(8).padStart(4, '0')})`);
    }
  }

  /** Polls `probe` until it returns a value or `timeoutMs` passes; returns null on timeout. */
  async waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T | null> {
    const deadline = this.ctx.clock.now() + timeoutMs;
    let tries = 0;
    for (;;) {
      tries++;
      const value = await probe().catch(() => null);
      if (value !== null) {
        if (tries > 1) this.note(`${what}: ok after ${tries} tries`);
        return value;
      }
      if (this.ctx.clock.now() >= deadline) {
        this.note(`${what}: gave up after ${tries} tries (${timeoutMs} ms)`);
        return null;
      }
      await this.ctx.clock.sleep(this.ctx.timing.pollMs);
    }
  }

  /** Reads a file's text or throws StepFailure(reason). */
  async require(path: string, reason: string): Promise<string> {
    const text = await this.ctx.fs.readText(path);
    if (text === null) throw new StepFailure(reason, `${path} is missing`);
    return text;
  }
}

export function kubectlArgv(kubeconfig: string, ...args: string[]): string[] {
  return ['kubectl', '--kubeconfig', kubeconfig, ...args];
}

/** The kubeadm config a step of a kind that has one names, if it does. */
export function configPathOf(step: ReleasedStep): string | undefined {
  return 'kubeadmConfigPath' in step.params ? step.params.kubeadmConfigPath : undefined;
}

/** The step's kubeadm config (must be among the step's files). */
export function kubeadmConfigPath(step: ReleasedStep): string {
  const path = configPathOf(step);
  if (!path) throw new StepFailure('missing-config', `step ${step.kind} has no params.kubeadmConfigPath`, true);
  return path;
}
