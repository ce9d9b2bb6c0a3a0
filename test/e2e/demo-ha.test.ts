/**
 * `kubeseed demo --ha --json` as a person runs it (issue 20): the real `etcd` binary on loopback,
 * two `kubeseed serve` replicas (child processes) on it, real agent processes whose user-data names
 * both replicas, the TEST DOUBLES of kubeadm & co. The leader is SIGKILLed once the first
 * control-plane join is released; the standby finishes. Checks the failover record and the
 * rollout's order: one `kubeadm init`, control planes one at a time, workers after the CNI.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const skip = skipUnless('e2e', { commands: ['etcd'] });

interface Step {
  host: string;
  kind: string;
  order: number;
  startMs: number;
  endMs: number;
}

describe.skipIf(skip)('kubeseed demo --ha', () => {
  it('the standby finishes the rollout after the leader is SIGKILLed; --json carries the failover record', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'kubeseed.mjs'), 'demo', '--ha', '--json', '--workers', '2'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), 170_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(kill);
    expect(code, err.slice(-3000)).toBe(0);
    const result = JSON.parse(out) as {
      ok: boolean;
      store: string;
      failover: { killed: string; tookOverBy: string | null; atMs: number; gapMs: number | null; takeoverMs: number | null };
      steps: Step[];
      hosts: { name: string; done: boolean; cleanedUp: boolean }[];
    };
    expect(result.ok).toBe(true);
    expect(result.store).toBe('etcd');
    const { failover } = result;
    expect(failover.killed).toMatch(/\/\d+-[0-9a-f]{4}$/);
    expect(failover.tookOverBy).toMatch(/\/\d+-[0-9a-f]{4}$/);
    expect(failover.tookOverBy).not.toBe(failover.killed);
    expect(failover.gapMs).not.toBeNull();
    // The standby leads once the dead leader's lease (10 s) lapses and it campaigns (every 3.3 s),
    // seen by the demo's status polling: within 15 s, with 5 s of slack for a loaded machine.
    expect(failover.takeoverMs!).toBeGreaterThan(0);
    expect(failover.takeoverMs!).toBeLessThan(20_000);
    // Then the agents, backing off while no replica would answer them, come back to the new leader.
    expect(failover.gapMs!).toBeGreaterThan(0);
    expect(failover.gapMs!).toBeLessThan(60_000);
    console.log(
      `[demo --ha] leader killed at ${failover.atMs} ms; standby led ${failover.takeoverMs} ms later; next step released after ${failover.gapMs} ms`,
    );

    expect(result.hosts.every((h) => h.done && h.cleanedUp)).toBe(true);
    const of = (kind: string) => result.steps.filter((s) => s.kind === kind);
    expect(of('kubeadm-init')).toHaveLength(1);
    const joins = of('kubeadm-join-control-plane').sort((a, b) => a.startMs - b.startMs);
    expect(joins.map((s) => s.host)).toEqual(['cp2', 'cp3']);
    expect(joins[1]!.startMs).toBeGreaterThanOrEqual(joins[0]!.endMs);
    for (const w of of('kubeadm-join-worker')) expect(w.startMs).toBeGreaterThanOrEqual(of('cni-apply')[0]!.endMs);
  }, 180_000);
});
