/**
 * The agent loop: performs the state machine's effects through injected interfaces and feeds what
 * happened back as the next event. All judgement lives in `machine.ts`; this file only does I/O.
 * Every log line is redacted (released values accumulate in one redactor) before it is written.
 */

import { AGENT_STATE_DIR, AGENT_UNIT_NAME } from '../protocol/host-paths.ts';
import { Redactor } from '../protocol/redact.ts';
import { API_PREFIX, type CloudInitReport, type EnrollRequest, PROTOCOL_VERSION, type ReportRequest } from '../protocol/wire.ts';
import { cloudInitFinished, readCloudInitStatus } from './cloud-init-status.ts';
import { type AgentConfig, AgentConfigError, parseAgentConfig } from './config.ts';
import { collectFacts } from './facts.ts';
import type { Clock, Exec, Fs, Http, Log, LogLevel, Net, Random } from './io.ts';
import {
  type AgentEvent,
  type AgentState,
  classifyEnrollResponse,
  classifyNextResponse,
  classifyReportResponse,
  type Effect,
  INITIAL_STATE,
  isTerminal,
  type Session,
  startEffects,
  transition,
} from './machine.ts';
import { type CloudInitState, runPreflight } from './preflight.ts';
import { listSentinels } from './sentinel.ts';
import { type AgentKey, generateAgentKey, loadAgentKey, signRequest } from './signing.ts';
import type { SnapshotUpload } from './snapshot-upload.ts';
import { DEFAULT_STEP_TIMING, executeStep, type StepTiming } from './steps/index.ts';
import { AGENT_VERSION } from './version.ts';

export const KEY_FILE = 'agent-key.pem';
export const SESSION_FILE = 'session.json';
export const DONE_FILE = 'done';
/** Exit code for a configuration the agent cannot work with (the unit should not restart on it). */
export const EXIT_CONFIG = 78;

export interface AgentDeps {
  fs: Fs;
  exec: Exec;
  net: Net;
  clock: Clock;
  random: Random;
  createHttp(config: AgentConfig, caPem: string): Http;
  system: { hostname(): string; arch: string };
  /** Where JSON log lines go (stderr in production). */
  writeLine(line: string): void;
  timing?: Partial<StepTiming>;
  /** Heartbeat interval while a step runs (default 30 s). */
  heartbeatMs?: number;
  signal?: AbortSignal;
  /** Test/bench hook: called after every transition. */
  observe?(state: AgentState, event: AgentEvent | null, effects: readonly Effect[]): void;
}

export interface RunOptions {
  configPath: string;
  /** Stop after the first accepted report (or when the host is done). */
  once?: boolean;
  /** Minimum log level written. */
  logLevel?: LogLevel;
}

export interface RunResult {
  exitCode: number;
  state: AgentState;
}

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

interface Runtime {
  config?: AgentConfig;
  http?: Http;
  key?: AgentKey;
  session?: Session;
  skewMs: number;
  /** What the preflight learnt of cloud-init (done, or absent on Ignition hosts). */
  cloudInit?: CloudInitState;
  /** cloud-init's report for the enrollment, read once; null when cloud-init is not installed. */
  cloudInitReport?: CloudInitReport | null;
}

/**
 * One JSON line per event. Values are redacted before serialization (a multi-line secret is escaped
 * inside JSON) and the whole line once more after it.
 */
export function createJsonLogger(writeLine: (line: string) => void, redactor: Redactor, clock: Clock, minLevel: LogLevel = 'info'): Log {
  const scrub = (value: unknown, depth = 0): unknown => {
    if (typeof value === 'string') return redactor.redact(value);
    if (depth > 4 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, depth + 1)]));
  };
  return (level, event, fields = {}) => {
    if (LEVELS[level] < LEVELS[minLevel]) return;
    const line = JSON.stringify({ time: new Date(clock.now()).toISOString(), level, event, ...(scrub(fields) as Record<string, unknown>) });
    writeLine(redactor.redact(line));
  };
}

export async function runAgent(options: RunOptions, deps: AgentDeps): Promise<RunResult> {
  const { fs, clock, random } = deps;
  const redactor = new Redactor();
  const log = createJsonLogger(deps.writeLine, redactor, clock, options.logLevel ?? 'info');
  const timing: StepTiming = { ...DEFAULT_STEP_TIMING, ...deps.timing };
  const heartbeatMs = deps.heartbeatMs ?? 30_000;
  const rt: Runtime = { skewMs: 0 };
  const statePath = (name: string) => `${rt.config?.stateDir ?? AGENT_STATE_DIR}/${name}`;

  const signedRequest = async (method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number) => {
    if (!rt.http || !rt.key || !rt.session) throw new Error('not enrolled');
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers = signRequest({
      key: rt.key,
      host: rt.session.host,
      method,
      pathWithQuery: path,
      body: payload,
      now: clock.now(),
      nonce: random.hex(16),
    });
    return rt.http.request({
      method,
      path,
      ...(body === undefined ? {} : { body: payload }),
      headers,
      timeoutMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
  };

  /** etcd-snapshot's upload (day 2): its module is loaded on the first snapshot, not at every start. */
  const snapshotUpload =
    (http: Http, key: AgentKey, host: string): SnapshotUpload =>
    async (input) =>
      (await import('./snapshot-upload.ts')).signedSnapshotUpload(http, { key, host }, clock, random, deps.signal)(input);

  const ensureKey = async (): Promise<AgentKey> => {
    if (rt.key) return rt.key;
    const stored = await fs.readText(statePath(KEY_FILE));
    if (stored) rt.key = loadAgentKey(stored);
    else {
      rt.key = generateAgentKey();
      await fs.writeText(statePath(KEY_FILE), rt.key.privateKeyPem, 0o600);
      log('info', 'key-generated', { file: statePath(KEY_FILE) });
    }
    return rt.key;
  };

  const perform = async (effect: Effect): Promise<AgentEvent | null> => {
    switch (effect.type) {
      case 'log':
        log(effect.level, effect.event, effect.fields);
        return null;

      case 'load-config': {
        try {
          const text = await fs.readText(options.configPath);
          if (text === null) throw new AgentConfigError(`${options.configPath}: missing (the user-data writes it)`);
          const config = parseAgentConfig(text, options.configPath);
          const ca = await fs.readText(config.caFile);
          if (!ca?.includes('BEGIN CERTIFICATE'))
            throw new AgentConfigError(`${config.caFile}: no PEM certificate (the pinned coordinator CA)`);
          rt.config = config;
          rt.http = deps.createHttp(config, ca);
          const alreadyDone = await fs.exists(statePath(DONE_FILE));
          const sessionText = await fs.readText(statePath(SESSION_FILE));
          let session: Session | null = null;
          if (sessionText && (await fs.exists(statePath(KEY_FILE)))) {
            try {
              // keepAgent is the config file's (the user-data's) decision, whatever the session says.
              session = { ...(JSON.parse(sessionText) as Session), keepAgent: config.keepAgent };
              rt.session = session;
              rt.skewMs = session.serverSkewMs;
              await ensureKey();
            } catch {
              session = null;
            }
          }
          return { type: 'config-loaded', session, alreadyDone };
        } catch (error) {
          return { type: 'config-invalid', message: (error as Error).message };
        }
      }

      case 'enroll': {
        const config = rt.config;
        if (!config || !rt.http) return { type: 'config-invalid', message: 'no config' };
        const credential = (await fs.readText(config.credentialFile))?.trim();
        if (!credential)
          return { type: 'enroll-refused', status: 0, code: 'NO_CREDENTIAL', message: `${config.credentialFile} is missing or empty` };
        redactor.add([credential]);
        const key = await ensureKey();
        const now = clock.now();
        const facts = await collectFacts(fs, {
          hostname: deps.system.hostname(),
          arch: deps.system.arch,
          now,
          agentVersion: AGENT_VERSION,
        });
        if (rt.cloudInitReport === undefined) {
          const report = (await readCloudInitStatus(deps.exec)) ?? null;
          rt.cloudInitReport = report;
          if (report) {
            const problems = report.errors.length + report.recoverableErrors.length;
            log(problems > 0 ? 'warn' : 'info', 'cloud-init-status', { ...report });
            // Already final with what the preflight accepts (exit 0 or 2): its `status --wait` would answer the same at once.
            if (cloudInitFinished(report)) rt.cloudInit = 'done';
          } else {
            // Not installed (an Ignition host): the preflight need not run `cloud-init status --wait` to learn it again.
            rt.cloudInit = 'absent';
          }
        }
        const body: EnrollRequest = {
          protocol: PROTOCOL_VERSION,
          credential,
          publicKey: key.publicKeyPem,
          facts,
          ...(config.host ? { host: config.host } : {}),
          ...(rt.cloudInitReport ? { cloudInit: rt.cloudInitReport } : {}),
        };
        try {
          const res = await rt.http.request({
            method: 'POST',
            path: `${API_PREFIX}/enroll`,
            body: JSON.stringify(body),
            timeoutMs: 30_000,
            ...(deps.signal ? { signal: deps.signal } : {}),
          });
          const event = classifyEnrollResponse(res.status, res.body, now);
          return event.type === 'enroll-ok' ? { ...event, keepAgent: config.keepAgent } : event;
        } catch (error) {
          return { type: 'transport-error', message: (error as Error).message };
        }
      }

      case 'save-session':
        rt.session = effect.session;
        rt.skewMs = effect.session.serverSkewMs;
        await fs.writeText(statePath(SESSION_FILE), `${JSON.stringify(effect.session)}\n`, 0o600);
        return null;

      case 'preflight': {
        const stateDir = rt.config?.stateDir ?? AGENT_STATE_DIR;
        const prepared = (await listSentinels(fs, stateDir)).some((s) => s.kind === 'prepare-host');
        const result = await runPreflight(effect.session, {
          fs,
          exec: deps.exec,
          net: deps.net,
          now: clock.now(),
          serverSkewMs: rt.skewMs,
          ...(rt.cloudInit ? { cloudInit: rt.cloudInit } : {}),
          prepared,
          endpointTimeoutMs: timing.endpointTimeoutMs,
        });
        if (result.cloudInit) rt.cloudInit = result.cloudInit;
        for (const c of result.checks) log(c.ok ? 'info' : 'warn', 'preflight-check', { check: c.name, ok: c.ok, message: c.message });
        const failed = result.checks.find((c) => !c.ok);
        return failed ? { type: 'preflight-wait', check: failed.name, message: failed.message } : { type: 'preflight-ok' };
      }

      case 'heartbeat':
        try {
          const message = effect.message ? redactor.redact(effect.message).slice(0, 1000) : undefined;
          const res = await signedRequest(
            'POST',
            `${API_PREFIX}/heartbeat`,
            { phase: effect.phase, ...(message ? { message } : {}), clock: clock.now() },
            10_000,
          );
          // The answer carries the coordinator's clock: a resumed agent re-measures its skew here.
          const body = res.body as { serverTime?: unknown } | null;
          if (res.status === 200 && body && typeof body.serverTime === 'number') rt.skewMs = body.serverTime - clock.now();
        } catch (error) {
          log('debug', 'heartbeat-failed', { message: (error as Error).message });
        }
        return null;

      case 'request-next': {
        const started = clock.now();
        try {
          const res = await signedRequest('GET', `${API_PREFIX}/next?wait=${effect.waitMs}`, undefined, effect.waitMs + 15_000);
          const now = clock.now();
          const body = res.body as { serverTime?: unknown } | null;
          if (body && typeof body.serverTime === 'number') rt.skewMs = body.serverTime - now;
          const event = classifyNextResponse(res.status, res.body, now - started, now);
          if (event.type === 'next-step') redactor.add(event.step.redact);
          return event;
        } catch (error) {
          return { type: 'transport-error', message: (error as Error).message };
        }
      }

      case 'run-step': {
        // A kubeadm init or a join's etcd wait takes minutes: keep the coordinator's status live.
        const stop = new AbortController();
        const started = clock.now();
        const beats = (async () => {
          for (;;) {
            await clock.sleep(heartbeatMs, stop.signal);
            if (stop.signal.aborted || deps.signal?.aborted) return;
            const seconds = Math.round((clock.now() - started) / 1000);
            await perform({
              type: 'heartbeat',
              phase: 'step',
              message: `${effect.step.kind} ${effect.step.id} attempt ${effect.step.attempt}: running for ${seconds} s`,
            });
          }
        })();
        try {
          const report = await executeStep(
            effect.step,
            {
              fs,
              exec: deps.exec,
              net: deps.net,
              clock,
              log,
              stateDir: rt.config?.stateDir ?? AGENT_STATE_DIR,
              timing,
              ...(rt.http && rt.key && rt.session ? { uploadSnapshot: snapshotUpload(rt.http, rt.key, rt.session.host) } : {}),
            },
            new Redactor(effect.step.redact),
          );
          return { type: 'step-finished', report };
        } finally {
          stop.abort();
          await beats;
        }
      }

      case 'report': {
        const report: ReportRequest = { ...effect.report, logTail: redactor.redact(effect.report.logTail) };
        try {
          const res = await signedRequest('POST', `${API_PREFIX}/report`, report, 30_000);
          return classifyReportResponse(res.status, res.body);
        } catch (error) {
          return { type: 'transport-error', message: (error as Error).message };
        }
      }

      case 'sleep':
        await clock.sleep(effect.ms + Math.floor(random.next() * effect.jitterMs), deps.signal);
        return { type: 'timer' };

      case 'disable-unit': {
        if (!(await fs.exists('/run/systemd/system'))) {
          log('info', 'disable-unit-skipped', { reason: 'systemd is not running' });
          return null;
        }
        const r = await deps.exec.run(['systemctl', 'disable', AGENT_UNIT_NAME], { timeoutMs: 30_000 });
        log(r.code === 0 ? 'info' : 'warn', 'disable-unit', { unit: AGENT_UNIT_NAME, code: r.code, notFound: r.notFound });
        return null;
      }

      case 'delete-credential':
        if (rt.config) {
          await fs.remove(rt.config.credentialFile);
          log('info', 'credential-deleted', { file: rt.config.credentialFile });
        }
        return null;

      case 'write-state-file':
        await fs.writeText(statePath(effect.name), effect.content, effect.mode);
        return null;
    }
  };

  let state: AgentState = INITIAL_STATE;
  let effects: Effect[] = startEffects();
  let reportsAccepted = 0;
  log('info', 'agent-start', { version: AGENT_VERSION, config: options.configPath, once: options.once === true });
  try {
    for (;;) {
      let event: AgentEvent | null = null;
      for (const effect of effects) {
        const produced = await perform(effect);
        if (produced) event = produced;
      }
      if (isTerminal(state) || deps.signal?.aborted) break;
      if (options.once && reportsAccepted > 0) break;
      if (!event) {
        // Cannot happen by construction (every non-terminal transition ends in an effect that
        // answers); guard anyway so a bug idles loudly instead of spinning.
        log('error', 'no-event', { phase: state.phase });
        await clock.sleep(1_000, deps.signal);
        event = { type: 'timer' };
      }
      const t = transition(state, event);
      if (event.type === 'report-accepted') reportsAccepted++;
      state = t.state;
      effects = t.effects;
      deps.observe?.(state, event, effects);
      if (options.once && event.type === 'report-accepted') {
        for (const effect of effects) if (effect.type === 'log') await perform(effect);
        break;
      }
    }
  } finally {
    await rt.http?.close().catch(() => undefined);
  }
  const exitCode = state.phase === 'disabled' ? EXIT_CONFIG : 0;
  log(exitCode === 0 ? 'info' : 'error', 'agent-exit', { phase: state.phase, exitCode });
  return { exitCode, state };
}
