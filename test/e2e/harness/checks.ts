/**
 * What a finished rollout must show, read from three independent records: the TEST DOUBLES' call
 * log (kubeadm init/join with end times, discovery through the endpoint), HAProxy's own connection
 * log on each load balancer, and the coordinator's status (steps with release and finish times).
 * The plan files (`out/plan/<host>.yaml`) give each step's gates (`after`, concurrency group).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type DoubleCall, readDoubleLog } from '../../../doubles/index.ts';
import type { CoordinatorStatus, E2eCluster, StepStatus } from './cluster.ts';
import { hostIp } from './spec.ts';

export interface JoinCall {
  host: string;
  controlPlane: boolean;
  exit: number;
  /** Start: the discovery record written just before the kubeadm double runs (ms). */
  startMs: number;
  endMs: number;
}

export interface GateLag {
  step: string;
  gate: string;
  gateOpenMs: number;
  releasedMs: number;
  /** Release − gate opening (coordinator). */
  lagMs: number;
  /**
   * kubeadm invoked on the host (kubeadm-api start record) − the later of the gate opening and the
   * agent's `preflight-ok` (before that the agent was not asking for work), for init/join steps.
   */
  startLagMs?: number;
  /** Set when the agent passed its preflight only after the gate opened. */
  agentReadyMs?: number;
}

/** When the host's agent last passed its preflight (its `preflight-ok` log line) before `beforeMs`, from its agent.log. */
export function agentReadyAt(cluster: E2eCluster, host: string, beforeMs: number): number | undefined {
  const h = cluster.hosts.get(host);
  if (!h) return undefined;
  let text = '';
  try {
    text = readFileSync(join(h.host.logDir, 'agent.log'), 'utf8');
  } catch {
    return undefined;
  }
  let at: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.includes('"event":"preflight-ok"')) continue;
    const t = Date.parse((JSON.parse(line) as { time: string }).time);
    if (Number.isFinite(t) && t <= beforeMs) at = t;
  }
  return at;
}

export interface RolloutFacts {
  calls: DoubleCall[];
  inits: DoubleCall[];
  controlPlaneJoins: JoinCall[];
  workerJoins: JoinCall[];
  joinsBeforeInit: string[];
  controlPlaneJoinOverlaps: string[];
  /** Client IPs seen in HAProxy's logs, with the accept times (ms). */
  haproxyClients: Map<string, number[]>;
  joinsWithoutVip: string[];
  notDone: string[];
  gateLags: GateLag[];
}

interface PlanStep {
  step: string;
  kind: string;
  order: number;
  after?: string[];
  concurrency?: string;
}

export function readPlanSteps(outDir: string): PlanStep[] {
  const dir = join(outDir, 'plan');
  const steps: PlanStep[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.yaml')) continue;
    const doc = parse(readFileSync(join(dir, f), 'utf8')) as { steps?: PlanStep[] } | null;
    for (const s of doc?.steps ?? []) steps.push(s);
  }
  return steps.sort((a, b) => a.order - b.order);
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** `10.0.0.5:41234 [22/Nov/2026:08:55:00.123] kube-apiserver kube-apiserver/cp1 …` → client IP and accept time. */
export function parseHaproxyLine(line: string): { client: string; acceptMs: number; server: string } | null {
  const m = /^(\d+\.\d+\.\d+\.\d+):\d+ \[(\d+)\/(\w+)\/(\d+):(\d+):(\d+):(\d+)\.(\d+)\] \S+ (\S+)/.exec(line.trim());
  if (!m) return null;
  const [, client, d, mon, y, hh, mm, ss, ms, server] = m;
  const acceptMs = Date.UTC(Number(y), MONTHS[mon!] ?? 0, Number(d), Number(hh), Number(mm), Number(ss), Number(ms));
  return { client: client!, acceptMs, server: server! };
}

export function readHaproxyClients(cluster: E2eCluster): Map<string, number[]> {
  const clients = new Map<string, number[]>();
  for (const h of cluster.hosts.values()) {
    if (h.spec.role !== 'load-balancer') continue;
    let text = '';
    try {
      text = readFileSync(join(h.host.logDir, 'haproxy.log'), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const p = parseHaproxyLine(line);
      if (!p) continue;
      clients.set(p.client, [...(clients.get(p.client) ?? []), p.acceptMs]);
    }
  }
  return clients;
}

function overlaps(a: { startMs: number; endMs: number }, b: { startMs: number; endMs: number }): boolean {
  return a.startMs < b.endMs && b.startMs < a.endMs;
}

export function analyseRollout(cluster: E2eCluster, status: CoordinatorStatus): RolloutFacts {
  const calls = readDoubleLog(cluster.doubleLog);
  const inits = calls.filter((c) => c.tool === 'kubeadm' && c.argv[0] === 'init' && c.argv[1] !== 'phase');
  const initOk = inits.find((c) => c.exit === 0);
  const discoveries = calls.filter((c) => c.tool === 'kubeadm-api' && c.argv[0] === 'discovery');
  const joins: JoinCall[] = calls
    .filter((c) => c.tool === 'kubeadm' && c.argv[0] === 'join')
    .map((c) => {
      const host = String(c.nodeName ?? c.host ?? '?');
      const started = discoveries.filter((d) => d.host === host && d.ms <= c.ms).at(-1);
      return { host, controlPlane: c.controlPlane === true, exit: c.exit, startMs: started?.ms ?? c.ms, endMs: c.ms };
    });
  const controlPlaneJoins = joins.filter((j) => j.controlPlane);
  const workerJoins = joins.filter((j) => !j.controlPlane);
  const joinsBeforeInit = joins.filter((j) => !initOk || j.startMs < initOk.ms).map((j) => `${j.host}@${j.startMs}`);
  const controlPlaneJoinOverlaps: string[] = [];
  const cpOk = controlPlaneJoins.filter((j) => j.exit === 0);
  for (let i = 0; i < cpOk.length; i++)
    for (let k = i + 1; k < cpOk.length; k++)
      if (overlaps(cpOk[i]!, cpOk[k]!)) controlPlaneJoinOverlaps.push(`${cpOk[i]!.host}×${cpOk[k]!.host}`);
  // The coordinator's view as well: released..finished intervals of control-plane join steps.
  const steps = [...status.hosts.flatMap((h) => h.steps), ...status.coordinatorSteps];
  const cpSteps = steps.filter((s) => s.kind === 'kubeadm-join-control-plane' && s.releasedAt && s.finishedAt);
  for (let i = 0; i < cpSteps.length; i++)
    for (let k = i + 1; k < cpSteps.length; k++) {
      const a = { startMs: cpSteps[i]!.releasedAt!, endMs: cpSteps[i]!.finishedAt! };
      const b = { startMs: cpSteps[k]!.releasedAt!, endMs: cpSteps[k]!.finishedAt! };
      if (overlaps(a, b)) controlPlaneJoinOverlaps.push(`coordinator ${cpSteps[i]!.id}×${cpSteps[k]!.id}`);
    }
  const haproxyClients = readHaproxyClients(cluster);
  const joinsWithoutVip: string[] = [];
  for (const j of joins.filter((x) => x.exit === 0)) {
    const spec = cluster.spec.hosts.find((h) => h.name === j.host);
    const ip = spec ? hostIp(cluster.spec, spec) : '?';
    const seen = (haproxyClients.get(ip) ?? []).some((t) => t >= j.startMs - 120_000 && t <= j.endMs + 1000);
    const discovered = discoveries.some((d) => d.host === j.host && d.exit === 0 && d.ms <= j.endMs);
    if (!seen || !discovered)
      joinsWithoutVip.push(`${j.host} (${ip}): haproxy ${seen ? 'saw it' : 'never saw it'}, discovery ${discovered ? 'ok' : 'missing'}`);
  }
  const notDone = status.hosts
    .filter((h) => !h.done)
    .map((h) => `${h.name}: ${h.currentStep ?? ''} ${h.waitingFor ?? ''} ${h.message ?? ''}`);
  return {
    calls,
    inits,
    controlPlaneJoins,
    workerJoins,
    joinsBeforeInit,
    controlPlaneJoinOverlaps,
    haproxyClients,
    joinsWithoutVip,
    notDone,
    gateLags: gateLags(cluster, steps),
  };
}

/**
 * For every step with a gate on another host (plan `after`, or the previous member of a
 * one-at-a-time group): the time from the last gate opening (the gating step's finish) to the
 * step's release to its agent — counted only when the agent was already waiting for it (released
 * after the gate, i.e. the host had enrolled and asked before).
 */
export function gateLags(cluster: E2eCluster, steps: StepStatus[]): GateLag[] {
  const starts = readDoubleLog(cluster.doubleLog).filter((c) => c.tool === 'kubeadm-api' && c.argv[0] === 'start');
  const byId = new Map(steps.map((s) => [s.id, s]));
  const plan = readPlanSteps(cluster.outDir);
  const lags: GateLag[] = [];
  const groups = new Map<string, PlanStep[]>();
  for (const p of plan) if (p.concurrency?.includes('at most 1')) groups.set(p.concurrency, [...(groups.get(p.concurrency) ?? []), p]);
  for (const p of plan) {
    const s = byId.get(p.step);
    if (!s?.releasedAt || s.attempt > 1 || s.failures > 0) continue;
    const host = p.step.split('/')[0];
    const gates = (p.after ?? []).filter((a) => a.split('/')[0] !== host);
    const group = p.concurrency ? groups.get(p.concurrency) : undefined;
    const previous = group ? group[group.indexOf(p) - 1] : undefined;
    if (previous) gates.push(previous.step);
    // upload-certs mode: a control-plane join also waits for a fresh kubeadm-certs upload (a coordinator-made step).
    if (p.kind === 'kubeadm-join-control-plane')
      for (const u of steps) if (u.kind === 'upload-certs' && u.finishedAt && u.finishedAt <= s.releasedAt) gates.push(u.id);
    let last: { id: string; at: number } | null = null;
    for (const g of gates) {
      const gs = byId.get(g);
      if (gs?.finishedAt && (!last || gs.finishedAt > last.at)) last = { id: g, at: gs.finishedAt };
    }
    if (!last) continue;
    // The host asked for work before the gate opened when its own previous step (if any) finished earlier.
    const own = plan.filter((q) => q.step.startsWith(`${host}/`) && q.order < p.order).map((q) => byId.get(q.step)?.finishedAt ?? 0);
    if (own.some((t) => t > last.at)) continue;
    // A host whose agent started after the gate opened was not waiting for it (booted late).
    const agentStartedAt = cluster.hosts.get(host ?? '')?.agentStartedAt;
    if (agentStartedAt === undefined || agentStartedAt > last.at) continue;
    // An agent still in its preflight (e.g. `cloud-init status --wait`) when the gate opened asks
    // for the step only once preflight passed: its start is counted from that moment.
    const sub = p.kind === 'kubeadm-init' ? 'init' : p.kind.startsWith('kubeadm-join') ? 'join' : null;
    const started = sub ? starts.find((c) => c.host === host && c.argv[1] === sub && c.ms >= s.releasedAt! - 50) : undefined;
    const readyAt = agentReadyAt(cluster, host ?? '', started?.ms ?? Number.POSITIVE_INFINITY);
    const from = Math.max(last.at, readyAt ?? last.at);
    lags.push({
      step: p.step,
      gate: last.id,
      gateOpenMs: last.at,
      releasedMs: s.releasedAt,
      lagMs: s.releasedAt - last.at,
      ...(started ? { startLagMs: started.ms - from } : {}),
      ...(from > last.at ? { agentReadyMs: from } : {}),
    });
  }
  return lags;
}
