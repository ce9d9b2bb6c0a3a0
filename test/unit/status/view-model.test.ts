/** The status page's pure parts, in Node: host words, progress, the Gantt layout, ticks, and the SSE parser. */
import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../server/status-page/client/sse.ts';
import {
  certificateSummary,
  certificateWarnings,
  computeTicks,
  countSteps,
  deriveHostState,
  formatDuration,
  gateText,
  type HostStatus,
  lastLines,
  layoutGantt,
  pickReportedStep,
  type RolloutStatus,
  type StepStatus,
  summarizeProgress,
} from '../../../server/status-page/client/view-model.ts';

const T0 = 1_800_000_000_000;

function step(id: string, state: StepStatus['state'], extra: Partial<StepStatus> = {}): StepStatus {
  const [host = '', kind = ''] = id.split('/');
  return { id, kind, host, origin: 'plan', state, attempt: state === 'pending' ? 0 : 1, failures: 0, ...extra };
}

function host(name: string, steps: StepStatus[], extra: Partial<HostStatus> = {}): HostStatus {
  return {
    name,
    role: name.startsWith('cp') ? 'control-plane' : name.startsWith('lb') ? 'load-balancer' : 'worker',
    enrolled: true,
    removed: false,
    awaitingApproval: false,
    done: false,
    failed: false,
    currentStep: steps.find((s) => s.state === 'released' || s.state === 'running')?.id ?? null,
    waitingFor: null,
    phase: null,
    message: null,
    lastSeen: null,
    steps,
    ...extra,
  };
}

function rollout(hosts: HostStatus[], extra: Partial<RolloutStatus> = {}): RolloutStatus {
  return {
    cluster: { name: 'demo', topology: 'stacked', kubernetesVersion: 'v1.37.0', certificateDistribution: 'coordinator' },
    serverTime: T0,
    done: false,
    initLock: null,
    token: null,
    counts: {
      hosts: hosts.length,
      enrolled: hosts.length,
      done: hosts.filter((h) => h.done).length,
      failed: hosts.filter((h) => h.failed).length,
    },
    hosts,
    coordinatorSteps: [],
    securityEvents: [],
    ...extra,
  };
}

describe('deriveHostState', () => {
  it.each([
    ['removed wins over failed', { removed: true, failed: true }, 'removed'],
    ['failed wins over done', { failed: true, done: true }, 'failed'],
    ['done', { done: true }, 'done'],
    ['approval', { awaitingApproval: true }, 'approval'],
    ['not enrolled', { enrolled: false }, 'not-enrolled'],
    ['running', { currentStep: 'w1/kubeadm-join-worker' }, 'running'],
    ['waiting', {}, 'waiting'],
  ] as const)('%s', (_name, extra, expected) => {
    expect(deriveHostState(host('w1', [], extra))).toBe(expected);
  });

  it('a step in retry-wait makes the host "retrying"', () => {
    expect(deriveHostState(host('w1', [step('w1/kubeadm-join-worker', 'retry-wait')]))).toBe('retrying');
  });
});

describe('progress', () => {
  it('counts succeeded steps over all but cancelled, and ignores removed hosts', () => {
    const steps = [step('a/x', 'succeeded'), step('a/y', 'cancelled'), step('a/z', 'pending')];
    expect(countSteps(steps)).toEqual({ done: 1, total: 2 });
    const p = summarizeProgress(
      rollout([host('a', steps), host('b', [step('b/x', 'succeeded'), step('b/y', 'pending')], { removed: true })]),
    );
    expect(p).toMatchObject({ steps: 2, doneSteps: 1, outcome: 'running' });
  });

  it('outcome: failed when any host failed, done when the coordinator says so', () => {
    expect(summarizeProgress(rollout([host('a', [], { failed: true })])).outcome).toBe('failed');
    expect(summarizeProgress(rollout([host('a', [], { done: true })], { done: true })).outcome).toBe('done');
  });
});

describe('pickReportedStep and lastLines', () => {
  const report = (outcome: string, at: number, logTail = outcome) => ({ outcome, logTail, at });
  it('prefers the running step, then the latest failure, then the latest report', () => {
    const running = step('w/b', 'running', { lastReport: report('running', T0 + 3) });
    const failedOld = step('w/a', 'retry-wait', { lastReport: report('failed', T0 + 1) });
    const okNew = step('w/c', 'succeeded', { lastReport: report('succeeded', T0 + 5) });
    expect(pickReportedStep(host('w', [failedOld, running, okNew]))?.id).toBe('w/b');
    expect(pickReportedStep(host('w', [failedOld, okNew]))?.id).toBe('w/a');
    expect(pickReportedStep(host('w', [okNew]))?.id).toBe('w/c');
    expect(pickReportedStep(host('w', [step('w/d', 'pending')]))).toBeUndefined();
  });

  it('keeps the last non-empty lines', () => {
    expect(lastLines('a\n\nb\n  \nc\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('', 3)).toEqual([]);
  });

  it('drops a leading "waiting for" from the gate', () => {
    expect(gateText('waiting for cp1/cni-apply')).toBe('cp1/cni-apply');
    expect(gateText('enrollment (the machine has not called the coordinator yet)')).toBe(
      'enrollment (the machine has not called the coordinator yet)',
    );
  });
});

describe('layoutGantt', () => {
  const lb = host('lb1', [step('lb1/lb-check', 'succeeded', { releasedAt: T0, finishedAt: T0 + 10_000 })], { done: true });
  const cp = host('cp1', [
    step('cp1/kubeadm-init', 'succeeded', { releasedAt: T0 + 10_000, finishedAt: T0 + 70_000 }),
    step('cp1/cni-apply', 'running', { releasedAt: T0 + 70_000 }),
  ]);
  const idle = host('w9', [step('w9/kubeadm-join-worker', 'pending')]);
  // Plan order puts the idle worker first; the timeline orders rows by first release.
  const status = rollout([idle, cp, lb]);

  it('orders rows by first release, idle hosts last, and places bars on a shared axis', () => {
    const gantt = layoutGantt(status, T0 + 100_000);
    expect(gantt.rows.map((r) => r.host)).toEqual(['lb1', 'cp1', 'w9']);
    expect(gantt.start).toBe(T0);
    expect(gantt.end).toBe(T0 + 100_000);
    const [lbRow, cpRow, idleRow] = gantt.rows;
    expect(lbRow!.bars).toEqual([expect.objectContaining({ id: 'lb1/lb-check', left: 0, width: 10, running: false })]);
    expect(cpRow!.bars.map((b) => [b.label, b.left, b.width, b.running])).toEqual([
      ['kubeadm-init', 10, 60, false],
      ['cni-apply', 70, 30, true],
    ]);
    expect(cpRow!.bars[1]!.title).toBe('cp1/cni-apply · running · 30s');
    expect(idleRow!.bars).toEqual([]);
  });

  it('a running bar grows with time', () => {
    const early = layoutGantt(status, T0 + 80_000).rows[1]!.bars[1]!;
    const later = layoutGantt(status, T0 + 200_000).rows[1]!.bars[1]!;
    expect(later.end - later.start).toBeGreaterThan(early.end - early.start);
    expect(later.left + later.width).toBeCloseTo(100);
  });

  it('has a one-second axis before anything was released', () => {
    const gantt = layoutGantt(rollout([idle]), T0);
    expect(gantt.end - gantt.start).toBe(1000);
    expect(gantt.rows[0]!.bars).toEqual([]);
  });
});

describe('computeTicks and formatDuration', () => {
  it.each([
    [10_000, ['0s', '2s', '4s', '6s', '8s', '10s']],
    [100_000, ['0s', '30s', '1m00s', '1m30s']],
    [9 * 60_000, ['0s', '2m00s', '4m00s', '6m00s', '8m00s']],
    [3 * 3_600_000, ['0s', '30m00s', '1h00m', '1h30m', '2h00m', '2h30m', '3h00m']],
  ])('span %i ms', (span, labels) => {
    const ticks = computeTicks(span);
    expect(ticks.map((t) => t.label)).toEqual(labels);
    expect(ticks.length).toBeLessThanOrEqual(7);
  });

  it('formats durations', () => {
    expect([0, 42_000, 65_000, 3_725_000, -1].map(formatDuration)).toEqual(['0s', '42s', '1m05s', '1h02m', '0s']);
  });
});

describe('SseParser', () => {
  it('parses events split anywhere, with comments, CRLF and multi-line data', () => {
    const stream = 'event: hello\ndata: {"serverTime":1}\n\n: keep-alive\n\nevent: step\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: plain\n\n';
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new SseParser();
      const messages = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut))];
      expect(messages, `cut at ${cut}`).toEqual([
        { event: 'hello', data: '{"serverTime":1}' },
        { event: 'step', data: '{"a":\n1}' },
        { event: 'message', data: 'plain' },
      ]);
    }
  });

  it('ignores an event with no data and unknown fields', () => {
    const parser = new SseParser();
    expect(parser.push('event: lonely\n\nid: 7\nretry: 10\nevent: x\ndata\n\n')).toEqual([{ event: 'x', data: '' }]);
  });
});

describe('certificate expiry on the page', () => {
  const DAY = 86_400_000;
  const peer = (days: number) => ({ file: 'pki/etcd/members/etcd1/peer.crt', notAfter: T0 + days * DAY });

  it('has no summary without an expiry in the document', () => {
    expect(certificateSummary(rollout([host('w1', [])]), T0)).toBeNull();
    expect(certificateWarnings(rollout([host('w1', [])]), T0)).toEqual([]);
  });

  it('summarizes the earliest expiry: date, file, time left, and whether to warn', () => {
    expect(certificateSummary(rollout([], { certificateExpiry: peer(200) }), T0)).toEqual({
      date: '2027-08-03',
      file: 'pki/etcd/members/etcd1/peer.crt',
      left: 'in 200 days',
      level: 'ok',
    });
    expect(certificateSummary(rollout([], { certificateExpiry: peer(29) }), T0)?.level).toBe('warn');
    expect(certificateSummary(rollout([], { certificateExpiry: peer(-1) }), T0)).toMatchObject({ left: 'expired', level: 'expired' });
  });

  it('warns once per host below 30 days (removed hosts left out), and overall for a certificate no host lists', () => {
    const status = rollout(
      [
        host('etcd1', [], { certificateExpiry: peer(10) }),
        host('etcd2', [], { certificateExpiry: { file: 'pki/etcd/members/etcd2/server.crt', notAfter: T0 + 40 * DAY } }),
        host('etcd3', [], { removed: true, certificateExpiry: { file: 'pki/etcd/members/etcd3/server.crt', notAfter: T0 + DAY } }),
        host('w1', []),
      ],
      { certificateExpiry: peer(10) },
    );
    expect(certificateWarnings(status, T0)).toEqual([
      'etcd1: certificate pki/etcd/members/etcd1/peer.crt expires on 2027-01-25 (in 10 days): renew it (docs/pki.md, "Renewing certificates")',
    ]);
    const tls = { ...status, certificateExpiry: { file: 'tls/server.crt', notAfter: T0 + 5 * DAY } };
    expect(certificateWarnings(tls, T0)).toEqual([
      'certificate tls/server.crt expires on 2027-01-20 (in 5 days): renew it (docs/pki.md, "Renewing certificates")',
      'etcd1: certificate pki/etcd/members/etcd1/peer.crt expires on 2027-01-25 (in 10 days): renew it (docs/pki.md, "Renewing certificates")',
    ]);
  });
});
