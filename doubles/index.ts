/**
 * Where the TEST DOUBLES live and how to put them on a child's PATH. The doubles stand in for
 * kubeadm, kubectl, systemctl, containerd, kubelet, crictl and cloud-init: they enforce what the real
 * tools enforce on kubeseed's calls, never act on the real machine (everything below
 * KUBESEED_TEST_ROOT) and record each call as a JSON line in KUBESEED_DOUBLE_LOG.
 *
 * A test host is a directory (the test root). `prepareDoubleHost` installs on it what a host
 * prepared for kubeadm has: the doubles as programs in <root>/usr/local/bin (the only program
 * directory of the host on PATH), the files the kubelet and kubeadm packages ship (lib/packages.cjs:
 * the kubelet unit, 10-kubeadm.conf, manifests/.kubelet-keep), the programs kubeadm's preflight looks
 * up (ip, iptables, mount, nsenter, …: present only, never run), ip_forward on and swap off. A
 * program that is not installed is simply not on PATH: spawning it fails with ENOENT and a shell
 * says "not found" (exit 127), as on a real host.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../generator/util/package-root.ts';

/** The doubles' own directory (the programs that `prepareDoubleHost` links into a host). */
export const DOUBLES_DIR = join(packageRoot(import.meta.dirname), 'doubles', 'bin');
export const DOUBLE_NAMES = [
  'kubeadm',
  'kubectl',
  'systemctl',
  'containerd',
  'kubelet',
  'cloud-init',
  'etcd-gateway',
  'crictl',
  'runc',
] as const;
export type DoubleName = (typeof DOUBLE_NAMES)[number];

// By absolute path: this module is also bundled into dist/cli/ (the demo), where a relative one breaks.
const packages = createRequire(import.meta.url)(join(DOUBLES_DIR, 'lib', 'packages.cjs')) as {
  PACKAGES: Record<string, Record<string, [string, number]>>;
};

/**
 * Programs a prepared double host has on PATH: what kubeadm 1.33+'s preflight requires (losetup, mount,
 * cp; lib/kubeadm-preflight.cjs) and the networking tools every node carries (ip, iptables, conntrack,
 * nsenter), which kubeadm no longer looks up.
 */
export const PREFLIGHT_PROGRAMS = {
  '/usr/sbin': ['losetup', 'ip', 'iptables', 'conntrack'],
  '/usr/bin': ['mount', 'cp', 'nsenter'],
} as const;

/** The files a package puts on a host (lib/packages.cjs), for a harness that writes them itself. */
export function packageFiles(name: 'kubelet' | 'kubeadm'): Array<{ path: string; content: string; mode: number }> {
  const files = packages.PACKAGES[name];
  if (!files) throw new Error(`no package ${name} in doubles/bin/lib/packages.cjs`);
  return Object.entries(files).map(([path, [content, mode]]) => ({ path, content, mode }));
}

export interface DoubleHostOptions {
  /** Doubles installed as programs (default: all). */
  installed?: readonly DoubleName[];
  /** Preflight programs present (default: all of PREFLIGHT_PROGRAMS). */
  programs?: readonly string[];
  /** Package files written (default: kubelet and kubeadm). */
  packages?: ReadonlyArray<'kubelet' | 'kubeadm'>;
  /** /proc/sys/net/ipv4/ip_forward (default '1'). */
  ipForward?: string;
  /** Swap areas listed in /proc/swaps (default none). */
  swap?: boolean;
}

/** Makes `root` a host prepared for kubeadm (see the header); idempotent. */
export function prepareDoubleHost(root: string, o: DoubleHostOptions = {}): void {
  const put = (path: string, content: string, mode: number) => {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content, { mode });
    chmodSync(full, mode);
  };
  const bin = join(root, 'usr/local/bin');
  mkdirSync(bin, { recursive: true });
  for (const name of o.installed ?? DOUBLE_NAMES) {
    rmSync(join(bin, name), { force: true });
    symlinkSync(join(DOUBLES_DIR, name), join(bin, name));
  }
  const wanted = o.programs ?? Object.values(PREFLIGHT_PROGRAMS).flat();
  for (const [dir, names] of Object.entries(PREFLIGHT_PROGRAMS))
    for (const name of names.filter((n) => wanted.includes(n)))
      put(
        `${dir}/${name}`,
        `#!/bin/sh\necho "TEST DOUBLE host: ${dir}/${name} is here for kubeadm's preflight lookup only" >&2\nexit 1\n`,
        0o755,
      );
  for (const p of o.packages ?? ['kubelet', 'kubeadm']) for (const f of packageFiles(p)) put(f.path, f.content, f.mode);
  put('/proc/sys/net/ipv4/ip_forward', `${o.ipForward ?? '1'}\n`, 0o644);
  put(
    '/proc/swaps',
    `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n${o.swap ? '/swap.img                               file\t\t2097148\t\t0\t\t-2\n' : ''}`,
    0o444,
  );
}

export interface DoubleEnvOptions {
  root: string;
  log: string;
  clusterState?: string;
  fail?: string;
  timeScale?: number;
  sleepMs?: string;
  active?: string[];
  kubernetesVersion?: string;
  containerdVersion?: string;
  /** How the host is prepared (prepareDoubleHost); `false` leaves the root as it is (nothing installed). */
  host?: DoubleHostOptions | false;
}

/**
 * Environment for a process on the test host `root`, prepared with `prepareDoubleHost` unless
 * `host: false`. PATH finds the host's installed programs (<root>/usr/local/bin) first, then node and
 * the system directories (sh, openssl), which hold no kubeadm/kubectl/kubelet/cloud-init, so a real
 * one on the test machine is never reached.
 */
export function doubleEnv(o: DoubleEnvOptions): Record<string, string> {
  if (o.host !== false) prepareDoubleHost(o.root, o.host ?? {});
  const env: Record<string, string> = {
    PATH: `${join(o.root, 'usr/local/bin')}:${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`,
    KUBESEED_TEST_ROOT: o.root,
    KUBESEED_DOUBLE_LOG: o.log,
  };
  if (o.clusterState) env.KUBESEED_DOUBLE_CLUSTER_STATE = o.clusterState;
  if (o.fail) env.KUBESEED_DOUBLE_FAIL = o.fail;
  if (o.timeScale !== undefined) env.KUBESEED_DOUBLE_TIME_SCALE = String(o.timeScale);
  if (o.sleepMs) env.KUBESEED_DOUBLE_SLEEP_MS = o.sleepMs;
  if (o.active) env.KUBESEED_DOUBLE_ACTIVE = o.active.join(',');
  if (o.kubernetesVersion) env.KUBESEED_DOUBLE_K8S_VERSION = o.kubernetesVersion;
  if (o.containerdVersion) env.KUBESEED_DOUBLE_CONTAINERD_VERSION = o.containerdVersion;
  return env;
}

export interface DoubleCall {
  time: string;
  ms: number;
  tool: string;
  argv: string[];
  exit: number;
  root?: string;
  error?: string;
  configMode?: number | null;
  [key: string]: unknown;
}

/** The recorded calls, in order. */
export function readDoubleLog(path: string): DoubleCall[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DoubleCall);
}

export function doublePath(name: DoubleName): string {
  return join(DOUBLES_DIR, name);
}
