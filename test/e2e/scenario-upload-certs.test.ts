/**
 * Scenario 3 (issue 6): certificate modes. `certificates.distribution: coordinator` is what
 * scenarios 1 and 2 and the fault run use; this file runs `upload-certs` (3 CP + 2 LB + 1 worker)
 * on a scaled clock — the two-hour kubeadm-certs window is 24 s (margin 4 s) in the coordinator
 * (harness entry serve-scaled.mjs) and in the kubeadm TEST DOUBLE — and boots cp3 only after the
 * window of init's upload has closed, so the coordinator must have the certificates re-uploaded on
 * a joined control plane (`kubeadm init phase upload-certs`) before it releases cp3's join.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { analyseRollout, type RolloutFacts } from './harness/checks.ts';
import { E2eCluster, type StepStatus } from './harness/cluster.ts';
import { sleep } from './harness/exec.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { itChecksTheRollout } from './harness/scenario.ts';
import { fleet } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';

const WINDOW_MS = 24_000;

describe.skipIf(skipUnless('e2e', { root: true, commands: E2E_COMMANDS }))(
  'e2e scenario 3: upload-certs with a control-plane join past the (scaled) two-hour window',
  () => {
    let cluster: E2eCluster;
    let facts: RolloutFacts;
    let steps: StepStatus[];
    let initAt = 0;
    let cp3BootAt = 0;

    keepLogsOnFailure();

    beforeAll(async () => {
      cluster = new E2eCluster({
        prefix: `ks-${process.pid}-3-`,
        spec: {
          id: 's3',
          subnet: '10.231.3',
          topology: 'stacked',
          certificates: 'upload-certs',
          packages: 'preinstalled',
          hosts: fleet({ lb: 2, cp: 3, w: 1 }),
        },
        doubleEnv: {
          KUBESEED_DOUBLE_SLEEP_MS: 'kubeadm init=1500,kubeadm join-control-plane=1500,kubeadm join=800',
          KUBESEED_DOUBLE_CERTS_TTL_MS: String(WINDOW_MS),
        },
        uploadCertsWindow: { windowMs: WINDOW_MS, marginMs: 4_000 },
        deferBoot: ['cp3'],
      });
      await cluster.start();
      const init = await cluster.waitForCall('kubeadm init', 180_000, (c) => c.tool === 'kubeadm' && c.argv[0] === 'init' && c.exit === 0);
      initAt = init.ms;
      // cp3 comes up only once init's kubeadm-certs upload has expired.
      await sleep(Math.max(0, initAt + WINDOW_MS + 2_000 - Date.now()));
      cp3BootAt = Date.now();
      await cluster.bootHost('cp3');
      const status = await cluster.waitForRollout(300_000);
      steps = [...status.hosts.flatMap((h) => h.steps), ...status.coordinatorSteps];
      facts = analyseRollout(cluster, status);
    });

    afterAll(async () => {
      expect(await finishCluster(cluster, facts !== undefined)).toEqual([]);
    });

    itChecksTheRollout(() => facts, ['cp2', 'cp3']);

    it('uploaded the certificates again before releasing the late control-plane join', () => {
      const cp3 = steps.find((s) => s.id === 'cp3/kubeadm-join-control-plane')!;
      const reuploads = steps.filter((s) => s.kind === 'upload-certs' && s.state === 'succeeded');
      expect(reuploads.length).toBeGreaterThanOrEqual(1);
      expect(reuploads.some((u) => u.finishedAt! > cp3BootAt && u.finishedAt! <= cp3.releasedAt!)).toBe(true);
      // The kubeadm double ran `init phase upload-certs --upload-certs` after the window of init's upload closed.
      const phase = facts.calls.filter(
        (c) => c.tool === 'kubeadm' && c.argv.slice(0, 3).join(' ') === 'init phase upload-certs' && c.exit === 0,
      );
      expect(phase.some((c) => c.ms > initAt + WINDOW_MS)).toBe(true);
      const cp3Join = facts.controlPlaneJoins.find((j) => j.host === 'cp3' && j.exit === 0)!;
      expect(cp3Join.startMs).toBeGreaterThan(initAt + WINDOW_MS);
    });
  },
);
