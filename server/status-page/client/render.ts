/**
 * Draws the status page from the view model: the token gate, the summary, host cards, the Gantt
 * timeline and security events. Every function returns fresh elements; main.ts swaps them in.
 * Elapsed times carry `data-since` (server ms) so a one-second ticker can update them in place.
 */
import { cloudInitWarning, installFailedFix, installFailedLines, installFailedText } from '../../host-notes.ts';
import { type Child, h, place, since } from './dom.ts';
import { renderCoordinatorSteps, renderSecurity, renderTimeline } from './render-activity.ts';
import {
  certificateSummary,
  certificateWarnings,
  countByState,
  countSteps,
  currentSince,
  deriveHostState,
  describeFailure,
  formatDuration,
  gateText,
  HOST_STATE_LABEL,
  type HostFilter,
  type HostState,
  type HostStatus,
  lastLines,
  pickReportedStep,
  type RolloutStatus,
  replicaText,
  shortStep,
  summarizeProgress,
} from './view-model.ts';

export type Connection = 'connecting' | 'live' | 'reconnecting';

export interface PageModel {
  status: RolloutStatus;
  /** Server time now (ms). */
  now: number;
  connection: Connection;
  filter: HostFilter;
  /** Host → whether its log is expanded (the user's choice survives re-renders). */
  logOpen: Map<string, boolean>;
  notice: string | null;
}

export interface PageHandlers {
  setFilter(filter: HostFilter): void;
  /** null: back to the default (open for a failure). */
  toggleLog(host: string, open: boolean | null): void;
  forgetToken(): void;
}

const LOG_LINES = 12;

export function renderGate(message: string | null, onToken: (token: string) => void): HTMLElement {
  const input = h('input', {
    type: 'password',
    name: 'token',
    id: 'token',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'paste the operator token',
    required: true,
  });
  const form = h(
    'form',
    { class: 'gate-form' },
    h('label', { for: 'token' }, 'Operator token'),
    h('div', { class: 'gate-row' }, input, h('button', { type: 'submit' }, 'Open')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token) onToken(token);
  });
  return h(
    'section',
    { class: 'gate', 'data-view': 'gate' },
    h('h1', {}, 'operator token required'),
    h(
      'p',
      {},
      'This page shows a kubeseed rollout. Open the link that ',
      h('code', {}, 'kubeseed serve'),
      ' printed (the token travels after the #, which browsers never send to the server), or paste the operator token from ',
      h('code', {}, 'STATE/operator-token'),
      '.',
    ),
    message ? h('p', { class: 'gate-error', role: 'alert' }, message) : null,
    form,
  );
}

function progressBar(done: number, total: number, label: string): HTMLElement {
  const fill = place(h('span', { class: 'fill' }), { width: total > 0 ? (done / total) * 100 : 0 });
  return h('span', { class: 'bar', role: 'progressbar', 'aria-valuenow': done, 'aria-valuemax': total, 'aria-label': label }, fill);
}

export function renderPage(model: PageModel, handlers: PageHandlers): HTMLElement {
  const { status, now } = model;
  return h(
    'div',
    { class: 'page', 'data-view': 'status' },
    renderHeader(model, handlers),
    renderSummary(status, now),
    renderCertificateWarnings(status, now),
    renderFailures(status),
    renderHosts(model, handlers),
    renderTimeline(status, now),
    renderCoordinatorSteps(status, now),
    renderSecurity(status, now),
    h(
      'footer',
      { class: 'foot' },
      h('span', {}, 'Updated live from the coordinator’s event stream. No secret value is shown here.'),
      (() => {
        const button = h('button', { type: 'button', class: 'link' }, 'forget token');
        button.addEventListener('click', () => handlers.forgetToken());
        return button;
      })(),
    ),
  );
}

function renderHeader(model: PageModel, _handlers: PageHandlers): HTMLElement {
  const { cluster } = model.status;
  const connText: Record<Connection, string> = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' };
  return h(
    'header',
    { class: 'top' },
    h(
      'div',
      { class: 'title' },
      h('h1', {}, cluster.name),
      h(
        'span',
        { class: 'meta' },
        `Kubernetes ${cluster.kubernetesVersion} · ${cluster.topology} etcd · PKI by ${cluster.certificateDistribution}`,
      ),
    ),
    h('span', { class: `conn conn-${model.connection}`, 'data-connection': model.connection }, connText[model.connection]),
    replicaText(model.status.coordinator)
      ? h('p', { class: 'replica', 'data-replica': model.status.coordinator!.role }, replicaText(model.status.coordinator)!)
      : null,
    model.notice ? h('p', { class: 'notice', role: 'status' }, model.notice) : null,
  );
}

function renderSummary(status: RolloutStatus, now: number): HTMLElement {
  const p = summarizeProgress(status);
  const outcomeText = p.outcome === 'done' ? 'rollout done' : p.outcome === 'failed' ? 'rollout stopped: a host failed' : 'rollout running';
  const firstRelease = Math.min(
    ...status.hosts.flatMap((host) => host.steps.map((s) => s.releasedAt ?? Number.POSITIVE_INFINITY)),
    Number.POSITIVE_INFINITY,
  );
  const lastFinish = Math.max(...status.hosts.flatMap((host) => host.steps.map((s) => s.finishedAt ?? 0)), 0);
  const stat = (label: string, value: Child, extra: Record<string, string> = {}) =>
    h('div', { class: 'stat', ...extra }, h('dt', {}, label), h('dd', {}, value));
  const lock = status.initLock;
  return h(
    'section',
    { class: `summary outcome-${p.outcome}`, 'data-outcome': p.outcome },
    h('div', { class: 'outcome' }, outcomeText),
    h(
      'div',
      { class: 'big' },
      progressBar(p.doneSteps, p.steps, 'steps done'),
      h('span', { class: 'big-count' }, `${p.doneSteps}/${p.steps} steps`),
    ),
    h(
      'dl',
      { class: 'stats' },
      stat('hosts done', `${p.doneHosts}/${p.hosts}`, { 'data-stat': 'hosts-done' }),
      stat('enrolled', `${p.enrolled}/${p.hosts}`, { 'data-stat': 'enrolled' }),
      stat('failed', String(p.failedHosts), { 'data-stat': 'failed' }),
      stat(
        'elapsed',
        Number.isFinite(firstRelease)
          ? p.outcome === 'done' && lastFinish > 0
            ? formatDuration(lastFinish - firstRelease)
            : since(firstRelease, now)
          : 'not started',
      ),
      stat('init lock', lock ? `${lock.holder}${lock.succeeded ? ' (init succeeded)' : ' (init running)'}` : 'free'),
      stat('bootstrap token', status.token ? `expires in ${formatDuration(status.token.expiresAt - now)}` : 'none yet'),
      certificateStat(status, now),
    ),
  );
}

/** The earliest expiry of the certificates kubeseed issued; its file in the tooltip. */
function certificateStat(status: RolloutStatus, now: number): HTMLElement | null {
  const c = certificateSummary(status, now);
  if (!c) return null;
  return h(
    'div',
    { class: `stat cert-${c.level}`, 'data-stat': 'certificates', title: c.file },
    h('dt', {}, 'certificates expire'),
    h('dd', {}, c.date, ' ', h('span', { class: 'left' }, `(${c.left})`)),
  );
}

/** Below 30 days of validity: what expires where, and where the runbook is. */
function renderCertificateWarnings(status: RolloutStatus, now: number): HTMLElement | null {
  const warnings = certificateWarnings(status, now);
  if (warnings.length === 0) return null;
  return h(
    'section',
    { class: 'cert-warnings', role: 'alert' },
    h('h2', {}, 'Certificates expire soon'),
    h(
      'ul',
      {},
      warnings.map((w) => h('li', {}, w)),
    ),
  );
}

function renderFailures(status: RolloutStatus): HTMLElement | null {
  const failed = status.hosts.filter((host) => host.failed && !host.removed);
  if (failed.length === 0) return null;
  return h(
    'section',
    { class: 'failures', role: 'alert' },
    h('h2', {}, failed.length === 1 ? '1 host failed' : `${failed.length} hosts failed`),
    h(
      'ul',
      {},
      failed.map((host) => {
        if (host.installFailed) {
          return h(
            'li',
            {},
            h('strong', {}, host.name),
            ` — ${installFailedText(host.installFailed)}: ${installFailedFix(host.installFailed)}.`,
          );
        }
        const step = host.steps.find((s) => s.state === 'failed');
        return h(
          'li',
          {},
          h('strong', {}, host.name),
          step?.kind === 'prepare-host' ? ` — ${describeFailure(step)}` : ` — ${step ? shortStep(step.id) : 'a step'} failed`,
          step?.kind !== 'prepare-host' && step?.lastReport?.reason ? `: ${step.lastReport.reason}` : '',
          '. Fix the cause, then run ',
          h('code', {}, `kubeseed retry ${host.name}`),
          '.',
        );
      }),
    ),
  );
}

const FILTER_ORDER: HostState[] = ['running', 'waiting', 'retrying', 'failed', 'done', 'not-enrolled', 'approval', 'removed'];

function renderHosts(model: PageModel, handlers: PageHandlers): HTMLElement {
  const { status, now, filter } = model;
  const counts = countByState(status.hosts);
  const chip = (value: HostFilter, label: string, count: number) => {
    const button = h(
      'button',
      {
        type: 'button',
        class: `chip${filter === value ? ' on' : ''}`,
        'aria-pressed': filter === value ? 'true' : 'false',
        'data-filter': value,
      },
      `${label} ${count}`,
    );
    button.addEventListener('click', () => handlers.setFilter(filter === value ? 'all' : value));
    return button;
  };
  const chips = [
    chip('all', 'all', status.hosts.length),
    ...FILTER_ORDER.filter((s) => counts[s] > 0).map((s) => chip(s, HOST_STATE_LABEL[s], counts[s])),
  ];
  const shown = status.hosts.filter((host) => filter === 'all' || deriveHostState(host) === filter);
  return h(
    'section',
    { class: 'hosts' },
    h('div', { class: 'section-head' }, h('h2', {}, 'Hosts'), h('div', { class: 'chips' }, chips)),
    h(
      'div',
      { class: 'grid' },
      shown.map((host) => renderHost(host, now, model.logOpen, handlers)),
    ),
  );
}

function renderHost(host: HostStatus, now: number, logOpen: Map<string, boolean>, handlers: PageHandlers): HTMLElement {
  const state = deriveHostState(host);
  const { done, total } = countSteps(host.steps);
  const started = currentSince(host);
  const reported = pickReportedStep(host);
  const report = reported?.lastReport;
  const failedReport = report && report.outcome === 'failed';
  const lines = report ? lastLines(report.logTail, LOG_LINES) : [];
  const row = (key: string, ...value: Child[]) =>
    h('p', { class: `line line-${key.replace(/\s+/g, '-')}` }, h('span', { class: 'k' }, key), ' ', ...value);
  let log: HTMLElement | null = null;
  if (lines.length > 0 && reported) {
    const byDefault = Boolean(failedReport);
    const open = logOpen.get(host.name) ?? byDefault;
    const details = h(
      'details',
      { class: 'log', open },
      h(
        'summary',
        {},
        `log of ${shortStep(reported.id)} (${report!.outcome}${reported.attempt > 1 ? `, attempt ${reported.attempt}` : ''})`,
      ),
      h('pre', {}, lines.join('\n')),
    );
    // Only a choice that differs from the default is remembered (creating an open <details> fires toggle too).
    details.addEventListener('toggle', () => handlers.toggleLog(host.name, details.open === byDefault ? null : details.open));
    log = details;
  }
  return h(
    'article',
    { class: `host state-${state}`, 'data-host': host.name, 'data-state': state },
    h(
      'header',
      {},
      h('span', { class: 'name' }, host.name),
      h('span', { class: `role role-${host.role}` }, host.role),
      h('span', { class: 'badge' }, HOST_STATE_LABEL[state]),
    ),
    h(
      'div',
      { class: 'progress' },
      progressBar(done, total, `${host.name} steps done`),
      h('span', { class: 'count' }, `${done}/${total} steps`),
    ),
    host.currentStep
      ? row('step', h('span', { class: 'current' }, shortStep(host.currentStep)), ' · ', started ? since(started, now) : '')
      : null,
    host.waitingFor && !host.currentStep && state !== 'done' ? row('waiting for', renderGateText(host.waitingFor)) : null,
    host.phase && state !== 'done' && state !== 'removed' ? row('agent', `${host.phase}${host.message ? `: ${host.message}` : ''}`) : null,
    host.lastSeen !== null && state !== 'done' ? row('last seen', since(host.lastSeen, now), ' ago') : null,
    failedReport
      ? h('p', { class: 'line line-error' }, h('span', { class: 'k' }, 'error'), ' ', report!.reason ?? `${shortStep(reported!.id)} failed`)
      : null,
    retryNote(host, now),
    renderCandidates(host, now),
    renderInstallFailed(host, now),
    renderCloudInitWarning(host),
    log,
  );
}

/** The install script's beacon: the agent never started on this machine; its reason and what curl/systemctl said. */
function renderInstallFailed(host: HostStatus, now: number): HTMLElement | null {
  const failure = host.installFailed;
  if (!failure || host.enrolled) return null;
  return h(
    'div',
    { class: 'install-failed', 'data-install-failed': failure.reason },
    h('p', { class: 'line line-error' }, h('span', { class: 'k' }, 'error'), ' ', installFailedText(failure)),
    h('p', { class: 'line' }, h('span', { class: 'k' }, 'fix'), ' ', installFailedFix(failure)),
    h('p', { class: 'line' }, h('span', { class: 'k' }, 'reported'), ' ', since(failure.at, now), ` ago from ${failure.sourceAddress}`),
    h(
      'details',
      { class: 'log', open: true },
      h('summary', {}, 'install log'),
      h('pre', {}, installFailedLines(failure, LOG_LINES).join('\n')),
    ),
  );
}

/** cloud-init's own errors or recoverable errors on this host, as its agent reported them at enrollment. */
function renderCloudInitWarning(host: HostStatus): HTMLElement | null {
  const warning = cloudInitWarning(host.cloudInit);
  if (!warning || !host.cloudInit) return null;
  const messages = [...host.cloudInit.errors, ...host.cloudInit.recoverableErrors];
  return h(
    'div',
    { class: 'cloud-init-warning', 'data-cloud-init': host.cloudInit.extendedStatus ?? host.cloudInit.status },
    h('p', { class: 'line line-warning' }, h('span', { class: 'k' }, 'warning'), ' ', warning),
    messages.length > 1 ? h('details', { class: 'log' }, h('summary', {}, 'cloud-init messages'), h('pre', {}, messages.join('\n'))) : null,
  );
}

/**
 * Machines waiting for approval of this host (fleet mode): what to compare with the machine's
 * console or inventory before `kubeseed approve HOST --key FINGERPRINT`. Approving one rejects the others.
 */
function renderCandidates(host: HostStatus, now: number): HTMLElement | null {
  const candidates = host.candidates ?? [];
  if (candidates.length === 0) return null;
  return h(
    'div',
    { class: 'candidates', 'data-candidates': candidates.length },
    h('p', { class: 'k' }, `${candidates.length === 1 ? 'a machine waits' : `${candidates.length} machines wait`} for approval`),
    h(
      'ul',
      {},
      candidates.map((c) =>
        h(
          'li',
          { 'data-key': c.keyFingerprint },
          h('code', { class: 'fingerprint' }, c.keyFingerprint),
          h(
            'span',
            { class: 'facts' },
            `machine-id ${c.machineId || '-'} · MACs ${c.macs.join(', ') || '-'} · UUID ${c.smbiosUuid || '-'} · from ${c.sourceAddress} · matched by ${c.matchedBy}${c.fleetCredential ? '' : ' (no credential)'} · first seen `,
            since(c.firstSeen, now),
            ' ago',
          ),
          h('code', { class: 'command' }, `kubeseed approve ${host.name} --key ${c.keyFingerprint}`),
        ),
      ),
    ),
  );
}

const GATE_TEXT_MAX = 160;

function renderGateText(waitingFor: string): HTMLElement {
  const text = gateText(waitingFor);
  if (text.length <= GATE_TEXT_MAX) return h('span', { class: 'gate-text' }, text);
  return h('span', { class: 'gate-text', title: text }, `${text.slice(0, GATE_TEXT_MAX - 1)}…`);
}

function retryNote(host: HostStatus, now: number): HTMLElement | null {
  const waiting = host.steps.find((s) => s.state === 'retry-wait');
  if (!waiting) return null;
  const at = waiting.retryAt;
  return h(
    'p',
    { class: 'line line-retry' },
    h('span', { class: 'k' }, 'retry'),
    ` ${shortStep(waiting.id)} again${at !== undefined && at > now ? ` in ${formatDuration(at - now)}` : ' after its cleanup'}`,
    ` (${waiting.failures} failure${waiting.failures === 1 ? '' : 's'} so far)`,
  );
}
