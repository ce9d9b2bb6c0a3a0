/**
 * The status page's browser entry (bundled by esbuild, served as /status/app.js). Takes the
 * operator token from the URL fragment (never sent to the server) or a form, keeps it in
 * sessionStorage, and presents it as `Authorization: Bearer` to GET /v1/status and GET /v1/events.
 * The event stream is read with fetch() because EventSource cannot send headers, and a token in
 * the query string would land in access logs. Each event schedules one debounced refetch of the
 * status; reconnects back off up to 15 s. Without a valid token the page shows the gate and no data.
 */
import { type Connection, renderGate, renderPage } from './render.ts';
import { renderTimeline } from './render-activity.ts';
import { SseParser } from './sse.ts';
import { formatDuration, type HostFilter, type RolloutStatus } from './view-model.ts';

const TOKEN_KEY = 'kubeseed.operatorToken';
const REFRESH_DEBOUNCE_MS = 100;
const MAX_BACKOFF_MS = 15_000;

interface State {
  token: string | null;
  status: RolloutStatus | null;
  /** serverTime − Date.now() at the last status: elapsed times use the coordinator's clock. */
  offset: number;
  connection: Connection;
  filter: HostFilter;
  logOpen: Map<string, boolean>;
  notice: string | null;
}

const state: State = {
  token: null,
  status: null,
  offset: 0,
  connection: 'connecting',
  filter: 'all',
  logOpen: new Map(),
  notice: null,
};

let stream: AbortController | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inFlight = false;
let dirty = false;
/** How long the last fetch + render took: a big fleet's status is refetched at most every 2× that. */
let lastRefreshMs = 0;

function root(): HTMLElement {
  return document.getElementById('app') as HTMLElement;
}

function serverNow(): number {
  return Date.now() + state.offset;
}

function takeTokenFromFragment(): string | null {
  const fragment = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  const token = new URLSearchParams(fragment).get('token');
  if (token === null) return null;
  // Out of the address bar, history and any screenshot of it.
  history.replaceState(null, '', location.pathname + location.search);
  return token.trim() || null;
}

function authHeaders(): Record<string, string> {
  return { authorization: `Bearer ${state.token ?? ''}` };
}

function showGate(message: string | null): void {
  stream?.abort();
  stream = null;
  state.status = null;
  state.token = null;
  document.title = 'kubeseed · operator token required';
  root().replaceChildren(
    renderGate(message, (token) => {
      sessionStorage.setItem(TOKEN_KEY, token);
      state.token = token;
      void connect();
    }),
  );
  (document.getElementById('token') as HTMLInputElement | null)?.focus();
}

function refused(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  showGate('The coordinator refused this token. Use the operator token that `kubeseed serve` printed for this state directory.');
}

function render(): void {
  const status = state.status;
  if (!status || !state.token) return;
  const progress = status.counts;
  document.title = `${progress.done}/${progress.hosts} · ${status.cluster.name} · kubeseed`;
  root().replaceChildren(
    renderPage(
      { status, now: serverNow(), connection: state.connection, filter: state.filter, logOpen: state.logOpen, notice: state.notice },
      {
        setFilter(filter) {
          state.filter = filter;
          render();
        },
        toggleLog(host, open) {
          if (open === null) state.logOpen.delete(host);
          else state.logOpen.set(host, open);
        },
        forgetToken() {
          sessionStorage.removeItem(TOKEN_KEY);
          showGate(null);
        },
      },
    ),
  );
}

/** Fetches the status; false when the token was refused (the gate is shown). */
async function refresh(): Promise<boolean> {
  if (inFlight) {
    dirty = true;
    return true;
  }
  inFlight = true;
  const started = performance.now();
  try {
    const response = await fetch('/v1/status', { headers: authHeaders(), cache: 'no-store' });
    if (response.status === 401) {
      refused();
      return false;
    }
    if (!response.ok) {
      state.notice = `The coordinator answered ${response.status} to /v1/status; showing the last known state.`;
    } else {
      const status = (await response.json()) as RolloutStatus;
      state.status = status;
      state.offset = status.serverTime - Date.now();
      state.notice = null;
    }
  } catch {
    state.notice = 'The coordinator cannot be reached; showing the last known state and retrying.';
  } finally {
    inFlight = false;
  }
  render();
  lastRefreshMs = performance.now() - started;
  if (dirty) {
    dirty = false;
    scheduleRefresh(REFRESH_DEBOUNCE_MS);
  }
  return true;
}

function scheduleRefresh(delay: number): void {
  if (refreshTimer !== undefined) return;
  refreshTimer = setTimeout(
    () => {
      refreshTimer = undefined;
      void refresh();
    },
    delay === 0 ? 0 : Math.max(delay, 2 * lastRefreshMs),
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

async function follow(controller: AbortController): Promise<void> {
  let failures = 0;
  while (!controller.signal.aborted) {
    try {
      const response = await fetch('/v1/events', {
        headers: { ...authHeaders(), accept: 'text/event-stream' },
        cache: 'no-store',
        signal: controller.signal,
      });
      if (response.status === 401) {
        refused();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`events answered ${response.status}`);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const message of parser.push(decoder.decode(value, { stream: true }))) {
          if (message.event === 'hello') {
            // (Re)connected: whatever happened while we were away is in the next status.
            failures = 0;
            state.connection = 'live';
            scheduleRefresh(0);
          } else {
            scheduleRefresh(REFRESH_DEBOUNCE_MS);
          }
        }
      }
    } catch {
      if (controller.signal.aborted) return;
    }
    if (controller.signal.aborted) return;
    failures++;
    state.connection = 'reconnecting';
    render();
    await sleep(Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 5)), controller.signal);
  }
}

async function connect(): Promise<void> {
  state.connection = 'connecting';
  root().replaceChildren(document.createTextNode('Loading the rollout status…'));
  if (!(await refresh())) return;
  stream?.abort();
  stream = new AbortController();
  void follow(stream);
}

/** Moves the elapsed-time labels and the running Gantt bars forward between events. */
function tick(): void {
  const status = state.status;
  if (!status) return;
  const now = serverNow();
  if (status.hosts.some((h) => h.currentStep !== null)) document.getElementById('timeline')?.replaceWith(renderTimeline(status, now));
  for (const el of document.querySelectorAll<HTMLElement>('[data-since]')) {
    el.textContent = formatDuration(now - Number(el.dataset.since));
  }
}

function start(): void {
  const fromFragment = takeTokenFromFragment();
  if (fromFragment) sessionStorage.setItem(TOKEN_KEY, fromFragment);
  state.token = fromFragment ?? sessionStorage.getItem(TOKEN_KEY);
  if (!state.token) {
    showGate(null);
    return;
  }
  void connect();
}

setInterval(tick, 1000);
start();
