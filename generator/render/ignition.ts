/**
 * Renders a host's neutral `Provisioning` as an Ignition config (spec 3.3.0) for Flatcar and
 * Fedora CoreOS. 3.3.0 is the newest version Debian's `ignition-validate` 2.14 accepts, and
 * every current Flatcar and Fedora CoreOS translates it.
 *
 * Mapping (docs/formats.md has the full table):
 * - files → `storage.files` with `data:` URLs (gzip when smaller), decimal modes, `overwrite`;
 *   kubeseed-owned directories that hold a private file are declared 0700.
 * - units → `systemd.units`; a unit the cloud-init path would start via runcmd is `enabled`.
 * - commands → `/opt/kubeseed/firstboot.sh` run once by `kubeseed-firstboot.service`
 *   (guard file `/var/lib/kubeseed/firstboot.done`, written last).
 * - users → user `core` (the image's login user) with every SSH key.
 * - the host's static address and NIC name → networkd (Flatcar) / NetworkManager (FCOS) files.
 * - What differs between the families (network stack, time and update-policy files, host
 *   preparation, what is writable under /usr) is read from the OS profile (generator/os/).
 * - the agent executable is fetched by Ignition itself from the coordinator (or mirrors.agent),
 *   gzip-decoded and checked against the digest of the build (`kubeseed generate` always passes
 *   it); the coordinator CA is trusted for it.
 * - Flatcar: kubelet/kubeadm come from a systemd-sysext image (`sysext.ts`); containerd is the
 *   built-in one when it is 2.0 or newer, else the stored extension image (checked at boot, ADR 0021).
 *   Fedora CoreOS: rpm-ostree layers the Kubernetes RPMs, SELinux-labelled, and containerd is the
 *   image's own (`generator/os/fedora-coreos-rpm.ts`, docs/adr/0023).
 * - `spec.proxy` → `ignition.proxy`: the initramfs fetches the agent and the images before any
 *   environment file of the booted system exists.
 * - OS updates never reboot a host on their own (Flatcar `REBOOT_STRATEGY=off`, Zincati updates
 *   off): a reboot mid-rollout would lose a stacked etcd member's turn or a half-done join.
 *
 * Runtime contract: pure — same input, same bytes (compact JSON, fixed key order).
 */

import { CONTAINERD_SELECT_UNIT, renderContainerdDropin } from '../../templates/index.ts';
import { type IgnitionUnit, ignitionProfile, osProfile } from '../os/index.ts';
import { READ_ONLY_USR_PATHS } from '../os/read-only-usr.ts';
import { noProxyList } from '../plan/proxy.ts';
import type { Provisioning, SystemdUnit } from '../plan/types.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { hostOfUrl } from '../util/ip.ts';
import { encodeIgnitionContents, toBase64DataUrl } from './ignition-encoding.ts';
import { renderIgnitionNetworkFiles } from './ignition-network.ts';
import type { SysextArch } from './sysext.ts';

export const IGNITION_SPEC_VERSION = '3.3.0';
/** Where the Ignition families keep the agent executable (their profiles' `paths.agent`: `/usr` is read-only). */
export const IGNITION_AGENT_PATH = READ_ONLY_USR_PATHS.agent;
export const FIRSTBOOT_UNIT = 'kubeseed-firstboot.service';
export const FIRSTBOOT_SCRIPT = '/opt/kubeseed/firstboot.sh';
export const FIRSTBOOT_DONE = '/var/lib/kubeseed/firstboot.done';
/** The login user of Flatcar and Fedora CoreOS images; SSH keys from the provisioning go to it. */
export const IGNITION_LOGIN_USER = 'core';

export interface IgnitionOptions {
  /** PEM of the coordinator CA: trusted by Ignition for https fetches (the agent download). */
  coordinatorCa: string;
  /** Hex SHA-256 of the *decompressed* agent executable; without a digest there is no `verification`. */
  agentSha256?: string;
  /** Hex SHA-512 of the decompressed agent executable (preferred over SHA-256 when both are given). */
  agentSha512?: string;
  /** The host's `arch` wins; this is the fleet's (default amd64). */
  arch?: SysextArch;
  /** The agent URL serves gzip (the coordinator does); set false for a mirror serving the raw executable. */
  agentGzip?: boolean;
  /** containerd sysext version (default `containerdVersionOf(spec)`). */
  containerdVersion?: string;
}

interface IgnFile {
  path: string;
  mode: number;
  overwrite: true;
  user?: { name: string };
  group?: { name: string };
  contents: { source: string; compression?: 'gzip'; verification?: { hash: string } };
}
interface IgnLink {
  path: string;
  target: string;
  overwrite: true;
}
type IgnUnit = IgnitionUnit;
export interface IgnitionConfig {
  ignition: {
    version: string;
    security: { tls: { certificateAuthorities: { source: string }[] } };
    proxy?: { httpProxy?: string; httpsProxy?: string; noProxy: string[] };
  };
  passwd?: { users: { name: string; sshAuthorizedKeys: string[] }[] };
  storage: { directories: { path: string; mode: number; overwrite?: boolean }[]; files: IgnFile[]; links: IgnLink[] };
  systemd: { units: IgnUnit[] };
}

/** Where agents fetch their executable: mirrors.agent, else the coordinator's `/agent/linux-<arch>`. */
export function resolveAgentUrl(spec: ClusterSpec, arch: SysextArch = 'amd64'): string {
  if (spec.mirrors.agent) {
    const base = spec.mirrors.agent.endsWith('/') ? spec.mirrors.agent : `${spec.mirrors.agent}/`;
    return `${base}linux-${arch}`;
  }
  return `${spec.coordinator.url.replace(/\/+$/, '')}/agent/linux-${arch}`;
}

/** POSIX shell quoting for one argv element. */
export function quoteShellArg(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

function hasInstallSection(unit: SystemdUnit): boolean {
  return /^\[Install\]\s*$/m.test(unit.contents);
}

function ownerOf(owner: string | undefined): Pick<IgnFile, 'user' | 'group'> {
  if (!owner) return {};
  const [user, group] = owner.split(':');
  const out: Pick<IgnFile, 'user' | 'group'> = {};
  if (user && user !== 'root') out.user = { name: user };
  if (group && group !== 'root') out.group = { name: group };
  return out;
}

function checkMode(path: string, mode: number): number {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new Error(
      `${path}: mode ${mode.toString(8)} is outside 0–0777; Ignition spec ${IGNITION_SPEC_VERSION} does not apply setuid/setgid/sticky bits`,
    );
  }
  return mode;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The first-boot script: the provisioning's commands in order, then units to start, then the guard file. */
export function renderFirstbootScript(hostname: string, commands: string[][], startUnits: string[]): string {
  const lines = [
    '#!/bin/bash',
    `# kubeseed first-boot commands for ${hostname}; run once by ${FIRSTBOOT_UNIT}.`,
    `# A failing command stops the script before ${FIRSTBOOT_DONE} is written, so the next boot retries.`,
    'set -euo pipefail',
    ...commands.map((argv) => argv.map(quoteShellArg).join(' ')),
    ...startUnits.map((name) => `systemctl start --no-block ${quoteShellArg(name)}`),
    `mkdir -p ${parentOf(FIRSTBOOT_DONE)}`,
    `touch ${FIRSTBOOT_DONE}`,
  ];
  return `${lines.join('\n')}\n`;
}

function renderFirstbootUnit(before: string[]): string {
  const lines = [
    '[Unit]',
    'Description=kubeseed first-boot commands (run once)',
    'Wants=network-online.target',
    'After=network-online.target systemd-sysext.service',
    ...(before.length > 0 ? [`Before=${before.join(' ')}`] : []),
    `ConditionPathExists=!${FIRSTBOOT_DONE}`,
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${FIRSTBOOT_SCRIPT}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * `ignition.proxy` from `spec.proxy`; undefined without a proxy. noProxy is the cloud-init path's list
 * (which names the coordinator and the agent mirror) plus the extension mirror Ignition fetches from.
 */
export function ignitionProxy(spec: ClusterSpec): NonNullable<IgnitionConfig['ignition']['proxy']> | undefined {
  const { http, https } = spec.proxy;
  if (!http && !https) return undefined;
  return {
    ...(http ? { httpProxy: http } : {}),
    ...(https ? { httpsProxy: https } : {}),
    noProxy: [
      ...new Set([
        ...noProxyList(spec),
        ...(spec.mirrors.sysext ? [hostOfUrl(spec.mirrors.sysext).host] : []),
        ...(osProfile(spec).ignition?.fetchesFrom(spec) ?? []),
      ]),
    ],
  };
}

function renderHostsFile(entries: Provisioning['hostsEntries']): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost', ...entries.map((e) => `${e.ip}\t${e.names.join(' ')}`)];
  return `${lines.join('\n')}\n`;
}

/** Builds the Ignition config object (exposed for tests; `renderIgnition` serializes it). */
export function buildIgnitionConfig(p: Provisioning, host: HostSpec | null, spec: ClusterSpec, opts: IgnitionOptions): IgnitionConfig {
  const family = spec.os.family;
  const who = host ? `host ${host.name}` : 'fleet';
  const os = ignitionProfile(spec, who);
  const paths = osProfile(spec).paths;
  if (!opts.coordinatorCa.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`${who}: coordinatorCa is not a PEM certificate`);
  }
  const arch = host?.arch ?? opts.arch ?? 'amd64';

  const files: IgnFile[] = [];
  const seen = new Set<string>();
  const addFile = (path: string, content: string | Buffer, mode: number, owner?: string): void => {
    if (!path.startsWith('/') || path.includes('//') || /(^|\/)\.\.?(\/|$)/.test(path)) {
      throw new Error(`${who}: file path ${path} must be absolute and simplified`);
    }
    if (seen.has(path)) throw new Error(`${who}: ${path} is written twice`);
    if (path.startsWith('/usr/') && !os.writableUnderUsr.some((prefix) => path.startsWith(prefix))) {
      throw new Error(`${who}: ${path} is under /usr, which is read-only on ${family}; write it under /opt or /etc instead`);
    }
    seen.add(path);
    files.push({ path, mode: checkMode(path, mode), overwrite: true, ...ownerOf(owner), contents: encodeIgnitionContents(content) });
  };

  /** A file Ignition fetches itself (`contents.source` is a URL); `owner` names what its path is reserved for. */
  const addFetchedFile = (path: string, mode: number, contents: IgnFile['contents'], owner: string): void => {
    if (seen.has(path)) throw new Error(`${who}: ${path} is reserved for ${owner}`);
    seen.add(path);
    files.push({ path, mode, overwrite: true, contents });
  };

  for (const f of p.files) addFile(f.path, f.content, f.mode, f.owner);
  const addDefault = (path: string, content: string, mode: number): void => {
    if (!seen.has(path)) addFile(path, content, mode);
  };
  // The fleet's generic machine (no host, empty hostname) keeps the name DHCP or the image gives it.
  if (p.hostname) addDefault('/etc/hostname', `${p.hostname}\n`, 0o644);
  if (p.hostsEntries.length > 0) addDefault('/etc/hosts', renderHostsFile(p.hostsEntries), 0o644);
  // Static addresses and stable NIC names (cloud-init's network-config on the other path).
  if (host) for (const f of renderIgnitionNetworkFiles(host, family)) addDefault(f.path, f.content, f.mode);
  if (p.timeServers.length > 0) {
    const t = os.timeFile(p.timeServers);
    addDefault(t.path, t.content, 0o644);
  }
  addDefault(os.updatePolicy.path, os.updatePolicy.content, 0o644);

  // Units: enabled when the cloud-init path would enable or start them; a unit without an
  // [Install] section cannot be enabled and is started by the first-boot script instead.
  const units: IgnUnit[] = [];
  const unitNames = new Set<string>();
  const enabledStartUnits: string[] = [];
  const scriptStartUnits: string[] = [];
  for (const u of p.units) {
    if (unitNames.has(u.name)) throw new Error(`${who}: unit ${u.name} is defined twice`);
    unitNames.add(u.name);
    const installable = hasInstallSection(u);
    const enable = (u.enabled || u.start) && installable;
    if (u.start && !installable) scriptStartUnits.push(u.name);
    if (u.start && installable) enabledStartUnits.push(u.name);
    units.push({ name: u.name, ...(enable ? { enabled: true } : {}), contents: u.contents });
  }
  /** A unit kubeseed adds beside the provisioning's, whose units may not take its name. */
  const addOwnUnit = (unit: IgnUnit, reservedFor?: string): void => {
    if (unitNames.has(unit.name)) throw new Error(`${who}: unit ${unit.name} is reserved${reservedFor ? ` for ${reservedFor}` : ''}`);
    unitNames.add(unit.name);
    units.push(unit);
  };

  const needFirstboot = p.commands.length > 0 || scriptStartUnits.length > 0;
  if (needFirstboot) {
    addOwnUnit({ name: FIRSTBOOT_UNIT, enabled: true, contents: renderFirstbootUnit(enabledStartUnits) }, 'first-boot commands');
    addFile(FIRSTBOOT_SCRIPT, renderFirstbootScript(p.hostname, p.commands, scriptStartUnits), 0o700);
  }

  // The agent: fetched by Ignition itself, over TLS pinned to the coordinator CA.
  const hash = opts.agentSha512 ? `sha512-${opts.agentSha512}` : opts.agentSha256 ? `sha256-${opts.agentSha256}` : undefined;
  addFetchedFile(
    paths.agent,
    0o755,
    {
      source: resolveAgentUrl(spec, arch),
      ...(opts.agentGzip === false ? {} : { compression: 'gzip' as const }),
      ...(hash ? { verification: { hash } } : {}),
    },
    'the agent executable',
  );

  // Host preparation, as the OS profile lists it: system extensions (Flatcar), rpm-ostree layering (Fedora CoreOS).
  const links: IgnLink[] = [];
  const proxy = ignitionProxy(spec);
  for (const item of os.prepare(spec, { arch, containerdVersion: opts.containerdVersion, proxy })) {
    if ('file' in item) addFile(item.file.path, item.file.content, item.file.mode, item.file.owner);
    else if ('fetched' in item) {
      const { path, mode, source, hash, owner } = item.fetched;
      addFetchedFile(path, mode, { source, ...(hash ? { verification: { hash } } : {}) }, owner);
    } else if ('link' in item) links.push({ ...item.link, overwrite: true });
    else if (!item.ifAbsent) addOwnUnit(item.unit, item.reservedFor);
    else if (!unitNames.has(item.unit.name)) units.push(item.unit);
  }
  if (seen.has(paths.containerdConfig) && !unitNames.has('containerd.service')) {
    // Whatever the image's unit passes as --config, read the file kubeseed writes (version 3).
    const requires = unitNames.has(CONTAINERD_SELECT_UNIT) ? CONTAINERD_SELECT_UNIT : undefined;
    const contents = renderContainerdDropin({ configPath: paths.containerdConfig, ...(requires ? { requires } : {}) });
    units.push({
      name: 'containerd.service',
      // Enabled where the image's presets leave it off (Fedora CoreOS); Flatcar's extension enables its own.
      ...(os.enableContainerd ? { enabled: true } : {}),
      dropins: [{ name: '10-kubeseed-config.conf', contents }],
    });
  }

  // Directories: kubeseed-owned directories holding a private file are 0700 (only root reads them);
  // every other parent keeps Ignition's default 0755.
  const dirModes = new Map<string, number>();
  if (needFirstboot) {
    dirModes.set(parentOf(FIRSTBOOT_SCRIPT), 0o700);
    dirModes.set(parentOf(FIRSTBOOT_DONE), 0o700);
  }
  for (const f of files) {
    const dir = parentOf(f.path);
    if ((f.mode & 0o077) === 0 && /(^|\/)kubeseed(\/|$)/.test(dir)) dirModes.set(dir, 0o700);
  }
  for (const d of dirModes.keys()) {
    if (seen.has(d)) throw new Error(`${who}: ${d} is both a file and a directory`);
  }
  const directories = [...dirModes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, mode]) => ({ path, mode }));

  const keys: string[] = [];
  for (const u of p.users) for (const k of u.sshAuthorizedKeys) if (!keys.includes(k)) keys.push(k);

  return {
    ignition: {
      version: IGNITION_SPEC_VERSION,
      security: { tls: { certificateAuthorities: [{ source: toBase64DataUrl(opts.coordinatorCa) }] } },
      ...(proxy ? { proxy } : {}),
    },
    ...(keys.length > 0 ? { passwd: { users: [{ name: IGNITION_LOGIN_USER, sshAuthorizedKeys: keys }] } } : {}),
    storage: { directories, files, links },
    systemd: { units },
  };
}

/** The host's Ignition config as compact JSON (user-data size limits count every byte). `host` null = the fleet config. */
export function renderIgnition(p: Provisioning, host: HostSpec | null, spec: ClusterSpec, opts: IgnitionOptions): string {
  return JSON.stringify(buildIgnitionConfig(p, host, spec, opts));
}
