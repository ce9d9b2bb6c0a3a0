/**
 * Preflight before any step. Each check answers ok or "wait, because …": the agent heartbeats the
 * reason to the coordinator, logs it loudly and tries again — a host that is still syncing its
 * clock is not a failure. Role-aware: a load balancer needs none of the Kubernetes checks.
 *
 * On cloud-init hosts the agent's first step (prepare-host) installs containerd, kubeadm and the
 * kubelet: when the enrollment says the host's plan starts with it (`prepareHost`), only cloud-init
 * and the clock are checked until it has succeeded (its sentinel), and the agent runs the whole
 * preflight again right after that step. Ignition hosts prepare before the agent starts (and a
 * coordinator that plans no prepare-host never says so): every check runs at once.
 */
import { isIP } from 'node:net';
import type { Role } from '../protocol/steps.ts';
import type { Exec, Fs, Net } from './io.ts';
import type { Session } from './machine.ts';

export interface PreflightCheck {
  name: string;
  ok: boolean;
  message: string;
}

export interface PreflightContext {
  fs: Fs;
  exec: Exec;
  net: Net;
  /** Agent clock now, ms. */
  now: number;
  /** Best current estimate of coordinator clock − agent clock, ms. */
  serverSkewMs: number;
  /** What an earlier pass learnt of cloud-init: skip `cloud-init status --wait` after it passed once. */
  cloudInit?: CloudInitState;
  /** prepare-host succeeded on this host (its sentinel exists). */
  prepared?: boolean;
  endpointTimeoutMs?: number;
}

export const MAX_CLOCK_SKEW_MS = 30_000;

/** `done`: cloud-init finished; `absent`: not installed (an Ignition host, prepared before the agent). */
export type CloudInitState = 'done' | 'absent';

/** First x.y[.z] in a version banner. */
export function parseVersion(text: string): [number, number, number] | null {
  const m = /(?<![\d.])v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** kubelet/kubeadm `x.y.z` must equal the spec's version (only minor when the spec gives only minor). */
export function versionMatches(actual: string, wanted: string): boolean {
  const a = parseVersion(actual);
  const w = parseVersion(wanted);
  if (!a || !w) return false;
  const patchGiven = /\d+\.\d+\.\d+/.test(wanted);
  return a[0] === w[0] && a[1] === w[1] && (!patchGiven || a[2] === w[2]);
}

/** `kubeadm version` prints `&version.Info{... GitVersion:"v1.37.1" ...}`. */
export function parseKubeadmVersion(output: string): string | null {
  const m = /GitVersion:"(v?[\d.]+[^"]*)"/.exec(output);
  return m?.[1] ?? (parseVersion(output) ? output.trim() : null);
}

function needsKube(role: Role): boolean {
  return role === 'control-plane' || role === 'worker';
}

async function checkCloudInit(ctx: PreflightContext): Promise<PreflightCheck & { state?: CloudInitState }> {
  if (ctx.cloudInit === 'done') return { name: 'cloud-init', ok: true, message: 'done', state: 'done' };
  if (ctx.cloudInit === 'absent') return { name: 'cloud-init', ok: true, message: 'not installed (Ignition host)', state: 'absent' };
  const r = await ctx.exec.run(['cloud-init', 'status', '--wait'], { timeoutMs: 30 * 60_000 });
  if (r.notFound) return { name: 'cloud-init', ok: true, message: 'not installed (Ignition host)', state: 'absent' };
  // exit 2 = "done with recoverable errors" (degraded); the agent's own checks below decide.
  if (r.code === 0 || r.code === 2)
    return { name: 'cloud-init', ok: true, message: r.output.trim().split('\n').pop() ?? 'done', state: 'done' };
  return { name: 'cloud-init', ok: false, message: `cloud-init status --wait exited ${r.code}: ${r.output.trim().slice(-300)}` };
}

async function checkContainerd(ctx: PreflightContext): Promise<PreflightCheck> {
  const r = await ctx.exec.run(['containerd', '--version'], { timeoutMs: 10_000 });
  if (r.notFound || r.code !== 0)
    return { name: 'containerd', ok: false, message: 'containerd is not installed yet (the user-data installs containerd 2.x)' };
  const v = parseVersion(r.output.replace(/containerd\/v\d+/g, ''));
  if (!v) return { name: 'containerd', ok: false, message: `cannot read the containerd version from "${r.output.trim()}"` };
  if (v[0] < 2)
    return {
      name: 'containerd',
      ok: false,
      message: `containerd ${v.join('.')} is below 2.0 (kubelet 1.38 needs the RuntimeConfig RPC): install containerd 2.x`,
    };
  return { name: 'containerd', ok: true, message: `containerd ${v.join('.')}` };
}

async function checkBinary(ctx: PreflightContext, name: 'kubelet' | 'kubeadm', wanted: string): Promise<PreflightCheck> {
  const argv = name === 'kubelet' ? ['kubelet', '--version'] : ['kubeadm', 'version'];
  const r = await ctx.exec.run(argv, { timeoutMs: 10_000 });
  if (r.notFound || r.code !== 0) return { name, ok: false, message: `${name} is not installed yet` };
  const version = name === 'kubeadm' ? parseKubeadmVersion(r.output) : r.output.trim();
  if (!version || !versionMatches(version, wanted))
    return { name, ok: false, message: `${name} is ${version ?? 'unknown'}, the spec wants ${wanted}` };
  return { name, ok: true, message: `${name} ${version}` };
}

async function checkSwap(ctx: PreflightContext): Promise<PreflightCheck> {
  const text = await ctx.fs.readText('/proc/swaps');
  const active = (text ?? '')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim());
  if (active.length > 0)
    return { name: 'swap', ok: false, message: `swap is on (${active.map((l) => l.split(/\s+/)[0]).join(', ')}): swapoff -a` };
  return { name: 'swap', ok: true, message: 'off' };
}

async function checkIpForward(ctx: PreflightContext): Promise<PreflightCheck> {
  const v = (await ctx.fs.readText('/proc/sys/net/ipv4/ip_forward'))?.trim();
  if (v !== '1') return { name: 'ip_forward', ok: false, message: `net.ipv4.ip_forward is ${v ?? 'unreadable'}, needs 1` };
  return { name: 'ip_forward', ok: true, message: '1' };
}

export function checkClock(now: number, serverSkewMs: number): PreflightCheck {
  const seconds = Math.round(Math.abs(serverSkewMs) / 1000);
  if (Math.abs(serverSkewMs) > MAX_CLOCK_SKEW_MS) {
    const direction = serverSkewMs > 0 ? 'behind' : 'ahead of';
    return {
      name: 'clock',
      ok: false,
      message: `this clock is ${seconds} s ${direction} the coordinator's (max 30 s): waiting for time sync (chrony/timesyncd); now ${new Date(now).toISOString()}`,
    };
  }
  return { name: 'clock', ok: true, message: `within ${seconds} s of the coordinator` };
}

/**
 * The endpoint's name must resolve before init or join — and to the load balancer's address
 * when the coordinator names one (`address`; older coordinators send only `vip`) — whatever the
 * role and whether or not there is a VIP: kubeadm and the kubelet reach the API by this name, and
 * a name that does not resolve fails kubeadm late, on the host. Then a TCP connect to that
 * address must be refused or accepted, not time out.
 */
async function checkEndpoint(ctx: PreflightContext, session: Session): Promise<PreflightCheck[]> {
  const { host, port } = session.endpoint;
  const expected = session.endpoint.address ?? session.endpoint.vip;
  const checks: PreflightCheck[] = [];
  let addresses: string[] = [];
  if (isIP(host) === 0) {
    try {
      addresses = await ctx.net.resolve(host);
    } catch (error) {
      checks.push({
        name: 'endpoint-dns',
        ok: false,
        message: `${host} does not resolve (${(error as Error).message}); it must resolve${expected ? ` to ${expected}` : ''}: give this host nameservers that know it (or set networking.hostsFile)`,
      });
      return checks;
    }
    if (expected && !addresses.includes(expected)) {
      checks.push({
        name: 'endpoint-dns',
        ok: false,
        message: `${host} resolves to ${addresses.join(', ') || 'nothing'}, not to ${expected === session.endpoint.vip ? 'the VIP' : "the load balancer's address"} ${expected}: fix the DNS record (or networking.hostsFile)`,
      });
      return checks;
    }
    checks.push({ name: 'endpoint-dns', ok: true, message: `${host} → ${expected ?? addresses.join(', ')}` });
  }
  // Unknown load balancer address: probe what the name resolved to, as kubeadm will connect.
  const target = expected ?? addresses[0] ?? host;
  const result = await ctx.net.tcpProbe(target, port, ctx.endpointTimeoutMs ?? 5_000);
  const reached = result === 'accepted' || result === 'refused';
  // The first control plane with kube-vip raises the VIP itself during init: a control plane only
  // warns here; its join re-checks the endpoint before running kubeadm.
  const blocking = session.role !== 'control-plane';
  checks.push({
    name: 'endpoint-tcp',
    ok: reached || !blocking,
    message: reached
      ? `${target}:${port} ${result}`
      : `${target}:${port} ${result} (must be accepted or refused, not timed out)${blocking ? '' : ' — continuing: the VIP may come up with init'}`,
  });
  return checks;
}

export interface PreflightResult {
  ok: boolean;
  checks: PreflightCheck[];
  cloudInit?: CloudInitState;
}

/** Runs the checks in order and stops at the first that says wait. */
export async function runPreflight(session: Session, ctx: PreflightContext): Promise<PreflightResult> {
  const checks: PreflightCheck[] = [];
  const add = (c: PreflightCheck) => {
    checks.push({ name: c.name, ok: c.ok, message: c.message });
    return c.ok;
  };
  const cloudInit = await checkCloudInit(ctx);
  const result = (ok: boolean): PreflightResult => ({ ok, checks, ...(cloudInit.state ? { cloudInit: cloudInit.state } : {}) });
  if (!add(cloudInit)) return result(false);
  if (!add(checkClock(ctx.now, ctx.serverSkewMs))) return result(false);
  // cloud-init host not prepared yet: the packages come with the prepare-host step, checked after it.
  // Only when the coordinator said this host's plan starts with prepare-host (enroll response).
  const pending = session.prepareHost === true && ctx.prepared !== true;
  if (needsKube(session.role) && pending) {
    add({ name: 'packages', ok: true, message: 'checked once the prepare-host step has installed them' });
    return result(true);
  }
  if (needsKube(session.role)) {
    if (!add(await checkContainerd(ctx))) return result(false);
    if (!add(await checkBinary(ctx, 'kubelet', session.kubernetesVersion))) return result(false);
    if (!add(await checkBinary(ctx, 'kubeadm', session.kubernetesVersion))) return result(false);
    if (!add(await checkSwap(ctx))) return result(false);
    if (!add(await checkIpForward(ctx))) return result(false);
    for (const c of await checkEndpoint(ctx, session)) if (!add(c)) return result(false);
  }
  return result(true);
}
