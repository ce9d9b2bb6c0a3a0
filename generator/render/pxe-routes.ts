/**
 * The plain-HTTP listener's answers as a pure function: request path (with query) in, status and
 * body out. The coordinator's Fastify handler only forwards to `routePxeRequest`, so every route
 * decision — unknown MACs, path tricks, what may be served at all — is tested here without a
 * server.
 *
 * Served (docs/pxe.md), and nothing else:
 *   GET /boot.ipxe                    the MAC-chaining index script
 *   GET /ipxe?mac=aa-bb-cc-dd-ee-ff   the fleet boot script, for a MAC in the spec; for any other
 *                                     MAC a script that installs nothing and exits, unless the spec
 *                                     opts in (`fleet.installUnknownMacs`: such machines then wait
 *                                     for approval — the Ubuntu autoinstall erases the disk)
 *   GET /nocloud/fleet/user-data      the fleet user-data (Ubuntu: wrapped in autoinstall)
 *   GET /nocloud/fleet/meta-data
 *   GET /ignition/fleet.ign           the fleet Ignition config (Flatcar, Fedora CoreOS)
 * Per-host user-data is never served here: it carries that host's enrollment credential.
 * Boot assets (`/assets/…`) are static files and stay with the HTTP server.
 *
 * Runtime contract: pure.
 */
import type { ClusterSpec } from '../spec/types.ts';
import {
  defaultPxeAssets,
  type PxeAssets,
  pxeUrls,
  renderIpxeIndex,
  renderIpxeRefusal,
  renderIpxeScript,
  renderUbuntuAutoinstall,
  resolvePxeBaseUrl,
} from './pxe.ts';

export interface PxeFleetContent {
  /** The fleet's cloud-init user-data (ubuntu, debian). */
  userData?: string;
  metaData?: string;
  /** The fleet's Ignition config (flatcar, fedora-coreos). */
  ignition?: string;
}

export interface PxeRouteOptions {
  assets?: PxeAssets;
  installDevice?: string;
  /**
   * Install the operating system on machines whose MAC is not in the spec too (spec
   * `fleet.installUnknownMacs`; they enroll without a credential and wait for approval). Off by
   * default: any machine that PXE-boots on the network would otherwise have its disk erased.
   */
  installUnknownMacs?: boolean;
}

export interface PxeResponse {
  status: 200 | 400 | 404 | 405;
  contentType: string;
  body: string;
}

const TEXT = 'text/plain; charset=utf-8';

function notFound(what: string): PxeResponse {
  return { status: 404, contentType: TEXT, body: `not found: ${what}\n` };
}

/** `aa-bb-cc-dd-ee-ff` (iPXE's `${mac:hexhyp}`) or `aa:bb:…` → lower-case colon form, or null. */
export function normalizeMac(raw: string): string | null {
  const m = /^([0-9a-fA-F]{2})([-:])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(raw);
  if (!m) return null;
  return [m[1], m[3], m[4], m[5], m[6], m[7]].join(':').toLowerCase();
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
  const family = spec.os.family;
  const ignitionFamily = family === 'flatcar' || family === 'fedora-coreos';
  const urls = pxeUrls(base, 'fleet');

  switch (path) {
    case '/boot.ipxe':
      return { status: 200, contentType: TEXT, body: renderIpxeIndex(base) };
    case '/ipxe': {
      const raw = query.get('mac');
      if (raw === null) return { status: 400, contentType: TEXT, body: 'missing ?mac=aa-bb-cc-dd-ee-ff\n' };
      const mac = normalizeMac(raw);
      if (!mac) return { status: 400, contentType: TEXT, body: 'mac must look like aa-bb-cc-dd-ee-ff\n' };
      if (!spec.fleet.enabled) return notFound('PXE boot needs fleet.enabled (per-host user-data is not served over plain HTTP)');
      const known = spec.hosts.some((h) => h.mac?.toLowerCase() === mac);
      if (!known && !opts.installUnknownMacs) return { status: 200, contentType: TEXT, body: renderIpxeRefusal(mac) };
      // The label names no host: anyone can ask for any MAC, and host names are not theirs to learn.
      const body = renderIpxeScript({
        family,
        ...(opts.assets ?? defaultPxeAssets(family, base)),
        ...(ignitionFamily ? { ignitionUrl: urls.ignition } : { seedUrl: urls.nocloud }),
        ...(opts.installDevice ? { installDevice: opts.installDevice } : {}),
        label: `machine ${mac}, fleet of cluster ${spec.name}`,
      });
      return { status: 200, contentType: TEXT, body };
    }
    case '/nocloud/fleet/user-data':
      if (!spec.fleet.enabled || ignitionFamily || fleet.userData === undefined) return notFound(path);
      return {
        status: 200,
        contentType: TEXT,
        body: family === 'ubuntu' ? renderUbuntuAutoinstall(fleet.userData) : fleet.userData,
      };
    case '/nocloud/fleet/meta-data':
      if (!spec.fleet.enabled || ignitionFamily || fleet.userData === undefined) return notFound(path);
      return { status: 200, contentType: TEXT, body: fleet.metaData ?? 'instance-id: iid-kubeseed-fleet\n' };
    case '/ignition/fleet.ign':
      if (!spec.fleet.enabled || !ignitionFamily || fleet.ignition === undefined) return notFound(path);
      return { status: 200, contentType: 'application/vnd.coreos.ignition+json', body: fleet.ignition };
    default:
      return notFound(path);
  }
}
