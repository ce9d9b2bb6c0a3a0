/**
 * What the boot listener gives a known PXE machine, checked by the programs that read it
 * (issue 23 items 4/5, ADR 0022):
 * - the static-network kernel arguments, parsed by the real systemd-network-generator (systemd's
 *   parser of dracut's `ip=`/`nameserver=`/`ifname=` syntax): the NIC gets the spec address,
 *   gateway and DNS, and is named by its MAC;
 * - the per-MAC Ignition configs (installed system, Flatcar live installer) pass the real
 *   `ignition-validate` with no output, and the real `ignition` merges the fleet config from the
 *   listener over loopback, checking its SHA-512 (a changed fleet config is refused);
 * - the per-MAC Ubuntu autoinstall passes the real `cloud-init schema`.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PxeFleetContent, routePxeRequest } from '../../../generator/render/pxe-routes.ts';
import type { ClusterSpec, OsFamily } from '../../../generator/spec/types.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeSpec } from '../../unit/render-formats/fixtures.ts';

const NETWORK_GENERATOR = '/usr/lib/systemd/systemd-network-generator';
const IGNITION = '/usr/lib/dracut/modules.d/30ignition/ignition';
const skip = skipUnless('validators', { root: true, commands: ['ignition-validate', 'cloud-init', NETWORK_GENERATOR, IGNITION] });
const M1 = '52-54-00-12-34-56';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const fleetIgnition = JSON.stringify({
  ignition: { version: '3.3.0' },
  storage: { files: [{ path: '/etc/kubeseed/fleet-marker', mode: 0o644, contents: { source: 'data:,fleet%0A' } }] },
});

describe.skipIf(skip)('PXE per-machine content against the real programs', () => {
  let work = '';
  let server: Server;
  let spec: ClusterSpec;
  const fleet: PxeFleetContent = {
    ignition: fleetIgnition,
    userData: '#cloud-config\nwrite_files:\n  - path: /etc/kubeseed/agent.json\n    content: "{}"\n',
  };
  let served = fleetIgnition;

  const pxeSpec = (family: OsFamily): ClusterSpec => {
    const s = makeSpec(family);
    s.fleet.enabled = true;
    s.coordinator.httpListen = spec.coordinator.httpListen;
    s.hosts[0]!.installDisk = '/dev/sda';
    s.hosts[0]!.interface = 'lan0';
    return s;
  };

  beforeAll(async () => {
    work = tempDir('ks-pxe-install-');
    spec = makeSpec('flatcar');
    // The listener on loopback, answering through the same router `kubeseed serve` uses; the
    // spec names its real address so the configs point back at it.
    server = createServer((req, res) => {
      const answer = routePxeRequest(spec, { ...fleet, ignition: served }, req.url ?? '/');
      res.writeHead(answer.status, { 'content-type': answer.contentType });
      res.end(req.url === '/ignition/fleet.ign' ? served : answer.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    spec.coordinator.httpListen = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    spec.fleet.enabled = true;
    spec.hosts[0]!.installDisk = '/dev/sda';
    spec.hosts[0]!.interface = 'lan0';
  });
  afterAll(async () => {
    await new Promise<void>((r) => server?.close(() => r()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it.each(['flatcar', 'fedora-coreos'] as const)(
    '%s: systemd-network-generator reads the kernel arguments as the spec network',
    async (family) => {
      const script = routePxeRequest(pxeSpec(family), fleet, `/ipxe?mac=${M1}`).body;
      const args = script
        .split('\n')
        .find((l) => l.startsWith('kernel '))!
        .split(' ')
        .filter((a) => /^(ip|ifname|nameserver)=/.test(a));
      expect(args.length).toBeGreaterThan(1);
      const root = mkdtempSync(join(work, 'netgen-'));
      const r = await run(NETWORK_GENERATOR, [`--root=${root}`], { ...process.env, SYSTEMD_PROC_CMDLINE: args.join(' ') });
      expect(r.code, r.out).toBe(0);
      const dir = join(root, 'run/systemd/network');
      const files = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
      const network = Object.entries(files).find(([f]) => f.endsWith('.network'))![1];
      expect(network).toMatch(/^Name=lan0$/m);
      expect(network).toMatch(/^DHCP=no$/m);
      expect(network).toMatch(/^Address=10\.101\.1\.101\/24$/m);
      expect(network).toMatch(/^Gateway=10\.101\.1\.1$/m);
      expect(network).toMatch(/^DNS=10\.101\.1\.1$/m);
      const link = Object.entries(files).find(([f]) => f.endsWith('.link'))![1];
      expect(link).toMatch(/^MACAddress=52:54:00:12:34:56$/m);
      expect(link).toMatch(/^Name=lan0$/m);
    },
  );

  it.each([
    ['flatcar installed system', 'flatcar', `/ignition/${M1}.ign`],
    ['flatcar live installer', 'flatcar', `/ignition/${M1}-install.ign`],
    ['fedora-coreos installed system', 'fedora-coreos', `/ignition/${M1}.ign`],
  ] as const)('%s config passes ignition-validate with no output', async (_name, family, path) => {
    const r0 = routePxeRequest(pxeSpec(family), fleet, path);
    expect(r0.status).toBe(200);
    const file = join(work, `${family}-${path.split('/').pop()}`);
    writeFileSync(file, r0.body);
    const r = await run('ignition-validate', [file]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('the real ignition merges the fleet config from the listener (SHA-512 checked) and writes the network files', async () => {
    const apply = async (name: string) => {
      const root = join(work, name, 'root');
      const run_ = join(work, name, 'run');
      // tooling.md §2: passwd copies, SELinux disabled and a setfiles that does nothing.
      mkdirSync(join(root, 'etc/selinux'), { recursive: true });
      mkdirSync(join(run_, 'bin'), { recursive: true });
      for (const f of ['passwd', 'group', 'shadow', 'gshadow']) copyFileSync(`/etc/${f}`, join(root, 'etc', f));
      writeFileSync(join(root, 'etc/selinux/config'), 'SELINUX=disabled\nSELINUXTYPE=targeted\n');
      writeFileSync(join(run_, 'bin/setfiles'), '#!/bin/sh\ncat >/dev/null\n', { mode: 0o755 });
      const cfg = join(work, name, 'config.ign');
      writeFileSync(cfg, routePxeRequest(spec, fleet, `/ignition/${M1}.ign`).body);
      let out = '';
      for (const stage of ['fetch-offline', 'fetch', 'files']) {
        const r = await run(
          IGNITION,
          ['-platform', 'file', '-stage', stage, '-root', root, '-config-cache', join(run_, 'cache.json'), '-log-to-stdout'],
          { ...process.env, IGNITION_CONFIG_FILE: cfg, PATH: `${join(run_, 'bin')}:${process.env.PATH}` },
        );
        out += r.out;
        if (r.code !== 0) return { code: r.code, out, root };
      }
      return { code: 0, out, root };
    };
    served = fleetIgnition;
    const ok = await apply('good');
    expect(ok.code, ok.out).toBe(0);
    expect(readFileSync(join(ok.root, 'etc/kubeseed/fleet-marker'), 'utf8')).toBe('fleet\n');
    expect(readFileSync(join(ok.root, 'etc/systemd/network/10-kubeseed-lan0.network'), 'utf8')).toContain('Address=10.101.1.101/24');
    expect(readFileSync(join(ok.root, 'etc/systemd/network/10-kubeseed-lan0.link'), 'utf8')).toContain('MACAddress=52:54:00:12:34:56');

    // A fleet config changed on the wire (plain HTTP) no longer matches the pinned hash.
    served = fleetIgnition.replace('fleet%0A', 'evil%0A');
    const bad = await apply('tampered');
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/hash|verification|mismatch/i);
    expect(existsSync(join(bad.root, 'etc/kubeseed/fleet-marker'))).toBe(false);
    served = fleetIgnition;
  });

  it('the per-MAC Ubuntu autoinstall is valid cloud-config', async () => {
    const r0 = routePxeRequest(pxeSpec('ubuntu'), fleet, `/nocloud/${M1}/user-data`);
    expect(r0.status).toBe(200);
    const file = join(work, 'autoinstall.yaml');
    writeFileSync(file, r0.body);
    const r = await run('cloud-init', ['schema', '--config-file', file]);
    expect(r.out).toContain('Valid cloud-config');
    expect(r.code).toBe(0);
  });
});
