/**
 * What a release leaves in the coordinator's log: a step or a few, one `step released` line each
 * at info; a wave (a gate opening for many workers) one `steps released` line at info with its
 * count, and its steps one each at debug — a gate opening for 1,000 workers wrote 1,000 info lines.
 */
import { describe, expect, it } from 'vitest';
import type { ReleasedStep } from '../../../protocol/index.ts';
import { Coordinator } from '../../../server/coordinator.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, enrollBody, FakeClock, FakeKubernetes, makeInputs } from './support.ts';

const RESULTS = { etcdVoter: true, nodeRegistered: true, apiServerReady: true };

describe('release log lines', () => {
  it('one line per step for a few, one summary line for a wave (each step at debug)', async () => {
    const lines: { level: string; msg?: string; obj: Record<string, unknown> }[] = [];
    const at = (level: string) => (obj: object, msg?: string) =>
      lines.push({ level, obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) });
    const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const plan = makePlan({ workers: 30, workerParallelism: 30 });
    const c = new Coordinator(makeInputs(plan, { clock: new FakeClock() }), {
      store: new MemoryStore(),
      kubernetes: new FakeKubernetes(),
      log,
    });
    await c.start();
    const hosts = plan.spec.hosts.map((h) => h.name);
    for (const [i, host] of hosts.entries()) await c.enroll(enrollBody(createAgent(host, i)), '127.0.0.1');
    const seen = new Set<string>();
    for (let round = 0; round < 30; round++) {
      const steps: ReleasedStep[] = [];
      for (const host of hosts) {
        const step = (await c.next(host, 0))?.step;
        if (step && !seen.has(step.id)) steps.push(step);
      }
      if (steps.length === 0) break;
      for (const step of steps) {
        seen.add(step.id);
        await c.report(step.host, {
          stepId: step.id,
          attempt: step.attempt,
          outcome: 'succeeded',
          logTail: '',
          startedAt: 0,
          results: RESULTS,
        });
      }
    }
    c.stop();
    const joins = [...seen].filter((id) => id.endsWith('/kubeadm-join-worker'));
    expect(joins).toHaveLength(30);
    const wave = lines.filter((l) => l.level === 'info' && l.msg === 'steps released');
    expect(Math.max(...wave.map((l) => Number(l.obj.count)))).toBeGreaterThanOrEqual(30);
    // Every join is named once, at debug; none at info.
    const released = (level: string) => lines.filter((l) => l.level === level && l.msg === 'step released').map((l) => String(l.obj.step));
    expect(released('info').filter((id) => id.endsWith('/kubeadm-join-worker'))).toEqual([]);
    expect(
      released('debug')
        .filter((id) => id.endsWith('/kubeadm-join-worker'))
        .sort(),
    ).toEqual(joins.sort());
    // Small passes keep their line per step at info (kubeadm init, one host).
    expect(released('info')).toContain('cp1/kubeadm-init');
  });
});
