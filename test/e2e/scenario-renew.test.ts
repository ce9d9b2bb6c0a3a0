/**
 * Day 2 without SSH (issue 22): after a rollout with real external etcd (Debian's etcd 3.4, binary
 * mode, 3 members; 2 control planes, 2 load balancers), the operator stops serve, runs the real
 * `kubeseed renew`, and starts serve again; the idle agents (spec.day2.keepAgent) renew the members
 * one at a time, then each control plane — while a client inside a control plane's namespace writes
 * a key every 75 ms through all three members' endpoints. The harness really restarts etcd when the
 * systemctl TEST DOUBLE is asked to (SIGTERM, new process, then systemctl returns).
 *
 * Checks: every coordinator-held leaf has a new serial; each member's etcd process changed once,
 * inside its own step, the steps never overlapping; each member presents its new server and peer
 * certificates; the control-plane steps ran after every member, one at a time; the longest run of
 * failed writes is shorter than one member's restart; every acknowledged write is readable.
 */

import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { killPid, registerCleanup } from './harness/cleanup.ts';
import { type CoordinatorStatus, E2eCluster, REPO, type StepStatus } from './harness/cluster.ts';
import { createEtcdClient, type EtcdClient, etcdEndpoints, linkDebianEtcd } from './harness/etcd.ts';
import { run, sleep, spawnLogged, waitFor } from './harness/exec.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { DEBIAN_ETCD, fleet, hostIp } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';

const MEMBERS = ['etcd1', 'etcd2', 'etcd3'];
const WRITER = join(REPO, 'test/e2e/harness/etcd-writer.mjs');

interface WriteRecord {
  seq: number;
  key: string;
  start: number;
  end: number;
  ok: boolean;
  endpoint?: string;
  error?: string;
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

describe.skipIf(skipUnless('e2e', { root: true, commands: E2E_COMMANDS }))(
  'e2e: kubeseed renew on real external etcd while a client writes (issue 22)',
  () => {
    let cluster: E2eCluster;
    let ready = false;
    let client: EtcdClient;
    let renewOut: { renewed: string[] };
    const before = new Map<string, string>();
    const after = new Map<string, string>();
    const served = new Map<string, string>();
    let day2: StepStatus[] = [];
    let writes: WriteRecord[] = [];
    let readable = new Set<string>();
    const timings: Record<string, number> = {};

    keepLogsOnFailure();

    /** `node etcd-writer.mjs MODE …` inside cp1's network namespace (never from the machine's own). */
    const inNamespace = (mode: string, extra: string[]) => [
      'netns',
      'exec',
      cluster.get('cp1').host.netns,
      process.execPath,
      WRITER,
      mode,
      '--ca',
      client.ca,
      '--cert',
      client.cert,
      '--key',
      client.key,
      ...extra,
    ];
    const leafFiles = () => [
      'pki/apiserver-etcd-client.crt',
      'tls/server.crt',
      ...MEMBERS.flatMap((m) => [`pki/etcd/members/${m}/server.crt`, `pki/etcd/members/${m}/peer.crt`]),
    ];
    const readSerials = (into: Map<string, string>) => {
      for (const f of [...leafFiles(), 'pki/etcd/ca.crt', 'tls/ca.crt'])
        into.set(f, serialOf(readFileSync(join(cluster.stateDir, f), 'utf8')));
    };

    beforeAll(async () => {
      const began = Date.now();
      cluster = new E2eCluster({
        prefix: `ks-${process.pid}-r-`,
        spec: {
          id: 'rn',
          subnet: '10.231.11',
          topology: 'external-etcd',
          certificates: 'coordinator',
          packages: 'preinstalled',
          hosts: fleet({ lb: 2, etcd: 3, cp: 2, w: 0 }),
          extra: DEBIAN_ETCD,
        },
        doubleEnv: { KUBESEED_DOUBLE_SLEEP_MS: 'kubeadm init=1000,kubeadm join-control-plane=1000' },
        prepareImage: linkDebianEtcd,
      });
      await cluster.start();
      await cluster.waitForRollout(300_000);
      timings.rolloutMs = Date.now() - began;
      client = await createEtcdClient(cluster);
      readSerials(before);

      // The writer: bounded in count (6000) and time (10 min); stopped by a file once the members are done.
      const out = join(cluster.workDir, 'writes.jsonl');
      const stop = join(cluster.workDir, 'writes.stop');
      writeFileSync(out, '');
      const writer = spawnLogged(
        'ip',
        inNamespace('write', [
          '--endpoints',
          etcdEndpoints(cluster).join(','),
          '--prefix',
          'renew/w',
          '--out',
          out,
          '--stop',
          stop,
          '--interval-ms',
          '75',
          '--max-writes',
          '6000',
          '--max-ms',
          '600000',
        ]),
        join(cluster.workDir, 'logs', 'etcd-writer.log'),
      );
      registerCleanup('etcd writer', () => killPid(writer.pid));
      const readWrites = () =>
        readFileSync(out, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as WriteRecord);
      await waitFor(
        'the writer to succeed 20 times',
        30_000,
        async () => (readWrites().filter((w) => w.ok).length >= 20 ? true : null),
        200,
      );

      // The operator: stop serve, renew with the real CLI, start serve again.
      const renewStarted = Date.now();
      cluster.coordinator?.kill('SIGTERM');
      await Promise.race([cluster.coordinator?.exited, sleep(15_000)]);
      const renew = await cluster.kubeseed(['renew', '-o', 'json']);
      expect(renew.code, renew.stderr).toBe(0);
      renewOut = JSON.parse(renew.stdout);
      readSerials(after);
      await cluster.startCoordinator();
      timings.serveDownMs = Date.now() - renewStarted;

      const isDay2 = (s: StepStatus) => s.kind === 'etcd-cert-renew' || s.kind === 'control-plane-cert-renew';
      let writerStopped = false;
      const status = await waitFor(
        'the renewal steps to succeed',
        600_000,
        async () => {
          const s: CoordinatorStatus | null = await cluster.status();
          const steps = s?.hosts.flatMap((h) => h.steps).filter(isDay2) ?? [];
          const failed = steps.find((x) => x.state === 'failed' || x.failures > 0);
          if (failed) throw new Error(`${failed.id} failed: ${JSON.stringify(failed.lastReport)}`);
          const members = steps.filter((x) => x.kind === 'etcd-cert-renew');
          if (!writerStopped && members.length === 3 && members.every((x) => x.state === 'succeeded')) {
            await sleep(2_000);
            writeFileSync(stop, '');
            writerStopped = true;
          }
          return steps.length === 5 && steps.every((x) => x.state === 'succeeded') ? s : null;
        },
        1_000,
      );
      day2 = status.hosts.flatMap((h) => h.steps).filter(isDay2);
      timings.renewalMs = Date.now() - renewStarted;
      writeFileSync(stop, '');
      await Promise.race([writer.exited, sleep(10_000)]);
      writes = readWrites();

      const keys = await run('ip', inNamespace('keys', ['--endpoints', etcdEndpoints(cluster).join(','), '--prefix', 'renew/w']), {
        timeoutMs: 30_000,
      });
      readable = new Set(JSON.parse(keys.stdout) as string[]);
      for (const m of MEMBERS) {
        const ip = hostIp(cluster.spec, cluster.get(m).spec);
        for (const port of [2379, 2380]) {
          const r = await run('ip', inNamespace('served', ['--endpoint', `${ip}:${port}`]), { timeoutMs: 20_000 });
          served.set(`${m}:${port}`, r.stdout.trim());
        }
      }
      console.info(`[e2e] renew timings ms: ${JSON.stringify(timings)}`);
      ready = true;
    }, 1_200_000);

    afterAll(async () => {
      expect(await finishCluster(cluster, ready)).toEqual([]);
    });

    it('kubeseed renew re-issued every coordinator-held leaf from the same CAs', () => {
      expect(renewOut.renewed).toEqual(['pki/apiserver-etcd-client', ...MEMBERS.map((m) => `pki/etcd/members/${m}`), 'tls/server']);
      for (const f of leafFiles()) expect(after.get(f), f).not.toBe(before.get(f));
      for (const ca of ['pki/etcd/ca.crt', 'tls/ca.crt']) expect(after.get(ca), ca).toBe(before.get(ca));
    });

    it('restarted the etcd members one at a time, each inside its own step', () => {
      const steps = day2.filter((s) => s.kind === 'etcd-cert-renew').sort((a, b) => a.releasedAt! - b.releasedAt!);
      expect(steps.map((s) => s.host).sort()).toEqual(MEMBERS);
      for (const [i, s] of steps.entries()) {
        const starts = cluster.get(s.host).unitStarts.filter((u) => u.unit === 'etcd');
        expect(starts, s.host).toHaveLength(2);
        expect(starts[0]!.pid, s.host).not.toBeNull();
        expect(starts[1]!.pid, s.host).not.toBe(starts[0]!.pid);
        // The harness stopped and started it while this member's step ran (server clock and harness clock are one machine's).
        expect(starts[1]!.stoppingAt!, s.host).toBeGreaterThanOrEqual(s.releasedAt!);
        expect(starts[1]!.at, s.host).toBeLessThanOrEqual(s.finishedAt!);
        if (i > 0) expect(s.releasedAt!, `${s.host} after ${steps[i - 1]!.host}`).toBeGreaterThanOrEqual(steps[i - 1]!.finishedAt!);
      }
    });

    it('each member presents its renewed server (2379) and peer (2380) certificate', () => {
      for (const m of MEMBERS) {
        expect(served.get(`${m}:2379`), m).toBe(after.get(`pki/etcd/members/${m}/server.crt`));
        expect(served.get(`${m}:2380`), m).toBe(after.get(`pki/etcd/members/${m}/peer.crt`));
      }
    });

    it('renewed the control planes after every member, one at a time', () => {
      const members = day2.filter((s) => s.kind === 'etcd-cert-renew');
      const cps = day2.filter((s) => s.kind === 'control-plane-cert-renew').sort((a, b) => a.releasedAt! - b.releasedAt!);
      expect(cps.map((s) => s.host)).toEqual(expect.arrayContaining(['cp1', 'cp2']));
      const lastMember = Math.max(...members.map((s) => s.finishedAt!));
      for (const [i, s] of cps.entries()) {
        expect(s.releasedAt!, s.host).toBeGreaterThanOrEqual(lastMember);
        if (i > 0) expect(s.releasedAt!, s.host).toBeGreaterThanOrEqual(cps[i - 1]!.finishedAt!);
      }
    });

    it('no write failed for longer than one member restart, and every acknowledged write is readable', () => {
      const members = day2.filter((s) => s.kind === 'etcd-cert-renew');
      // One member's restart: from the harness's SIGTERM to the step seeing it healthy with quorum.
      const restarts = members.map((s) => s.finishedAt! - cluster.get(s.host).unitStarts.find((u) => u.stoppingAt)!.stoppingAt!);
      let longest = 0;
      let runStart: number | null = null;
      for (const w of writes) {
        if (!w.ok) runStart ??= w.start;
        else runStart = null;
        if (runStart !== null) longest = Math.max(longest, w.end - runStart);
      }
      const failed = writes.filter((w) => !w.ok);
      const failedOver = writes.filter((w) => w.ok && w.error);
      console.info(
        `[e2e] writes: ${writes.length} (${failed.length} failed, ${failedOver.length} through another endpoint), longest failed run ${longest} ms; member restarts ms: ${restarts.join(', ')}`,
      );
      // The writer ran across every member's restart.
      expect(writes[0]!.start).toBeLessThan(Math.min(...members.map((s) => s.releasedAt!)));
      expect(writes.at(-1)!.end).toBeGreaterThan(Math.max(...members.map((s) => s.finishedAt!)));
      expect(writes.filter((w) => w.ok).length).toBeGreaterThan(100);
      // The writer did meet a restarting member (an endpoint failed under it) and went on through another.
      const firstRelease = Math.min(...members.map((s) => s.releasedAt!));
      expect(writes.filter((w) => w.error && w.start >= firstRelease).length).toBeGreaterThan(0);
      expect(longest).toBeLessThanOrEqual(Math.max(...restarts));
      const lost = writes.filter((w) => w.ok && !readable.has(w.key)).map((w) => w.key);
      expect(lost).toEqual([]);
    });
  },
);
