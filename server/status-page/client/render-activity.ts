/**
 * The status page's activity sections: the Gantt timeline of every step, the coordinator's own
 * steps (token minting, Node cleanup) and the security events. Fresh elements each render, like
 * render.ts, which places them on the page.
 */
import { h, place, since } from './dom.ts';
import { lastLines, layoutGantt, type RolloutStatus, shortStep } from './view-model.ts';

export function renderTimeline(status: RolloutStatus, now: number): HTMLElement {
  const gantt = layoutGantt(status, now);
  const started = gantt.rows.some((r) => r.bars.length > 0);
  return h(
    'section',
    { class: 'timeline', id: 'timeline' },
    h(
      'div',
      { class: 'section-head' },
      h('h2', {}, 'Timeline'),
      h('span', { class: 'hint' }, 'one row per host, in the order the rollout reached it'),
    ),
    started
      ? h(
          'div',
          { class: 'gantt-scroll' },
          h(
            'div',
            { class: 'gantt', 'data-gantt': '' },
            h(
              'div',
              { class: 'grow axis' },
              h('span', { class: 'glabel' }),
              h(
                'span',
                { class: 'track' },
                gantt.ticks.map((t) => place(h('span', { class: 'tick' }, t.label), { left: t.left })),
              ),
            ),
            gantt.rows.map((r) =>
              h(
                'div',
                { class: `grow state-${r.state}`, 'data-gantt-host': r.host },
                h(
                  'span',
                  { class: 'glabel' },
                  h('span', { class: 'gname' }, r.host),
                  h('span', { class: `gdot role-${r.role}`, title: r.role }),
                ),
                h(
                  'span',
                  { class: 'track' },
                  r.bars.map((b) =>
                    place(
                      h(
                        'span',
                        { class: `gbar st-${b.state}${b.running ? ' live' : ''}`, title: b.title, 'data-step': b.id },
                        h('span', { class: 'gtext' }, b.label),
                      ),
                      { left: b.left, width: b.width },
                    ),
                  ),
                ),
              ),
            ),
          ),
        )
      : h('p', { class: 'empty' }, 'No step released yet: the first bars appear when machines enroll and their gates open.'),
    h(
      'p',
      { class: 'legend' },
      (['succeeded', 'running', 'retry-wait', 'failed'] as const).map((s) =>
        h('span', { class: 'lg' }, h('span', { class: `swatch st-${s}` }), s === 'retry-wait' ? 'failed, will retry' : s),
      ),
    ),
  );
}

export function renderCoordinatorSteps(status: RolloutStatus, now: number): HTMLElement | null {
  if (status.coordinatorSteps.length === 0) return null;
  return h(
    'section',
    { class: 'coordinator-steps' },
    h('h2', {}, 'Coordinator actions'),
    h(
      'ul',
      {},
      status.coordinatorSteps.map((s) =>
        h(
          'li',
          {},
          `${shortStep(s.id)}${s.target ? ` ${s.target}` : ''}: ${s.state}`,
          s.releasedAt && !s.finishedAt ? [' · ', since(s.releasedAt, now)] : '',
          s.lastReport?.logTail ? h('pre', {}, lastLines(s.lastReport.logTail, 4).join('\n')) : null,
        ),
      ),
    ),
  );
}

/** Per kind: how many events were recorded in all (each kept event carries its number within its kind) and the first one. */
function securityKinds(status: RolloutStatus): { kind: string; total: number; first: RolloutStatus['securityEvents'][number] }[] {
  const kinds = new Map<string, { kind: string; total: number; first: RolloutStatus['securityEvents'][number] }>();
  for (const e of status.securityEvents) {
    const entry = kinds.get(e.kind) ?? { kind: e.kind, total: 0, first: e };
    entry.total = e.count === undefined ? entry.total + 1 : Math.max(entry.total, e.count);
    kinds.set(e.kind, entry);
  }
  return [...kinds.values()];
}

export function renderSecurity(status: RolloutStatus, now: number): HTMLElement {
  const events = [...status.securityEvents].reverse().slice(0, 20);
  const kinds = securityKinds(status);
  const total = kinds.reduce((sum, k) => sum + k.total, 0);
  return h(
    'section',
    { class: `security${events.length > 0 ? ' has-events' : ''}` },
    h('h2', {}, `Security events${events.length > 0 ? ` (${total})` : ''}`),
    // The first event of each kind stays visible however many later ones arrive (a flood cannot hide it).
    kinds.length > 0
      ? h(
          'ul',
          { class: 'kinds' },
          kinds.map((k) =>
            h(
              'li',
              { 'data-security-kind': k.kind },
              h('span', { class: 'ev-kind' }, `${k.kind} × ${k.total}`),
              h('span', { class: 'ev-meta' }, 'first ', since(k.first.at, now), ' ago: '),
              h('span', { class: 'ev-msg' }, k.first.message),
            ),
          ),
        )
      : null,
    events.length === 0
      ? h('p', { class: 'empty' }, 'None: no refused enrollment, replayed credential or cloned machine so far.')
      : h(
          'ul',
          { class: 'events' },
          events.map((e) =>
            h(
              'li',
              { 'data-security': e.kind },
              h('span', { class: 'ev-kind' }, e.kind),
              h('span', { class: 'ev-meta' }, `${e.host ?? 'unknown host'} · from ${e.sourceAddress} · `, since(e.at, now), ' ago'),
              h('span', { class: 'ev-msg' }, e.message),
            ),
          ),
        ),
  );
}
