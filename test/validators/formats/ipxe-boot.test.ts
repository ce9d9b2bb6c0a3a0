/**
 * The boot route per host state, run by the real iPXE (qemu's virtio-net option ROM, Debian's
 * ipxe-qemu) against the real boot listener (`startBootListener`) on loopback: qemu's user
 * network answers the guest's DHCP with `boot.ipxe` as the boot file and forwards the guest's
 * 10.0.2.2 to the host's 127.0.0.1 (no other network). Per state (ADR 0022, docs/pxe.md):
 * - a MAC the spec does not name: the refusal runs, `exit 1` fails the chain and boot.ipxe retries;
 * - a spec host not installed: iPXE fetches its installer's kernel from `/assets/…`;
 * - a spec host the store knows as installed: `exit 0` ends boot.ipxe and the firmware goes on to
 *   its disk ("Booting from Hard Disk"), with no kernel fetched.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { startBootListener } from '../../../server/boot-listener.ts';
import { loadCoordinatorState } from '../../../server/load-state.ts';
import type { HostRecord } from '../../../server/model.ts';
import { isPxeInstalled } from '../../../server/pxe-state.ts';
import { ROOT } from '../../support/fixtures.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

const ROM = '/usr/lib/ipxe/qemu/efi-virtio.rom';
const skip =
  skipUnless('validators', { commands: ['qemu-system-x86_64'] }) ||
  (!existsSync(ROM) && skipUnless('validators', { commands: [`${ROM} (Debian package ipxe-qemu)`] }));

/** A free loopback port: the scripts name it, so it is chosen before the listener starts. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Boots qemu's iPXE with `mac` until the console shows `until` (or 90 s), then stops it by its pid. */
function bootIpxe(port: number, mac: string, until: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const args = ['-machine', 'pc', '-accel', 'tcg', '-m', '256', '-nographic', '-no-reboot', '-boot', 'n'];
    args.push('-nic', `user,model=virtio-net-pci,mac=${mac},bootfile=http://10.0.2.2:${port}/boot.ipxe`);
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const stop = () => {
      clearTimeout(timer);
      qemu.kill('SIGKILL');
    };
    const timer = setTimeout(stop, 90_000);
    const onData = (d: Buffer) => {
      // Escape sequences go; the console wraps at 80 columns, so lines are joined before matching.
      out += d.toString('latin1').replace(/\x1b\[[0-9;?]*[A-Za-z]|[\r\n]/g, '');
      if (until.test(out)) stop();
    };
    qemu.stdout.on('data', onData);
    qemu.stderr.on('data', onData);
    qemu.on('close', () => resolve(out));
  });
}

describe.skipIf(skip)('the real iPXE against the boot listener, per host state', () => {
  const work = tempDir('ks-ipxe-');
  const hosts: Record<string, HostRecord> = {};
  let listener: { close(): Promise<void> } | undefined;
  let port = 0;

  beforeAll(async () => {
    const silent = { stdout: () => {}, stderr: () => {}, env: {}, cwd: work, isTTY: false };
    writeFileSync(join(work, 'fleet.yaml'), readFileSync(join(ROOT, 'examples/fleet-pxe.yaml')));
    expect(await main(['generate', join(work, 'fleet.yaml'), '--out', join(work, 'out')], silent)).toBe(0);
    const state = join(work, 'out/coordinator');
    const { spec } = (await loadCoordinatorState(state, {})).plan;
    // The guest reaches the host's loopback as 10.0.2.2: the scripts must name that address.
    port = await freePort();
    spec.coordinator.url = 'https://10.0.2.2:9443';
    spec.coordinator.httpListen = `0.0.0.0:${port}`;
    listener = await startBootListener(spec, state, `127.0.0.1:${port}`, {
      installed: (mac, host) => isPxeInstalled(hosts, mac, host),
    });
  }, 60_000);
  afterAll(async () => {
    await listener?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('a MAC the spec does not name: nothing is booted, boot.ipxe retries', async () => {
    const out = await bootIpxe(port, '52:54:00:00:00:99', /retrying in 10 s/);
    expect(out).toContain('MAC 52:54:00:00:00:99 is not in the cluster spec');
    expect(out).toContain('retrying in 10 s');
    expect(out).not.toMatch(/assets\//);
    expect(out).not.toContain('Booting from Hard Disk');
  }, 120_000);

  it('a spec host not installed: its installer kernel is fetched', async () => {
    const out = await bootIpxe(port, '3c:ec:ef:00:01:01', /retrying in 10 s/);
    expect(out).toMatch(/http:\/\/10\.0\.2\.2:\d+\/assets\/ubuntu\/vmlinuz/);
    expect(out).not.toContain('Booting from Hard Disk');
  }, 120_000);

  it('a spec host the store knows as installed: the firmware boots its disk, no kernel is fetched', async () => {
    hosts.m1 = {
      name: 'm1',
      role: 'control-plane',
      credentialSpent: true,
      rebindAllowed: false,
      removed: false,
      awaitingApproval: false,
      enrollment: {
        publicKey: 'k',
        machineId: 'm',
        smbiosUuid: '',
        macs: ['3c:ec:ef:00:01:01'],
        hostname: 'm1',
        arch: 'amd64',
        os: 'ubuntu',
        agentVersion: '0',
        at: 0,
        sourceAddress: '10.106.1.101',
      },
    };
    const out = await bootIpxe(port, '3c:ec:ef:00:01:01', /Booting from Hard Disk|retrying in 10 s/);
    expect(out).toContain('MAC 3c:ec:ef:00:01:01 is installed');
    expect(out).toContain('Booting from Hard Disk');
    expect(out).not.toMatch(/assets\//);
    expect(out).not.toContain('retrying in 10 s');
  }, 120_000);
});
