/**
 * Crash safety of `kubeseed serve`: the coordinator runs as a child process on a state directory
 * and is killed with SIGKILL twice mid-rollout; each restart on the same state resumes. The
 * rollout completes, init ran once (attempt 1, lock held by cp1), and no step was handed out
 * again after its success report was acknowledged.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../support/temp-dir.ts';
import { RolloutTracker, simulateFleet } from './agent-sim.ts';
import { freePort, killHard, killLeftovers, prepareStateDir, startServer, waitFor } from './child-server.ts';
import { makePlan } from './fixtures.ts';

const dispatchers: Agent[] = [];
afterAll(async () => {
  await killLeftovers();
  for (const d of dispatchers) await d.close();
});

describe('coordinator restart', () => {
  it('survives SIGKILL mid-rollout and completes without handing out finished steps again', async () => {
    const workers = 15;
    const plan = makePlan({ workers, workerParallelism: 3 });
    const stateDir = tempDir('ks-restart-');
    const { ca } = prepareStateDir(stateDir);
    const port = await freePort();
    let child = await startServer(stateDir, port, workers);
    const dispatcher = new Agent({ connect: { ca }, connections: 64 });
    dispatchers.push(dispatcher);
    const tracker = new RolloutTracker();
    const { agents, run } = simulateFleet(plan.hosts, { port, dispatcher, tracker, deadline: Date.now() + 45_000 });

    await waitFor(() => tracker.acknowledgedDone.size >= 5, 20_000);
    await killHard(child);
    child = await startServer(stateDir, port, workers);
    await waitFor(() => tracker.acknowledgedDone.size >= 12, 20_000);
    await killHard(child);
    child = await startServer(stateDir, port, workers);

    await run;
    expect(tracker.violations).toEqual([]);
    expect(agents.every((a) => a.done)).toBe(true);
    expect(agents.reduce((n, a) => n + a.networkErrors, 0)).toBeGreaterThan(0);
    const init = agents.find((a) => a.identity.host === 'cp1')!.steps.filter((s) => s.startsWith('cp1/kubeadm-init'));
    expect(new Set(init)).toEqual(new Set(['cp1/kubeadm-init@1']));
    const token = readFileSync(join(stateDir, 'operator-token'), 'utf8').trim();
    expect(statSync(join(stateDir, 'operator-token')).mode & 0o777).toBe(0o600);
    const res = await request(`https://127.0.0.1:${port}/v1/status`, { dispatcher, headers: { authorization: `Bearer ${token}` } });
    const status = (await res.body.json()) as { done: boolean; initLock: { holder: string; succeeded: boolean } };
    expect(status.done).toBe(true);
    expect(status.initLock).toMatchObject({ holder: 'cp1', succeeded: true });
    // The audit trail survived both kills: it is records in the journal, read back over the operator API.
    const trail = await request(`https://127.0.0.1:${port}/v1/admin/audit`, { dispatcher, headers: { authorization: `Bearer ${token}` } });
    const { entries } = (await trail.body.json()) as { entries: { host: string; step: string }[] };
    expect(entries.length).toBeGreaterThan(workers);
    expect(entries.filter((e) => e.step === 'cp1/kubeadm-init').length).toBeGreaterThan(0);
    expect(existsSync(join(stateDir, 'audit.log'))).toBe(false);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });
});
