/**
 * The coordinator killed with SIGKILL at random instants during simulated rollouts, both
 * topologies. Every trial completes after restarts; init runs once (one attempt); no step is handed
 * out again after its success was acknowledged; a re-delivered attempt carries exactly the same
 * files (no secret minted twice with different values). KUBESEED_KILL_TRIALS sets trials per topology.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { RolloutTracker, SimAgent } from '../unit/server/agent-sim.ts';
import { freePort, killHard, killLeftovers, prepareStateDir, startServer } from '../unit/server/child-server.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { createAgent } from '../unit/server/support.ts';

const TRIALS = Number(process.env.KUBESEED_KILL_TRIALS ?? 8);
const WORKERS = 12;

afterAll(killLeftovers);

describe.each(['stacked', 'external-etcd'] as const)('SIGKILL at random instants: %s', (topology) => {
  it(`${TRIALS} trials complete with the rollout invariants intact`, async () => {
    let survived = 0;
    let kills = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const plan = makePlan({ topology, workers: WORKERS, workerParallelism: 3 });
      const stateDir = mkdtempSync(join(tmpdir(), `ks-kill-${topology}-`));
      const { ca } = prepareStateDir(stateDir);
      const port = await freePort();
      let child = await startServer(stateDir, port, WORKERS, topology);
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
      // Two kills at random instants (while the rollout still runs).
      for (let k = 0; k < 2 && !finished; k++) {
        await new Promise((r) => setTimeout(r, 30 + Math.random() * 700));
        if (finished) break;
        await killHard(child);
        kills++;
        child = await startServer(stateDir, port, WORKERS, topology);
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
    console.log(`[server-kill] ${topology}: ${survived}/${TRIALS} trials survived, ${kills} SIGKILLs`);
    expect(survived).toBe(TRIALS);
  });
});
