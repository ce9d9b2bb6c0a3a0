/**
 * The coordinator killed with SIGKILL at random instants during simulated rollouts, both
 * topologies. Every trial completes after restarts; init runs once (one attempt); no step is handed
 * out again after its success was acknowledged; a re-delivered attempt carries exactly the same
 * files (no secret minted twice with different values). 20 hosts per rollout; trials run until
 * KUBESEED_KILLS (default 50) SIGKILLs landed per topology, up to 3 per trial.
 */
import { Agent } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp-dir.ts';
import { RolloutTracker, SimAgent } from '../unit/server/agent-sim.ts';
import { freePort, killHard, killLeftovers, prepareStateDir, startServer } from '../unit/server/child-server.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { createAgent } from '../unit/server/support.ts';

const KILLS = Number(process.env.KUBESEED_KILLS ?? 50);
const KILLS_PER_TRIAL = 3;
/** 20 hosts: stacked 2 LB + 3 CP + 15 workers; external 2 LB + 3 etcd + 3 CP + 12 workers. */
const WORKERS = { stacked: 15, 'external-etcd': 12 } as const;

afterAll(killLeftovers);

describe.each(['stacked', 'external-etcd'] as const)('SIGKILL at random instants: %s', (topology) => {
  it(`${KILLS} SIGKILLs at random instants: every trial completes with the rollout invariants intact`, async () => {
    let survived = 0;
    let kills = 0;
    let trial = 0;
    for (; kills < KILLS; trial++) {
      const plan = makePlan({ topology, workers: WORKERS[topology], workerParallelism: 3 });
      expect(plan.hosts.length).toBe(20);
      const stateDir = tempDir(`ks-kill-${topology}-`);
      const { ca } = prepareStateDir(stateDir);
      const port = await freePort();
      let child = await startServer(stateDir, port, WORKERS[topology], topology);
      const dispatcher = new Agent({ connect: { ca }, connections: 64 });
      const tracker = new RolloutTracker();
      const agents = plan.hosts.map(
        (h, i) =>
          new SimAgent(createAgent(h.name, i), {
            baseUrl: () => `https://127.0.0.1:${port}`,
            dispatcher,
            tracker,
            deadline: Date.now() + 60_000,
            waitMs: 2000,
            workMs: () => 15 + Math.random() * 40,
          }),
      );
      let finished = false;
      const run = Promise.all(agents.map((a) => a.run())).finally(() => {
        finished = true;
      });
      run.catch(() => {});
      // Up to three kills at random instants (while the rollout still runs).
      for (let k = 0; k < KILLS_PER_TRIAL && !finished && kills < KILLS; k++) {
        await new Promise((r) => setTimeout(r, 30 + Math.random() * 500));
        if (finished) break;
        await killHard(child);
        kills++;
        child = await startServer(stateDir, port, WORKERS[topology], topology);
      }
      await run;
      expect(tracker.violations, `trial ${trial}`).toEqual([]);
      expect(agents.every((a) => a.done)).toBe(true);
      const init = agents.find((a) => a.identity.host === 'cp1')!.steps.filter((s) => s.startsWith('cp1/kubeadm-init'));
      expect(new Set(init)).toEqual(new Set(['cp1/kubeadm-init@1']));
      expect(tracker.maxControlPlaneJoins).toBeLessThanOrEqual(1);
      await killHard(child);
      await dispatcher.close();
      survived++;
    }
    console.log(`[reliability] trials survived (${topology}): ${survived}/${trial}, ${kills} SIGKILLs of a 20-host rollout`);
    expect(survived).toBe(trial);
    expect(kills).toBeGreaterThanOrEqual(KILLS);
  });
});
