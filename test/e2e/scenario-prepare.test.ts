/**
 * Scenario 6 (issue 25): host preparation the operator can see and retry, on real parts. The local
 * signed apt mirror (harness/apt-repo.ts, the real apt-get in each overlay) is DOWN when the hosts
 * boot: the real cloud-init only installs the agent, whose prepare-host step fails, classified
 * `repository-unreachable` with the tool output in the report; `kubeseed status` says so. The mirror
 * comes back serving a WRONG repository key: `kubeseed retry w1` re-runs the preparation on the
 * running machine and it fails `key-mismatch` (apt's NO_PUBKEY). The key is fixed on the mirror:
 * `kubeseed retry` on both hosts, they prepare, join and are done — cloud-init ran once, the agent
 * process was never restarted: no re-provisioning. 2 LB (prepared without the mirror: their packages
 * are in the image) + 1 CP + 1 worker; the coordinator retries a transient failure once, 300 ms later.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { type AptRepo, buildAptRepo, debianDebsDir, debianMirrorSource } from './harness/apt-repo.ts';
import { type CoordinatorStatus, DOUBLES_BIN, E2eCluster } from './harness/cluster.ts';
import { run, waitFor } from './harness/exec.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { fleet } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';

const PORT = 8080;
const MIRROR = `http://10.231.6.6:${PORT}`;
const KEYRING = '/etc/apt/keyrings/site-debian-mirror.asc';

describe.skipIf(skipUnless('e2e', { root: true, commands: [...E2E_COMMANDS, 'gpg', 'dpkg-deb', 'apt-get', 'python3', debianDebsDir()] }))(
  'e2e scenario 6: a failed host preparation is reported, classified and retried',
  () => {
    let cluster: E2eCluster;
    let repo: AptRepo;
    let done: CoordinatorStatus | undefined;
    const seen: Record<string, { status?: CoordinatorStatus; cli?: string }> = {};

    keepLogsOnFailure();

    const prepareOf = (s: CoordinatorStatus, host: string) =>
      s.hosts.find((h) => h.name === host)?.steps.find((x) => x.kind === 'prepare-host');
    const failedWith = (host: string, reason: string) => async () => {
      const s = await cluster.status();
      const step = s && prepareOf(s, host);
      return s && step?.state === 'failed' && step.lastReport?.reason === reason ? s : null;
    };

    beforeAll(async () => {
      cluster = new E2eCluster({
        prefix: `ks-${process.pid}-6-`,
        spec: {
          id: 's6',
          subnet: '10.231.6',
          topology: 'stacked',
          certificates: 'coordinator',
          packages: 'install',
          hosts: fleet({ lb: 2, cp: 1, w: 1 }),
          extra: [
            'mirrors:',
            `  kubernetesApt: ${MIRROR}/k8s/`,
            `  kubernetesAptKey: ${MIRROR}/k8s/Release.key`,
            `  containerd: ${MIRROR}/docker/{distro}`,
            `  containerdKey: ${MIRROR}/docker/{distro}/gpg`,
          ],
        },
        doubleEnv: { KUBESEED_DOUBLE_SLEEP_MS: 'kubeadm init=500,kubeadm join=300' },
        mirror: { dir: '', port: PORT },
        mirrorDown: true,
        scheduler: { maxAttempts: 2, backoffBaseMs: 300 },
        // An air-gapped site's image: its only Debian source is the site's mirror.
        prepareImage: async (host) => {
          await host.exec(['sh', '-c', 'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*']);
          host.writeFile(KEYRING, repo.key);
          host.writeFile('/etc/apt/sources.list.d/site-debian-mirror.list', debianMirrorSource(MIRROR, KEYRING));
        },
      });
      repo = await buildAptRepo({
        dir: join(cluster.workDir, 'mirror'),
        doublesBin: DOUBLES_BIN,
        kubernetesVersions: ['1.37.1-1.1'],
        criToolsVersions: ['1.37.0-1.1'],
        cniVersion: '1.7.1-1.1',
        containerdVersions: ['2.1.4-1'],
      });
      cluster.options.mirror = { dir: repo.dir, port: PORT };
      await cluster.start();

      // 1. Mirror down at first boot.
      seen.unreachable = {
        status: await waitFor('w1 prepare failed: repository-unreachable', 120_000, failedWith('w1', 'repository-unreachable'), 300),
      };
      await waitFor('cp1 prepare failed', 60_000, failedWith('cp1', 'repository-unreachable'), 300);
      seen.unreachable.cli = (await cluster.kubeseed(['status'])).stdout;

      // 2. The mirror comes back with a wrong Kubernetes repository key; the operator retries w1.
      const good = join(repo.dir, 'k8s', 'Release.key');
      copyFileSync(good, join(cluster.workDir, 'good-release.key'));
      const other = join(cluster.workDir, 'other-gnupg');
      await run('sh', [
        '-c',
        `mkdir -m 700 -p ${other} && GNUPGHOME=${other} gpg --batch --passphrase '' --quick-gen-key 'not the mirror <x@example.invalid>' ed25519 sign never 2>/dev/null && GNUPGHOME=${other} gpg --armor --export > ${good}`,
      ]);
      await cluster.startMirror({ dir: repo.dir, port: PORT });
      const retried = await cluster.kubeseed(['retry', 'w1']);
      expect(retried.code, retried.stderr).toBe(0);
      seen.keyMismatch = { status: await waitFor('w1 prepare failed: key-mismatch', 120_000, failedWith('w1', 'key-mismatch'), 300) };
      seen.keyMismatch.cli = (await cluster.kubeseed(['hosts'])).stdout;

      // 3. The key is fixed on the mirror; the operator retries both hosts.
      copyFileSync(join(cluster.workDir, 'good-release.key'), good);
      for (const host of ['cp1', 'w1']) expect((await cluster.kubeseed(['retry', host])).code).toBe(0);
      done = await cluster.waitForRollout(240_000);
      writeFileSync(join(cluster.workDir, 'logs', 'final-status.json'), JSON.stringify(done, null, 2));
    }, 600_000);

    afterAll(async () => {
      expect(await finishCluster(cluster, done !== undefined)).toEqual([]);
    });

    it('a mirror down at boot: prepare failed: repository-unreachable, with the tool output, in status', () => {
      const s = seen.unreachable!.status!;
      const w1 = s.hosts.find((h) => h.name === 'w1')!;
      expect(w1).toMatchObject({ failed: true, failure: 'prepare failed: repository-unreachable' });
      const tail = prepareOf(s, 'w1')!.lastReport!.logTail!;
      expect(tail).toMatch(/Failed to connect to 10\.231\.6\.6 port 8080|Could not connect to 10\.231\.6\.6:8080/);
      expect(tail).toMatch(/failed: repository-unreachable: /);
      // Transient: retried automatically (maxAttempts 2) before it stopped.
      expect(prepareOf(s, 'w1')!.attempt).toBe(2);
      expect(seen.unreachable!.cli).toMatch(/w1 .*failed\s+prepare failed: repository-unreachable — fix, then `kubeseed retry w1`/);
      expect(seen.unreachable!.cli).toMatch(/w1 log: failed: repository-unreachable: /);
      // No package check blocked the step: the load balancers prepared without the mirror (nothing to fetch).
      for (const lb of ['lb1', 'lb2']) expect(prepareOf(s, lb)?.state, lb).toBe('succeeded');
    });

    it("a wrong repository key: prepare failed: key-mismatch with apt's NO_PUBKEY, not retried automatically", () => {
      const s = seen.keyMismatch!.status!;
      const step = prepareOf(s, 'w1')!;
      expect(s.hosts.find((h) => h.name === 'w1')?.failure).toBe('prepare failed: key-mismatch');
      expect(step.lastReport!.logTail).toMatch(/NO_PUBKEY/);
      expect(step.attempt).toBe(3); // the two of step 1, then one: permanent
      expect(seen.keyMismatch!.cli).toMatch(/w1\s+worker\s+failed\s+prepare failed: key-mismatch/);
    });

    it('after the fix and kubeseed retry, the hosts prepare, join and are done — without re-provisioning', () => {
      expect(done!.done).toBe(true);
      for (const name of ['cp1', 'w1']) {
        const h = cluster.get(name);
        expect(prepareOf(done!, name)?.state, name).toBe('succeeded');
        expect(h.agent?.starts, `${name}: the agent process was never restarted`).toBe(1);
      }
      expect(done!.hosts.every((h) => h.done)).toBe(true);
    });
  },
);
