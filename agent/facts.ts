/**
 * Machine facts sent at enrollment: machine-id, SMBIOS UUID, MACs of physical NICs, hostname,
 * architecture and OS. Self-reported — the coordinator uses them for binding and fleet matching,
 * never as proof. Read through `Fs`, so tests use a temporary root.
 */
import type { MachineFacts } from '../protocol/wire.ts';
import type { Fs } from './io.ts';

/** Interfaces that are never physical even when they expose a `device` link. */
const VIRTUAL_PREFIXES = [
  'lo',
  'veth',
  'docker',
  'br-',
  'virbr',
  'cni',
  'flannel',
  'cali',
  'cilium',
  'vxlan',
  'tunl',
  'kube-ipvs',
  'dummy',
  'bond',
  'team',
  'tap',
  'tun',
  'wg',
];

export function mapNodeArch(arch: string): string {
  if (arch === 'x64') return 'amd64';
  if (arch === 'arm64') return 'arm64';
  return arch;
}

/** PRETTY_NAME (or ID VERSION_ID) from os-release text. */
export function parseOsRelease(text: string | null): string {
  if (!text) return 'unknown';
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) values[m[1]] = (m[2] ?? '').replace(/^["']|["']$/g, '');
  }
  return values.PRETTY_NAME ?? ([values.ID, values.VERSION_ID].filter(Boolean).join(' ') || 'unknown');
}

/** Physical NICs: those with a `device` link in sysfs, minus well-known virtual names. */
export async function collectMacs(fs: Fs): Promise<string[]> {
  const macs: string[] = [];
  for (const name of await fs.list('/sys/class/net')) {
    if (VIRTUAL_PREFIXES.some((p) => name === p || name.startsWith(p))) continue;
    if (!(await fs.exists(`/sys/class/net/${name}/device`))) continue;
    const mac = (await fs.readText(`/sys/class/net/${name}/address`))?.trim().toLowerCase();
    if (mac && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) && mac !== '00:00:00:00:00:00') macs.push(mac);
  }
  return [...new Set(macs)].sort();
}

export async function collectFacts(
  fs: Fs,
  system: { hostname: string; arch: string; now: number; agentVersion: string },
): Promise<MachineFacts> {
  const machineId = ((await fs.readText('/etc/machine-id')) ?? '').trim();
  let smbiosUuid = '';
  try {
    smbiosUuid = ((await fs.readText('/sys/class/dmi/id/product_uuid')) ?? '').trim().toLowerCase();
  } catch {
    smbiosUuid = ''; // unreadable for non-root or on hosts without DMI
  }
  const hostnameFile = (await fs.readText('/etc/hostname'))?.trim();
  // Bounded to what the coordinator's schema accepts: a long os-release name must not block enrollment.
  return {
    machineId: machineId.slice(0, 128),
    smbiosUuid: smbiosUuid.slice(0, 64),
    macs: (await collectMacs(fs)).slice(0, 64),
    hostname: (system.hostname || hostnameFile || '').slice(0, 253),
    arch: mapNodeArch(system.arch).slice(0, 32),
    os: parseOsRelease((await fs.readText('/etc/os-release')) ?? (await fs.readText('/usr/lib/os-release'))).slice(0, 128),
    clock: system.now,
    agentVersion: system.agentVersion,
  };
}
