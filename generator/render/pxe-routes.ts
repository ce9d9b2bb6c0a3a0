/**
 * The plain-HTTP listener's answers as a pure function: request path (with query) in, status and
 * body out. The coordinator's Fastify handler only forwards to `routePxeRequest`, so every route
 * decision — unknown MACs, path tricks, what may be served at all — is tested here without a
 * server.
 *
 * Served (docs/pxe.md), and nothing else (`<m>` is a MAC the spec names, as aa-bb-cc-dd-ee-ff):
 *   GET /boot.ipxe                    the MAC-chaining index script
 *   GET /ipxe?mac=aa-bb-cc-dd-ee-ff   for a MAC in the spec: its disk when the coordinator knows it
 *                                     is installed (ADR 0022), else its installer with its static
 *                                     network; for any other MAC a script that installs nothing
 *                                     and exits, unless the spec opts in (`fleet.installUnknownMacs`:
 *                                     such machines then wait for approval — installers erase disks)
 *   GET /nocloud/{fleet,<m>}/user-data   the fleet user-data (Ubuntu: wrapped in autoinstall, with
 *   GET /nocloud/{fleet,<m>}/meta-data   the host's network and install disk for <m>)
 *   GET /ignition/fleet.ign           the fleet Ignition config (Flatcar, Fedora CoreOS)
 *   GET /ignition/<m>.ign             the fleet config merged, plus the host's network files
 *   GET /ignition/{fleet,<m>}-install.ign   Flatcar's live config that runs flatcar-install
 * Per-host user-data is never served here: it carries that host's enrollment credential.
 * Boot assets (`/assets/…`) are static files and stay with the HTTP server.
 *
 * Runtime contract: pure.
 */
import { osProfile } from '../os/index.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { buildNetworkConfig } from './network-config.ts';
import {
  defaultPxeAssets,
  installDiskOf,
  machineBootInput,
  type PxeAssets,
  pxeMachineName,
  pxeUrls,
  renderIpxeIndex,
  renderIpxeRefusal,
  renderIpxeScript,
  renderUbuntuAutoinstall,
  resolvePxeBaseUrl,
} from './pxe.ts';
import { renderFlatcarInstallerIgnition, renderHostTargetIgnition, renderIpxeLocalBoot } from './pxe-hosts.ts';

export interface PxeFleetContent {
  /** The fleet's cloud-init user-data (ubuntu, debian). */
  userData?: string;
  metaData?: string;
  /** The fleet's Ignition config (flatcar, fedora-coreos). */
  ignition?: string;
}

export interface PxeRouteOptions {
  assets?: PxeAssets;
  /**
   * Install the operating system on machines whose MAC is not in the spec too (spec
   * `fleet.installUnknownMacs`; they enroll without a credential and wait for approval). Off by
   * default: any machine that PXE-boots on the network would otherwise have its disk erased.
   */
  installUnknownMacs?: boolean;
  /**
   * Whether the coordinator's store knows this machine as installed (its agent enrolled or
   * claimed a host with this MAC, and no `kubeseed rebind` asked for a rebuild): it then boots
   * its disk instead of the installer (ADR 0022). `host` is the spec host the MAC names, if any.
   */
  installed?: (mac: string, host: string | null) => boolean;
}

export interface PxeResponse {
  status: 200 | 400 | 404 | 405 | 500;
  contentType: string;
  body: string;
}

const TEXT = 'text/plain; charset=utf-8';
const IGNITION = 'application/vnd.coreos.ignition+json';

function notFound(what: string): PxeResponse {
  return { status: 404, contentType: TEXT, body: `not found: ${what}\n` };
}

/** `aa-bb-cc-dd-ee-ff` (iPXE's `${mac:hexhyp}`) or `aa:bb:…` → lower-case colon form, or null. */
export function normalizeMac(raw: string): string | null {
  const m = /^([0-9a-fA-F]{2})([-:])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(raw);
  if (!m) return null;
  return [m[1], m[3], m[4], m[5], m[6], m[7]].join(':').toLowerCase();
}

/**
 * The machine a listener name stands for: `fleet` (null host: MACs the spec does not name) or a
 * known host's MAC as `aa-bb-cc-dd-ee-ff`. Anything else is no machine (undefined).
 */
function machineOf(spec: ClusterSpec, name: string): { host: HostSpec | null } | undefined {
  if (name === 'fleet') return { host: null };
  const host = spec.hosts.find((h) => h.mac && pxeMachineName(h.mac) === name);
  return host ? { host } : undefined;
}

/** Answers one request of the plain-HTTP listener. `method` defaults to GET; HEAD is treated as GET. */
export function routePxeRequest(
  spec: ClusterSpec,
  fleet: PxeFleetContent,
  pathWithQuery: string,
  opts: PxeRouteOptions = {},
  method = 'GET',
): PxeResponse {
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, contentType: TEXT, body: 'method not allowed\n' };
  const q = pathWithQuery.indexOf('?');
  const path = q < 0 ? pathWithQuery : pathWithQuery.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : pathWithQuery.slice(q + 1));
  // Exact matches only: no decoding, no normalisation, so `..`, `%2e%2e` or `//` never reach a file.
  const base = resolvePxeBaseUrl(spec);
  const os = osProfile(spec);
  const ignitionFamily = os.format === 'ignition';

  if (path === '/boot.ipxe') return { status: 200, contentType: TEXT, body: renderIpxeIndex(base) };
  if (path === '/ipxe') {
    const raw = query.get('mac');
    if (raw === null) return { status: 400, contentType: TEXT, body: 'missing ?mac=aa-bb-cc-dd-ee-ff\n' };
    const mac = normalizeMac(raw);
    if (!mac) return { status: 400, contentType: TEXT, body: 'mac must look like aa-bb-cc-dd-ee-ff\n' };
    if (!spec.fleet.enabled) return notFound('PXE boot needs fleet.enabled (per-host user-data is not served over plain HTTP)');
    const host = spec.hosts.find((h) => h.mac === mac) ?? null;
    if (!host && !opts.installUnknownMacs) return { status: 200, contentType: TEXT, body: renderIpxeRefusal(mac) };
    if (opts.installed?.(mac, host?.name ?? null)) return { status: 200, contentType: TEXT, body: renderIpxeLocalBoot(mac) };
    // The label names no host: anyone can ask for any MAC, and host names are not theirs to learn.
    const assets = opts.assets ?? defaultPxeAssets(os.family, base);
    const body = renderIpxeScript(machineBootInput(spec, base, host, assets, `machine ${mac}, fleet of cluster ${spec.name}`));
    return { status: 200, contentType: TEXT, body };
  }
  if (!spec.fleet.enabled) return notFound(path);

  const seed = /^\/nocloud\/([a-z0-9-]+)\/(user-data|meta-data)$/.exec(path);
  if (seed) {
    const machine = machineOf(spec, seed[1]!);
    // Per-machine seeds only where the profile boots an installer (Ubuntu's autoinstall); Debian's live image keeps the fleet seed.
    const autoinstall = os.pxe.seed === 'autoinstall';
    if (!machine || ignitionFamily || fleet.userData === undefined || (machine.host && !autoinstall)) return notFound(path);
    if (seed[2] === 'meta-data') {
      const metaData = machine.host ? `instance-id: iid-kubeseed-${seed[1]}\n` : (fleet.metaData ?? 'instance-id: iid-kubeseed-fleet\n');
      return { status: 200, contentType: TEXT, body: metaData };
    }
    if (!autoinstall) return { status: 200, contentType: TEXT, body: fleet.userData };
    const disk = installDiskOf(spec, machine.host);
    const network = machine.host?.address ? buildNetworkConfig(machine.host) : undefined;
    const body = renderUbuntuAutoinstall(fleet.userData, { ...(disk ? { installDisk: disk } : {}), ...(network ? { network } : {}) });
    return { status: 200, contentType: TEXT, body };
  }

  const ign = /^\/ignition\/([a-z0-9-]+?)(-install)?\.ign$/.exec(path);
  if (ign) {
    const machine = machineOf(spec, ign[1]!);
    if (!machine || !ignitionFamily || fleet.ignition === undefined) return notFound(path);
    const urls = pxeUrls(base, ign[1]!);
    const target = machine.host
      ? renderHostTargetIgnition(spec, machine.host, pxeUrls(base, 'fleet').ignition, fleet.ignition)
      : fleet.ignition;
    if (!ign[2]) return { status: 200, contentType: IGNITION, body: target };
    // The live installer (Flatcar's; Fedora CoreOS installs from kernel arguments), with a disk.
    const disk = installDiskOf(spec, machine.host);
    if (os.pxe.installer !== 'live-ignition' || !disk || (!machine.host && !opts.installUnknownMacs)) return notFound(path);
    return { status: 200, contentType: IGNITION, body: renderFlatcarInstallerIgnition(spec, disk, urls.ignition, target) };
  }
  return notFound(path);
}
