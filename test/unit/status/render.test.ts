/** The pure parts of `kubeseed status`: progress bars, durations, host words, frames and outcomes. */
import { describe, expect, it } from 'vitest';
import { exitCodeOf, hostDetail, renderBar, renderFrame, statusOutcome } from '../../../cli/status.ts';
import { hostNoteLines } from '../../../server/host-notes.ts';
import { countHosts } from '../../../server/rollout/status.ts';
import {
  deriveHostState,
  formatDuration,
  type HostStatus,
  type RolloutStatus,
  type StepStatus,
} from '../../../server/status-page/client/view-model.ts';

describe('renderBar', () => {
  it.each([
    // done, total, width, ascii, expected
    [0, 4, 8, false, '░░░░░░░░'],
    [4, 4, 8, false, '████████'],
    [2, 4, 8, false, '████░░░░'],
    [1, 3, 8, false, '██▋░░░░░'],
    [1, 3, 10, true, '###-------'],
    [0, 0, 5, false, '░░░░░'],
    [5, 4, 4, false, '████'],
    [-1, 4, 4, true, '----'],
    [1, 1000, 10, false, '▏░░░░░░░░░'],
    [1, 1000, 10, true, '#---------'],
    [999, 1000, 10, false, '█████████▉'],
    [999, 1000, 10, true, '#########-'],
    [3, 4, 1, true, '-'],
    [1, 2, 0, true, '-'],
  ])('%i/%i in %i cells (ascii %s) → %s', (done, total, width, ascii, expected) => {
    const bar = renderBar(done, total, width, ascii);
    expect(bar).toBe(expected);
    expect([...bar]).toHaveLength(Math.max(1, width));
  });

  it('never looks full before the end nor empty after the start', () => {
    for (let total = 1; total <= 40; total++) {
      for (let done = 0; done <= total; done++) {
        for (const ascii of [true, false]) {
          const bar = renderBar(done, total, 12, ascii);
          const full = ascii ? '#'.repeat(12) : '█'.repeat(12);
          const empty = ascii ? '-'.repeat(12) : '░'.repeat(12);
          expect(bar === full, `${done}/${total}`).toBe(done === total);
          expect(bar === empty, `${done}/${total}`).toBe(done === 0);
        }
      }
    }
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [999, '0s'],
    [42_000, '42s'],
    [65_000, '1m05s'],
    [3_600_000 + 2 * 60_000 + 5000, '1h02m'],
    [-5000, '0s'],
  ])('%i ms → %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

const NOW = 1_800_000_000_000;

/** A step as the coordinator reports it, from the fields a test cares about. */
function step(s: Pick<StepStatus, 'id' | 'state' | 'attempt'> & Partial<StepStatus>): StepStatus {
  const [hostName = '', kind = ''] = s.id.split('/');
  return { kind, host: hostName, origin: 'plan', failures: 0, ...s };
}

function host(overrides: Partial<HostStatus> & { name: string }): HostStatus {
  return {
    role: 'worker',
    lastSeen: null,
    enrolled: true,
    removed: false,
    awaitingApproval: false,
    done: false,
    failed: false,
    currentStep: null,
    waitingFor: null,
    phase: null,
    message: null,
    steps: [],
    ...overrides,
  };
}

function doc(hosts: HostStatus[], overrides: Partial<RolloutStatus> = {}): RolloutStatus {
  const active = hosts.filter((h) => !h.removed);
  return {
    cluster: { name: 'demo', topology: 'stacked', kubernetesVersion: 'v1.37.0', certificateDistribution: 'coordinator' },
    serverTime: NOW,
    initLock: null,
    token: null,
    coordinatorSteps: [],
    done: active.every((h) => h.done),
    counts: countHosts(active),
    hosts,
    securityEvents: [],
    ...overrides,
  };
}

const running = host({
  name: 'cp1',
  role: 'control-plane',
  currentStep: 'cp1/kubeadm-init',
  phase: 'kubeadm',
  message: 'waiting for the API server',
  steps: [
    step({ id: 'cp1/kubeadm-init', state: 'released', attempt: 1, releasedAt: NOW - 65_000 }),
    step({ id: 'cp1/cni-apply', state: 'pending', attempt: 0 }),
  ],
});
const waiting = host({
  name: 'w1',
  waitingFor: 'waiting for cp1/cni-apply',
  steps: [step({ id: 'w1/kubeadm-join-worker', state: 'pending', attempt: 0 })],
});
const failed = host({
  name: 'w2',
  failed: true,
  steps: [
    step({
      id: 'w2/kubeadm-join-worker',
      state: 'failed',
      attempt: 5,
      releasedAt: NOW - 10_000,
      finishedAt: NOW - 5000,
      lastReport: { outcome: 'failed', reason: 'kubeadm-exit-1', logTail: 'a\n\nb\nc\nport 10250 is in use\n', at: NOW - 5000 },
    }),
  ],
});
const done = host({
  name: 'lb1',
  role: 'load-balancer',
  done: true,
  steps: [step({ id: 'lb1/lb-check', state: 'succeeded', attempt: 1, releasedAt: NOW - 90_000, finishedAt: NOW - 80_000 })],
});
const notEnrolled = host({ name: 'w3', enrolled: false, waitingFor: 'enrollment (the machine has not called the coordinator yet)' });

describe('deriveHostState and hostDetail', () => {
  it.each<[HostStatus, string, string]>([
    [running, 'running', 'kubeadm-init · 1m05s · kubeadm: waiting for the API server'],
    [waiting, 'waiting', 'for cp1/cni-apply'],
    [failed, 'failed', 'kubeadm-join-worker: kubeadm-exit-1 — fix, then `kubeseed retry w2`'],
    [done, 'done', ''],
    [notEnrolled, 'not-enrolled', 'for enrollment (the machine has not called the coordinator yet)'],
    [host({ name: 'x', removed: true, failed: true }), 'removed', ''],
    [
      host({ name: 'x', awaitingApproval: true, waitingFor: 'approval: run `kubeseed approve x`' }),
      'approval',
      'for approval: run `kubeseed approve x`',
    ],
    [
      host({
        name: 'x',
        steps: [
          step({ id: 'x/kubeadm-join-worker', state: 'retry-wait', attempt: 1, lastReport: { outcome: 'failed', logTail: '', at: 0 } }),
        ],
      }),
      'retrying',
      'kubeadm-join-worker failed (error); retrying',
    ],
    [
      host({
        name: 'w4',
        failed: true,
        steps: [
          step({
            id: 'w4/prepare-host',
            kind: 'prepare-host',
            state: 'failed',
            attempt: 3,
            lastReport: { outcome: 'failed', reason: 'repository-unreachable', logTail: 'curl: (7) Failed to connect\n', at: 0 },
          }),
        ],
      }),
      'failed',
      'prepare failed: repository-unreachable — fix, then `kubeseed retry w4`',
    ],
    [
      host({
        name: 'w5',
        steps: [
          step({
            id: 'w5/prepare-host',
            kind: 'prepare-host',
            state: 'retry-wait',
            attempt: 2,
            lastReport: { outcome: 'failed', reason: 'dpkg-locked', logTail: '', at: 0 },
          }),
        ],
      }),
      'retrying',
      'prepare failed: dpkg-locked; retrying (attempt 2)',
    ],
  ])('case %#', (h, word, detail) => {
    expect(deriveHostState(h), h.name).toBe(word);
    expect(hostDetail(h, NOW), h.name).toBe(detail);
  });
});

describe('statusOutcome and exit codes', () => {
  it('done 0, running 3, failed 4 (failure wins over done hosts)', () => {
    expect(statusOutcome(doc([done]))).toBe('done');
    expect(exitCodeOf(statusOutcome(doc([done])))).toBe(0);
    expect(exitCodeOf(statusOutcome(doc([done, running])))).toBe(3);
    expect(exitCodeOf(statusOutcome(doc([done, running, failed])))).toBe(4);
  });
});

describe('renderFrame', () => {
  const status = doc([done, running, waiting, failed, notEnrolled], {
    securityEvents: [
      {
        seq: 1,
        kind: 'identity-mismatch',
        host: 'w1',
        sourceAddress: '127.0.0.1',
        message: 'credential of w1 presented by another machine',
        at: NOW,
      },
    ],
  });

  it('gives plain, aligned lines without escapes or bars when not a terminal', () => {
    const lines = renderFrame(status, { tty: false, color: true, columns: 80, now: NOW });
    expect(lines).toEqual([
      'demo · Kubernetes v1.37.0 · stacked · rollout FAILED · hosts 1/5 done · steps 1/5 · enrolled 4/5 · failed 1',
      'lb1   load-balancer    1/1  done',
      'cp1   control-plane    0/2  running       kubeadm-init · 1m05s · kubeadm: waiting for the API server',
      'w1    worker           0/1  waiting       for cp1/cni-apply',
      'w2    worker           0/1  failed        kubeadm-join-worker: kubeadm-exit-1 — fix, then `kubeseed retry w2`',
      'w3    worker           0/0  not-enrolled  for enrollment (the machine has not called the coordinator yet)',
      'w2 log: b',
      'w2 log: c',
      'w2 log: port 10250 is in use',
      'security events: 1 (latest: identity-mismatch w1: credential of w1 presented by another machine)',
    ]);
  });

  it('draws a bar per host on a terminal, clips to the width, and colors only when asked', () => {
    const plain = renderFrame(status, { tty: true, color: false, columns: 76, now: NOW });
    for (const line of plain) expect([...line].length, line).toBeLessThanOrEqual(76);
    const lb1 = plain.find((l) => l.startsWith('lb1'))!;
    const cp1 = plain.find((l) => l.startsWith('cp1'))!;
    expect(lb1).toMatch(/█+ +1\/1 +done/);
    expect(lb1).not.toContain('░');
    expect(cp1, cp1).toMatch(/░+ +0\/2 +running +kubeadm-init · 1m05s/);
    expect(plain).toContain('      │ port 10250 is in use');
    expect(plain.join('\n')).not.toContain('\x1b[');
    const colored = renderFrame(status, { tty: true, color: true, columns: 76, now: NOW });
    expect(colored.find((l) => l.startsWith('w2'))).toContain('\x1b[31;1m');
  });

  it('uses ASCII bars on a dumb terminal', () => {
    const lines = renderFrame(doc([done, running]), { tty: true, color: false, columns: 80, now: NOW, ascii: true });
    expect(lines.find((l) => l.startsWith('lb1'))).toMatch(/#{10,} +1\/1/);
    expect(lines.join('')).not.toMatch(/[█░]/);
  });
});

describe('renderFrame: which replica answered', () => {
  it('names a standby and its leader on etcd; says nothing for the sole coordinator of a journal', () => {
    const standby = { id: 'b/2', role: 'standby' as const, store: 'etcd' as const, leader: { id: 'a/1', url: 'https://10.0.0.5:9443' } };
    const lines = renderFrame(doc([done], { coordinator: standby }), { tty: false, color: false, columns: 120, now: NOW });
    expect(lines).toContain('answered by b/2, a standby (store: etcd; the leader is a/1 at https://10.0.0.5:9443)');
    const sole = renderFrame(doc([done], { coordinator: { id: 'h/1', role: 'leader', store: 'journal' } }), {
      tty: false,
      color: false,
      columns: 120,
      now: NOW,
    });
    expect(sole.join('\n')).not.toContain('answered by');
  });
});

describe('renderFrame: certificate expiry', () => {
  const DAY = 86_400_000;
  const expiry = (days: number) => ({ file: 'pki/etcd/members/etcd1/peer.crt', notAfter: NOW + days * DAY });

  it('prints nothing about certificates when the document has no expiry', () => {
    expect(renderFrame(doc([done]), { tty: false, color: false, columns: 80, now: NOW }).join('\n')).not.toContain('certificate');
  });

  it('shows the date under the heading, and warns in yellow below 30 days, in red once expired', () => {
    const far = renderFrame(doc([done], { certificateExpiry: expiry(200) }), { tty: false, color: false, columns: 80, now: NOW });
    expect(far.slice(1, 3)).toEqual([
      'certificates: earliest expiry 2027-08-03 (pki/etcd/members/etcd1/peer.crt, in 200 days)',
      'lb1   load-balancer    1/1  done',
    ]);
    const soon = renderFrame(doc([done], { certificateExpiry: expiry(3) }), { tty: true, color: true, columns: 200, now: NOW });
    expect(soon[2]).toBe(
      '\x1b[33;1mWARNING: certificate pki/etcd/members/etcd1/peer.crt expires on 2027-01-18 (in 3 days): renew it (docs/pki.md, "Renewing certificates")\x1b[0m',
    );
    const gone = renderFrame(doc([done], { certificateExpiry: expiry(-2) }), { tty: true, color: true, columns: 200, now: NOW });
    expect(gone[1]).toContain('(pki/etcd/members/etcd1/peer.crt, expired)');
    expect(gone[2]).toMatch(/^\x1b\[31;1mWARNING: certificate pki\/etcd\/members\/etcd1\/peer\.crt EXPIRED on 2027-01-13/);
  });
});

describe('install failures and cloud-init warnings (issue 25)', () => {
  const installFailed = host({
    name: 'w4',
    enrolled: false,
    failed: true,
    waitingFor: 'enrollment (the machine has not called the coordinator yet)',
    installFailed: {
      reason: 'agent-checksum-mismatch',
      logTail: 'kubeseed-install-agent: downloading http://mirror/agent/linux-amd64\nERROR: checksum mismatch\u001b[2J\n',
      hostname: 'w4-vm',
      machineId: 'abc',
      arch: 'x86_64',
      sourceAddress: '10.0.0.14',
      at: NOW - 60_000,
      firstAt: NOW - 120_000,
      count: 2,
    },
  });
  const degraded = host({
    name: 'w5',
    done: true,
    steps: [step({ id: 'w5/kubeadm-join-worker', state: 'succeeded', attempt: 1 })],
    cloudInit: {
      status: 'error',
      extendedStatus: 'error - done',
      exitCode: 1,
      errors: ["('write-files', FileExistsError(17, 'File exists'))"],
      recoverableErrors: [],
      at: NOW,
    },
  });

  it('a host whose agent could not be installed shows `install failed: <reason>`, the fix and its install log', () => {
    expect(deriveHostState(installFailed)).toBe('failed');
    expect(hostDetail(installFailed, NOW)).toBe(
      'install failed: agent-checksum-mismatch — the downloaded agent does not match the SHA-256 the coordinator publishes: the mirror serves other bytes',
    );
    const lines = renderFrame(doc([installFailed, degraded]), { tty: false, color: false, columns: 120, now: NOW });
    expect(lines).toContain('w4 log: ERROR: checksum mismatch\\x1b[2J');
    expect(lines).toContain("      WARNING: w5: cloud-init: error - done (1 error): ('write-files', FileExistsError(17, 'File exists'))");
  });

  it('`kubeseed hosts` lines: the failure with where it came from, the tail, and cloud-init', () => {
    expect(hostNoteLines(installFailed, 5)).toEqual([
      `w4: install failed: agent-checksum-mismatch (${new Date(NOW - 60_000).toISOString()}, 2 reports; hostname w4-vm, from 10.0.0.14) — the downloaded agent does not match the SHA-256 the coordinator publishes: the mirror serves other bytes; then re-provision the machine`,
      'w4 install log: kubeseed-install-agent: downloading http://mirror/agent/linux-amd64',
      'w4 install log: ERROR: checksum mismatch\u001b[2J',
    ]);
    expect(hostNoteLines(degraded, 5)).toEqual([
      "WARNING: w5: cloud-init: error - done (1 error): ('write-files', FileExistsError(17, 'File exists'))",
    ]);
    expect(hostNoteLines(done, 5)).toEqual([]);
  });
});
