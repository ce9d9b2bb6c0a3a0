/**
 * What the plain-HTTP listener gives one PXE machine it knows by MAC (docs/pxe.md, ADR 0022):
 * - its static network as kernel arguments (`ifname=`, `ip=`, `nameserver=` in dracut.cmdline(7)
 *   syntax, which Fedora CoreOS's initrd reads and coreos-installer forwards to the installed
 *   system's first boot), so the live or installer environment already has the spec address;
 * - the installed system's Ignition config: the fleet config merged (`ignition.config.merge`,
 *   hash-pinned) plus the host's networkd/NetworkManager files, so the address stays after the
 *   install (Fedora CoreOS: `coreos.inst.ignition_url`; Flatcar: `flatcar-install -i`);
 * - for Flatcar, the live environment's Ignition config, which runs `flatcar-install` to the
 *   install disk and reboots (Flatcar's PXE image only ever runs from RAM by itself);
 * - once the coordinator knows the machine is installed, a script that hands the boot back to the
 *   firmware (`exit`), which then boots the disk.
 * Nothing here is a credential (ADR 0012): addresses and disk names only. The host's name is left
 * out (anyone on the network may ask for any MAC).
 *
 * Runtime contract: pure.
 */
import { createHash } from 'node:crypto';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { IGNITION_SPEC_VERSION, ignitionProxy } from './ignition.ts';
import { encodeIgnitionContents } from './ignition-encoding.ts';
import { renderIgnitionNetworkFiles } from './ignition-network.ts';
import { checkIpxeToken, checkNormalisedMac, pxeMachineName } from './pxe.ts';

function sha512(text: string): string {
  return `sha512-${createHash('sha512').update(text).digest('hex')}`;
}

/**
 * The installed system's Ignition config for a known host: the fleet config, merged from the
 * listener and pinned by its SHA-512, plus the host's static network files (the same files a
 * per-host Ignition config carries).
 */
export function renderHostTargetIgnition(spec: ClusterSpec, host: HostSpec, fleetUrl: string, fleetIgnition: string): string {
  const proxy = ignitionProxy(spec);
  // The files' comments name the machine by its MAC: the host's name is not served (see above).
  const anonymous = { ...host, name: host.mac ? pxeMachineName(host.mac) : 'machine' };
  const files = renderIgnitionNetworkFiles(anonymous, spec.os.family).map((f) => ({
    path: f.path,
    mode: f.mode,
    overwrite: true,
    contents: encodeIgnitionContents(f.content),
  }));
  return JSON.stringify({
    ignition: {
      version: IGNITION_SPEC_VERSION,
      config: { merge: [{ source: fleetUrl, verification: { hash: sha512(fleetIgnition) } }] },
      ...(proxy ? { proxy } : {}),
    },
    storage: { files },
  });
}

const TARGET_PATH = '/opt/kubeseed/install/target.ign';

/**
 * The Flatcar live environment's Ignition config: fetch the installed system's config (pinned by
 * its SHA-512), write Flatcar to `disk` with `flatcar-install -d DISK -i CONFIG` (the PXE image
 * ships flatcar-install and installs its own version and channel), then reboot into the disk.
 */
export function renderFlatcarInstallerIgnition(spec: ClusterSpec, disk: string, targetUrl: string, target: string): string {
  checkIpxeToken(disk, 'installDisk');
  if (!/^\/dev\/[A-Za-z0-9._:+@/-]+$/.test(disk)) throw new Error(`installDisk must be a /dev path: ${disk}`);
  const proxy = ignitionProxy(spec);
  const env: string[] = [];
  // flatcar-install downloads the image with wget, which reads these.
  if (spec.proxy.http) env.push(`Environment=http_proxy=${spec.proxy.http}`);
  if (spec.proxy.https) env.push(`Environment=https_proxy=${spec.proxy.https}`);
  if (proxy?.noProxy.length) env.push(`Environment=no_proxy=${proxy.noProxy.join(',')}`);
  const unit = [
    '[Unit]',
    `Description=kubeseed: install Flatcar to ${disk} (erases it), then boot from it`,
    'Wants=network-online.target',
    'After=network-online.target',
    `ConditionPathExists=${TARGET_PATH}`,
    '',
    '[Service]',
    'Type=oneshot',
    ...env,
    `ExecStart=/usr/bin/flatcar-install -d ${disk} -i ${TARGET_PATH}`,
    'ExecStartPost=/usr/bin/systemctl --no-block reboot',
    'StandardOutput=journal+console',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  return JSON.stringify({
    ignition: { version: IGNITION_SPEC_VERSION, ...(proxy ? { proxy } : {}) },
    storage: {
      files: [{ path: TARGET_PATH, mode: 0o600, overwrite: true, contents: { source: targetUrl, verification: { hash: sha512(target) } } }],
    },
    systemd: { units: [{ name: 'kubeseed-install.service', enabled: true, contents: unit }] },
  });
}

/**
 * The script for a machine the coordinator knows is installed: give the boot back to the firmware
 * (`exit 0`), which tries its next boot entry — the disk. `sanboot --drive 0x80` is not used: it
 * exists only in BIOS iPXE and boots the first BIOS disk, not necessarily the install disk.
 * Under `boot.ipxe` the success is passed on: the index script exits too (ADR 0022).
 */
export function renderIpxeLocalBoot(mac: string): string {
  checkNormalisedMac(mac);
  return [
    '#!ipxe',
    '# kubeseed: this machine is installed (its agent reached the coordinator); booting from its disk (ADR 0022).',
    `echo kubeseed: MAC ${mac} is installed: handing the boot back to the firmware, which boots the disk.`,
    'echo kubeseed: to reinstall it, run kubeseed rebind HOST (the installer erases the disk).',
    'exit 0',
    '',
  ].join('\n');
}
