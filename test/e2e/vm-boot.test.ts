/**
 * One real boot (issue 6): a worker of a namespace cluster (2 HAProxy+keepalived LB hosts, 1
 * control plane) is a Debian 12 VM under qemu — real kernel, real systemd, real cloud-init 22.4 —
 * booted from its generated NoCloud `seed.iso` (user-data, meta-data, network-config). The
 * user-data downloads the real agent executable from the coordinator (pinned CA, SHA-256),
 * installs its unit, and systemd starts it after cloud-final.service; the agent enrolls, runs its
 * first step, prepare-host (the prepare script cloud-init only wrote), reports it, passes the full
 * preflight (the endpoint through /etc/hosts to the VIP) and runs its released join, whose TEST
 * DOUBLE kubeadm does token discovery through the VIP (HAProxy logs the VM's address). Evidence
 * from three sides: the serial console, the coordinator's status, and the guest's disk read back
 * after a clean ACPI poweroff. Software emulation: about 3 minutes a boot, plus about 3 minutes
 * to build the image once (cached in /var/cache/kubeseed-vm).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DoubleCall, readDoubleLog } from '../../doubles/index.ts';
import { skipUnless } from '../support/requirements.ts';
import { readHaproxyClients } from './harness/checks.ts';
import type { CoordinatorStatus } from './harness/cluster.ts';
import { E2eCluster } from './harness/cluster.ts';
import { waitFor } from './harness/exec.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { fleet, hostIp } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';
import { ensureVmImage, TestVm, VM_COMMANDS } from './harness/vm.ts';

const VM = { name: 'vm1', role: 'worker' as const, octet: 31, mac: '52:54:00:e2:e0:31' };
const UUID = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';

describe.skipIf(skipUnless('e2e', { root: true, commands: [...E2E_COMMANDS, ...VM_COMMANDS] }))(
  'e2e one real boot: a Debian 12 VM (qemu, real systemd and cloud-init) joins as a worker',
  () => {
    let cluster: E2eCluster;
    let vm: TestVm;
    let status: CoordinatorStatus;
    let consoleText = '';
    let poweroff: 'clean' | 'killed';
    let calls: DoubleCall[] = [];

    keepLogsOnFailure();

    beforeAll(async () => {
      await ensureVmImage();
      cluster = new E2eCluster({
        prefix: `ks-${process.pid}-v-`,
        spec: {
          id: 'v1',
          subnet: '10.231.7',
          topology: 'stacked',
          certificates: 'coordinator',
          packages: 'preinstalled',
          hosts: [...fleet({ lb: 2, cp: 1, w: 0 }), VM],
        },
        vmHosts: [VM.name],
      });
      await cluster.start();
      vm = new TestVm(cluster, { name: VM.name, mac: VM.mac, uuid: UUID });
      await vm.boot();
      status = await cluster.waitForRollout(12 * 60_000);
      // The rollout is done when the coordinator has the last report; the agent cleans up after that
      // and says so with its `done` heartbeat, its last act (agent/machine.ts).
      status = await waitFor(`${VM.name}'s done heartbeat`, 60_000, async () => {
        const s = await cluster.status();
        return s?.hosts.find((h) => h.name === VM.name)?.phase === 'done' ? s : null;
      });
      consoleText = vm.console();
      poweroff = await vm.powerOff();
      consoleText = vm.console();
      calls = readDoubleLog(cluster.doubleLog);
      console.info(`[e2e] VM ${VM.name}: rollout done ${vm.secondsSinceBoot} s after power-on; poweroff ${poweroff}`);
    }, 25 * 60_000); // image build (once, ~4 min) + software-emulated boot (~3 min), with headroom for a loaded CI machine

    afterAll(async () => {
      expect(await finishCluster(cluster, status !== undefined)).toEqual([]);
    });

    it('booted a real kernel and systemd; cloud-init took the generated seed.iso as its NoCloud datasource', () => {
      expect(consoleText).toMatch(/systemd\[1\]|Welcome to .*Debian/);
      // cloud-init's final message names the datasource and the seed device.
      expect(consoleText).toMatch(/Cloud-init v\. 22\.\S+ finished .*Datasource DataSourceNoCloud \[seed=\/dev\/vd[b-z]\]/);
      expect(consoleText).not.toMatch(/Traceback|Invalid cloud-config/);
      expect(consoleText).toContain('kubeseed-install-agent: checksum verified');
    });

    it("started the agent's unit after cloud-final.service finished", () => {
      const cloudFinal = consoleText.search(/Finished cloud-final\.service/);
      const agent = consoleText.search(/Started kubeseed-agent\.service/);
      expect(cloudFinal, 'cloud-final finished').toBeGreaterThan(0);
      expect(agent, 'agent unit started').toBeGreaterThan(cloudFinal);
    });

    it('enrolled, prepared the host as its first reported step, passed the full preflight, then joined (serial console)', () => {
      const events = [...consoleText.matchAll(/"event":"([a-z-]+)"/g)].map((m) => m[1]);
      const at = (e: string) => events.indexOf(e);
      const where = (re: RegExp) => consoleText.search(re);
      expect(at('enrolled')).toBeGreaterThanOrEqual(0);
      expect(at('preflight-ok')).toBeGreaterThan(at('enrolled'));
      const prepare = where(/"event":"step-released","stepId":"vm1\/prepare-host"/);
      const join = where(/"event":"step-released","stepId":"vm1\/kubeadm-join-worker"/);
      expect(prepare, 'prepare-host released').toBeGreaterThan(0);
      expect(join, 'join released after prepare-host').toBeGreaterThan(prepare);
      // The package checks ran after preparation (they would wait for containerd before it).
      const packages = where(/"event":"preflight-check","check":"containerd","ok":true/);
      expect(packages).toBeGreaterThan(where(/"event":"step-finished","stepId":"vm1\/prepare-host"/));
      expect(packages).toBeLessThan(join);
      expect(at('host-done')).toBeGreaterThan(at('preflight-ok'));
      expect(consoleText).toMatch(/"event":"preflight-check","check":"endpoint-tcp","ok":true/);
    });

    it('the coordinator saw the same: preparation reported, join released and succeeded, every host done', () => {
      const host = status.hosts.find((h) => h.name === VM.name)!;
      expect(host.done).toBe(true);
      expect(host.steps[0]?.kind, 'the first step').toBe('prepare-host');
      const prepared = host.steps[0]!;
      expect(prepared).toMatchObject({ state: 'succeeded', attempt: 1, lastReport: { outcome: 'succeeded' } });
      // The script's own progress, from the real VM, in the report (not only in cloud-init's log).
      expect(prepared.lastReport?.logTail).toContain('kubeseed-prepare: done');
      const join = host.steps.find((s) => s.kind === 'kubeadm-join-worker')!;
      expect(join.state).toBe('succeeded');
      expect(join.attempt).toBe(1);
      expect(status.hosts.filter((h) => !h.done).map((h) => h.name)).toEqual([]);
    });

    it("the VM's kubeadm join used the config file only and discovered the cluster through the VIP (HAProxy log)", () => {
      const join = calls.find((c) => c.tool === 'kubeadm' && c.argv[0] === 'join' && c.nodeName === VM.name);
      expect(join?.exit).toBe(0);
      expect(join!.argv.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0])).toEqual(['--config']);
      const discovery = calls.find((c) => c.tool === 'kubeadm-api' && c.argv[0] === 'discovery' && c.host === VM.name);
      expect(discovery?.exit).toBe(0);
      const vmIp = hostIp(cluster.spec, VM);
      expect(readHaproxyClients(cluster).get(vmIp)?.length ?? 0).toBeGreaterThan(0);
    });

    it('left the guest clean: credential deleted, kubelet credentials 0600; the agent kept for day 2', () => {
      expect(poweroff).toBe('clean');
      expect(vm.statGuest('/etc/kubeseed/credential').exists).toBe(false);
      // spec.day2.keepAgent defaults to true (ADR 0033): the unit stays enabled and the agent idles with its key.
      expect(JSON.parse(vm.readGuestFile('/etc/kubeseed/agent.json') ?? '{}').keepAgent).toBe(true);
      expect(vm.statGuest('/etc/systemd/system/multi-user.target.wants/kubeseed-agent.service').exists).toBe(true);
      expect(vm.statGuest('/usr/local/bin/kubeseed-agent').exists).toBe(true);
      expect(vm.statGuest('/etc/kubernetes/kubelet.conf').mode).toBe(0o600);
      expect(vm.statGuest('/var/lib/kubeseed/agent-key.pem').mode).toBe(0o600);
      expect(vm.readGuestFile('/etc/machine-id')?.trim()).toMatch(/^[0-9a-f]{32}$/);
    });
  },
);
