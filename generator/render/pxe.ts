/**
 * PXE content for the coordinator's plain-HTTP listener (`coordinator.httpListen`) and for
 * `OUT/pxe/`: iPXE scripts per OS family, the MAC-chaining index script, and the Ubuntu
 * autoinstall document that carries a host's cloud-config into the installed system (a
 * PXE-booted Ubuntu installer runs NoCloud user-data in the *installer*, not in the target).
 *
 * URL layout the HTTP listener serves (content without secrets only — docs/pxe.md):
 *   /ipxe?mac=<aa-bb-cc-dd-ee-ff>   iPXE script for that machine
 *   /nocloud/<name>/{user-data,meta-data}   NoCloud seed (`ds=nocloud;s=…/nocloud/<name>/`)
 *   /ignition/<name>.ign            Ignition config (Flatcar, Fedora CoreOS)
 *   /ignition/<name>-install.ign    Flatcar live config that installs to disk
 *   /assets/<family>/<file>         kernels, initrds, root file systems, installer ISO
 * `<name>` is `fleet` or a known machine's MAC as `aa-bb-cc-dd-ee-ff` (pxe-hosts.ts).
 *
 * iPXE splits a command line on whitespace only — it has no quoting — and expands `${…}`;
 * a token that is `;`, `||` or `&&` ends the command and one starting with `#` starts a comment.
 * So every kernel argument is checked instead of quoted: `ds=nocloud;s=http://…/` is one token
 * and needs no escaping, while whitespace or `${` in a URL is refused.
 *
 * Runtime contract: pure.
 */
import { parse as parseYaml } from 'yaml';
import { type IpxeArgChecks, type IpxeBootInput, osProfile, osProfileOf, type PxeAssets } from '../os/index.ts';
import type { ClusterSpec, HostSpec, OsFamily } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';
import type { RenderedFile } from './proxmox.ts';

export type { IpxeBootInput, PxeAssets } from '../os/index.ts';

/** Refuses what iPXE would split, expand or treat as a terminator or comment. */
export function checkIpxeToken(token: string, what: string): string {
  if (token === '') throw new Error(`${what} is empty`);
  if (/[\s\x00-\x1f\x7f]/.test(token))
    throw new Error(`${what} contains whitespace or a control character, which iPXE cannot quote: ${JSON.stringify(token)}`);
  if (token.includes('${')) throw new Error(`${what} contains "\${", which iPXE would expand as a setting: ${token}`);
  if (token.startsWith('#') || token === ';' || token === '||' || token === '&&') {
    throw new Error(`${what} would be read by iPXE as a comment or command separator: ${token}`);
  }
  return token;
}

function checkHttpUrl(url: string, what: string): string {
  checkIpxeToken(url, what);
  if (!/^https?:\/\/[^/]+/.test(url)) throw new Error(`${what} must be an http(s) URL: ${url}`);
  return url;
}

const INITRD_NAME = 'initrd.img';

const CHECKS: IpxeArgChecks = { token: checkIpxeToken, httpUrl: checkHttpUrl };

/** The kernel command line arguments for a family (without `initrd=`): the profile's, then consoles and extra arguments. */
export function buildKernelArgs(input: IpxeBootInput): string[] {
  const args = osProfileOf(input.family).pxe.kernelArgs(input, CHECKS);
  for (const c of input.consoles ?? ['tty0', 'ttyS0,115200n8']) args.push(`console=${checkIpxeToken(c, 'console')}`);
  for (const a of input.extraArgs ?? []) args.push(checkIpxeToken(a, 'extra kernel argument'));
  return args;
}

/** An iPXE script that boots one machine of the family. */
export function renderIpxeScript(input: IpxeBootInput): string {
  const kernel = checkHttpUrl(input.kernelUrl, 'kernelUrl');
  const initrd = checkHttpUrl(input.initrdUrl, 'initrdUrl');
  const args = buildKernelArgs(input);
  const label = (input.label ?? input.family).replace(/[\r\n]/g, ' ');
  return [
    '#!ipxe',
    `# kubeseed: ${label} (${input.family})`,
    `kernel ${kernel} initrd=${INITRD_NAME} ${args.join(' ')}`,
    `initrd --name ${INITRD_NAME} ${initrd}`,
    'boot',
    '',
  ].join('\n');
}

/**
 * What a MAC the spec does not name gets: a message on the console and `exit 1`, which ends the
 * script with an error — the index script (`boot.ipxe`) then asks again every 10 s (so the
 * machine boots once its MAC is in the spec and `kubeseed serve` was restarted after `generate`:
 * the listener reads the spec when it starts), and an iPXE started by the firmware returns to it,
 * which tries its next boot device. No kernel, no installer: nothing touches the disk.
 */
export function renderIpxeRefusal(mac: string): string {
  checkNormalisedMac(mac);
  return [
    '#!ipxe',
    '# kubeseed: this MAC is not in the cluster spec; nothing is installed (spec fleet.installUnknownMacs, docs/pxe.md).',
    `echo kubeseed: MAC ${mac} is not in the cluster spec: no operating system is installed on this machine.`,
    'echo kubeseed: add its MAC to a host in the spec (or set fleet.installUnknownMacs), run kubeseed generate again and restart kubeseed serve.',
    'exit 1',
    '',
  ].join('\n');
}

/** The index script: asks the listener for this machine's script by MAC, retrying every 10 s. */
export function renderIpxeIndex(baseUrl: string): string {
  const base = checkHttpUrl(baseUrl.replace(/\/+$/, ''), 'PXE base URL');
  return [
    '#!ipxe',
    '# kubeseed: fetch this machine’s boot script from the coordinator, by MAC address (docs/pxe.md).',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: iPXE's own setting syntax, expanded by iPXE
    'isset ${ip} || dhcp',
    ':retry',
    `chain --autofree ${base}/ipxe?mac=\${mac:hexhyp} || goto failed`,
    // Only the installed machine's script returns success (`exit 0`): pass it on to the firmware,
    // which boots the disk. An installer's `boot` never returns; a refusal exits 1 and retries.
    'exit 0',
    ':failed',
    `echo kubeseed: no boot script for \${mac:hexhyp} from ${base}; retrying in 10 s`,
    'sleep 10',
    'goto retry',
    '',
  ].join('\n');
}

/** The listener's name for a machine: its MAC as iPXE's `${mac:hexhyp}` spells it (`52-54-00-12-34-56`). */
export function pxeMachineName(mac: string): string {
  return checkNormalisedMac(mac).replaceAll(':', '-');
}

/** A MAC as normalizeMac returns it (`52:54:00:12:34:56`), else throws: it is written into iPXE scripts. */
export function checkNormalisedMac(mac: string): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new Error(`not a normalised MAC address: ${JSON.stringify(mac)}`);
  return mac;
}

/** The disk an installer erases for this host (or, with `host` null, for a MAC the spec does not name). */
export function installDiskOf(spec: ClusterSpec, host: HostSpec | null): string | undefined {
  return host?.installDisk ?? spec.fleet.installDisk;
}

function netmaskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}

/**
 * The host's static network as kernel arguments (none for a DHCP host):
 * `ifname=<if>:<mac>` names the NIC (left out for a kernel `ethN` name, which dracut and systemd
 * warn may belong to another NIC), `ip=<ip>::<gw>:<netmask>::<if>:none`, one `nameserver=` each.
 * The host name field stays empty: the script is served to whoever asks for the MAC.
 */
function staticNetworkKernelArgs(host: HostSpec): string[] {
  if (!host.address) return [];
  const iface = checkIpxeToken(host.interface, `host ${host.name} interface`);
  const args: string[] = [];
  if (host.mac && !/^eth\d+$/.test(iface)) args.push(`ifname=${iface}:${host.mac}`);
  args.push(`ip=${host.address.ip}::${host.gateway ?? ''}:${netmaskOf(host.address.prefix)}::${iface}:none`);
  for (const ns of host.nameservers) args.push(`nameserver=${ns}`);
  return args;
}

/**
 * What iPXE boots for one machine: `host` is the spec host its MAC names, or null for a MAC the spec
 * does not name (served only with fleet.installUnknownMacs). A known host gets its own seed or
 * Ignition config (its static network; ADR 0022) and its static network as kernel arguments;
 * with an install disk, Fedora CoreOS runs coreos-installer and Flatcar runs flatcar-install.
 * Debian's cloud-init live image has no per-host seed: it keeps the fleet seed and DHCP.
 */
export function machineBootInput(spec: ClusterSpec, base: string, host: HostSpec | null, assets: PxeAssets, label: string): IpxeBootInput {
  const os = osProfile(spec);
  const name = host?.mac ? pxeMachineName(host.mac) : 'fleet';
  const urls = pxeUrls(base, name);
  const disk = installDiskOf(spec, host);
  const network = host ? staticNetworkKernelArgs(host) : [];
  const common = { family: os.family, ...assets, label };
  if (os.format === 'cloud-init')
    return { ...common, seedUrl: os.pxe.seed === 'autoinstall' ? urls.nocloud : pxeUrls(base, 'fleet').nocloud };
  if (os.pxe.installer === 'live-ignition') return { ...common, ignitionUrl: disk ? urls.installer : urls.ignition, extraArgs: network };
  return { ...common, ignitionUrl: urls.ignition, ...(disk ? { installDevice: disk } : {}), extraArgs: network };
}

/**
 * The base URL machines use for the HTTP listener: the host of `coordinator.url` (when the
 * listener binds a wildcard address) and the port of `coordinator.httpListen`.
 */
export function resolvePxeBaseUrl(spec: ClusterSpec): string {
  const listen = spec.coordinator.httpListen;
  if (!listen) throw new Error('coordinator.httpListen: missing — PXE needs the plain-HTTP listener, e.g. 0.0.0.0:8080');
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new Error(`coordinator.httpListen: ${JSON.stringify(listen)} is not host:port`);
  const bound = m[1] ?? m[2] ?? '';
  let host: string;
  if (bound === '' || bound === '0.0.0.0' || bound === '::') host = new URL(spec.coordinator.url).host.replace(/:\d+$/, '');
  else host = bound.includes(':') ? `[${bound}]` : bound;
  return `http://${host}:${port}`;
}

/** The listener's URLs for a host name or `fleet`. */
export function pxeUrls(baseUrl: string, name: string): { ipxe: string; nocloud: string; ignition: string; installer: string } {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name)) throw new Error(`PXE name ${JSON.stringify(name)} is not a host name`);
  const base = baseUrl.replace(/\/+$/, '');
  return {
    ipxe: `${base}/ipxe`,
    nocloud: `${base}/nocloud/${name}/`,
    ignition: `${base}/ignition/${name}.ign`,
    // Flatcar's live installer config (runs flatcar-install, then reboots into the disk).
    installer: `${base}/ignition/${name}-install.ign`,
  };
}

/** Where the listener serves boot files by default: `/assets/<family>/…` (the operator places them). */
export function defaultPxeAssets(family: OsFamily, baseUrl: string): PxeAssets {
  return osProfileOf(family).pxe.assets(`${baseUrl.replace(/\/+$/, '')}/assets/${family}`);
}

export interface AutoinstallOptions {
  /** Disk layout of the installed system: `lvm` (default) or `direct`. The installer wipes the disk it picks. */
  storageLayout?: 'lvm' | 'direct';
  locale?: string;
  keyboardLayout?: string;
  /** The disk the layout erases and installs to (`match: {path}`); default: the installer's (the largest disk). */
  installDisk?: string;
  /** netplan v2 (`{version: 2, ethernets: …}`): applied in the installer and written to the installed system. */
  network?: Record<string, unknown>;
}

/**
 * An Ubuntu autoinstall document whose `autoinstall.user-data` is the host's cloud-config, so the
 * installed system runs it at its first boot. `identity` is left out: with `user-data` present
 * the installer does not require it.
 */
export function renderUbuntuAutoinstall(userData: string, opts: AutoinstallOptions = {}): string {
  if (!userData.startsWith('#cloud-config')) {
    throw new Error('autoinstall carries a #cloud-config document; a MIME multipart or script user-data cannot be embedded');
  }
  const cloudConfig: unknown = parseYaml(userData);
  if (!cloudConfig || typeof cloudConfig !== 'object' || Array.isArray(cloudConfig)) {
    throw new Error('the host user-data is not a cloud-config mapping');
  }
  const doc = {
    autoinstall: {
      version: 1,
      locale: opts.locale ?? 'en_US.UTF-8',
      keyboard: { layout: opts.keyboardLayout ?? 'us' },
      ...(opts.network ? { network: opts.network } : {}),
      storage: {
        layout: { name: opts.storageLayout ?? 'lvm', ...(opts.installDisk ? { match: { path: opts.installDisk } } : {}) },
        // curtin's default (reorder_uefi: true) moves the entry it booted from — the network — to the
        // front of the UEFI BootOrder, so the reboot after the install would PXE and reinstall
        // before the agent enrolled; without it the new disk entry stays first (ADR 0022).
        grub: { reorder_uefi: false },
      },
      ssh: { 'install-server': true, 'allow-pw': false },
      'user-data': cloudConfig,
      shutdown: 'reboot',
    },
  };
  return `#cloud-config\n${toYaml(doc, { lineWidth: 0 })}`;
}

export interface PxeFilesInput {
  /** Boot files; default `defaultPxeAssets(spec.os.family, base)`. */
  assets?: PxeAssets;
  /** The fleet user-data and meta-data (fleet mode): written as the NoCloud seed the listener serves. */
  fleetUserData?: string;
  fleetMetaData?: string;
}

/**
 * `OUT/pxe/`: `boot.ipxe` (chains by MAC), `fleet.ipxe` (what a MAC the spec does not name boots
 * with fleet.installUnknownMacs: the fleet seed or Ignition config, installing to
 * spec.fleet.installDisk), and, with a fleet user-data, `nocloud/fleet/{user-data,meta-data}` —
 * for Ubuntu the user-data is the autoinstall document that carries it.
 */
export function renderPxeFiles(spec: ClusterSpec, input: PxeFilesInput = {}): { files: RenderedFile[] } {
  const base = resolvePxeBaseUrl(spec);
  const os = osProfile(spec);
  const assets = input.assets ?? defaultPxeAssets(os.family, base);
  const files: RenderedFile[] = [
    { path: 'pxe/boot.ipxe', content: renderIpxeIndex(base), mode: 0o644 },
    {
      path: 'pxe/fleet.ipxe',
      content: renderIpxeScript(machineBootInput(spec, base, null, assets, `fleet of cluster ${spec.name}`)),
      mode: 0o644,
    },
  ];
  if (input.fleetUserData !== undefined && os.format === 'cloud-init') {
    const disk = installDiskOf(spec, null);
    const userData =
      os.pxe.seed === 'autoinstall' ? renderUbuntuAutoinstall(input.fleetUserData, disk ? { installDisk: disk } : {}) : input.fleetUserData;
    files.push({ path: 'pxe/nocloud/fleet/user-data', content: userData, mode: 0o600 });
    files.push({ path: 'pxe/nocloud/fleet/meta-data', content: input.fleetMetaData ?? 'instance-id: iid-kubeseed-fleet\n', mode: 0o644 });
  }
  return { files };
}
