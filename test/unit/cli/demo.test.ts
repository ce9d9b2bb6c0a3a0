/**
 * `kubeseed demo --json`: a real coordinator and real agent processes on loopback (TEST DOUBLES of
 * kubeadm & co.). Checks the rollout order the design promises and that nothing is left behind.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';

interface Step {
  host: string;
  kind: string;
  order: number;
  startMs: number;
  endMs: number;
}

describe('kubeseed demo', () => {
  it('rolls out etcd → one init → CNI → control planes one at a time → workers, and cleans up', async () => {
    const before = new Set(readdirSync(tmpdir()).filter((d) => d.startsWith('kubeseed-demo-')));
    let out = '';
    const started = Date.now();
    const code = await main(['demo', '--json', '--workers', '3'], {
      stdout: (s) => {
        out += s;
      },
      stderr: () => {},
      env: {},
      cwd: process.cwd(),
      isTTY: false,
    });
    const result = JSON.parse(out) as { ok: boolean; steps: Step[]; hosts: { name: string; done: boolean }[] };
    expect(code).toBe(0);
    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.hosts.every((h) => h.done)).toBe(true);

    const steps = result.steps;
    const of = (kind: string) => steps.filter((s) => s.kind === kind);
    const [init, ...moreInits] = of('kubeadm-init');
    expect(init).toBeDefined();
    expect(moreInits).toEqual([]);
    for (const e of of('etcd-start')) expect(e.endMs).toBeLessThanOrEqual(init!.startMs);
    const cni = of('cni-apply')[0]!;
    expect(cni.startMs).toBeGreaterThanOrEqual(init!.endMs);
    const cpJoins = of('kubeadm-join-control-plane').sort((a, b) => a.startMs - b.startMs);
    expect(cpJoins.map((s) => s.host)).toEqual(['cp2', 'cp3']);
    expect(cpJoins[1]!.startMs).toBeGreaterThanOrEqual(cpJoins[0]!.endMs);
    for (const j of [...cpJoins, ...of('kubeadm-join-worker')]) expect(j.startMs).toBeGreaterThanOrEqual(cni.endMs);
    const workers = of('kubeadm-join-worker');
    expect(workers).toHaveLength(3);
    // workerParallelism 2: at no instant do three workers join at once.
    for (const w of workers) expect(workers.filter((x) => x.startMs <= w.startMs && x.endMs > w.startMs).length).toBeLessThanOrEqual(2);
    expect(of('verify')[0]!.startMs).toBeGreaterThanOrEqual(Math.max(...workers.map((w) => w.endMs)));

    const after = readdirSync(tmpdir()).filter((d) => d.startsWith('kubeseed-demo-') && !before.has(d));
    expect(after).toEqual([]);
  }, 90_000);
});
