/** The pure rewrite of a host's steps on `kubeseed rebind` (server/scheduler.ts planRebind). */
import { describe, expect, it } from 'vitest';
import { createStepRecord, type StepRecord } from '../../../server/model.ts';
import { planRebind } from '../../../server/scheduler.ts';

const NOW = 1_000_000;

function step(id: string, kind: StepRecord['kind'], extra: Partial<StepRecord> = {}): StepRecord {
  return { ...createStepRecord(id, 'w1', kind, 'plan', 0), ...extra };
}

describe('planRebind', () => {
  it('restarts plan steps, sends a released join through cleanup, cancels unfinished coordinator-made steps, leaves other hosts alone', () => {
    const steps: StepRecord[] = [
      step('w1/prepare', 'prepare-host', {
        state: 'succeeded',
        attempt: 1,
        results: { x: 1 } as never,
        lastReport: { attempt: 1, outcome: 'succeeded', logTail: '', at: 1 },
      }),
      step('w1/join', 'kubeadm-join-worker', { state: 'failed', attempt: 2, failures: 2, retryAt: 5, cleanup: ['c'] }),
      step('w1/never', 'kubeadm-join-worker', { state: 'pending', attempt: 0 }),
      { ...createStepRecord('w1/reset-1', 'w1', 'reset', 'cleanup', 3), state: 'released' },
      { ...createStepRecord('w1/reset-0', 'w1', 'reset', 'cleanup', 2), state: 'succeeded' },
      { ...step('w2/join', 'kubeadm-join-worker', { attempt: 1 }), host: 'w2' },
    ];
    const changed = new Map(planRebind(steps, 'w1', NOW).map((s) => [s.id, s]));
    expect([...changed.keys()]).toEqual(['w1/prepare', 'w1/join', 'w1/never', 'w1/reset-1']);
    expect(changed.get('w1/prepare')).toMatchObject({ state: 'pending', failures: 0, needsCleanup: false, results: {} });
    expect(changed.get('w1/prepare')!.lastReport).toBeUndefined();
    expect(changed.get('w1/join')).toMatchObject({ state: 'retry-wait', retryAt: NOW, failures: 0, needsCleanup: true, attempt: 2 });
    expect(changed.get('w1/join')!.cleanup).toBeUndefined();
    expect(changed.get('w1/never')).toMatchObject({ state: 'pending', needsCleanup: false });
    expect(changed.get('w1/reset-1')!.state).toBe('cancelled');
  });
});
