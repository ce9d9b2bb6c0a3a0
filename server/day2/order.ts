/**
 * The order of day-2 work (issue 22, ADR 0033/0039): a Kubernetes upgrade and a certificate
 * renewal as lists of steps, one host each, with `after` edges the coordinator releases them by —
 * the same shape as the rollout's plan. Pure: no fs, env or clock; what the cluster looks like
 * (versions, which hosts are Ready or failed) comes in as data, and a request that must not start
 * is refused with every reason at once (`Day2Refusal`).
 *
 * Upgrade (kubeadm's "Upgrading kubeadm clusters"): external etcd members first when their version
 * changes, one at a time (etcd's rolling upgrade; only they when Kubernetes keeps its version); `kubeadm upgrade apply` exactly once, on the first control plane; then
 * each other control plane one at a time with `kubeadm upgrade node`; every control plane drains,
 * takes kubelet/kubectl from the target minor's repository and is uncordoned before the next starts;
 * workers last, in batches of workerParallelism: drain (PodDisruptionBudgets respected, with a
 * timeout), `kubeadm upgrade node`, kubelet/kubectl, uncordon. A batch starts when the one before
 * is uncordoned.
 *
 * Renewal: external etcd members one at a time (new certificates, restart, healthy and quorum
 * before the next), then each control plane one at a time (apiserver-etcd-client with external
 * etcd, `kubeadm certs renew all`, static Pods restarted, API server ready before the next).
 */
import type { Role, StepKind } from '../../protocol/steps.ts';

/** Day-2 step kinds (ADR 0039, 0043): the agent's (protocol/steps.ts). */
export type Day2StepKind = Extract<
  StepKind,
  | 'etcd-member-upgrade'
  | 'kubeadm-upgrade-apply'
  | 'kubeadm-upgrade-node'
  | 'node-drain'
  | 'kubelet-upgrade'
  | 'node-uncordon'
  | 'etcd-cert-renew'
  | 'control-plane-cert-renew'
>;

/** A host as the day-2 planner sees it: its role and whether it may be touched now. */
export interface Day2Host {
  name: string;
  role: Role;
  /** The Node is Ready (control planes and workers); an etcd member is healthy. */
  ready: boolean;
  /** Its last rollout or day-2 step failed and was not retried to success. */
  failed: boolean;
}

export interface Day2Step {
  /** `<host>/<kind>`; unique in a plan. */
  id: string;
  kind: Day2StepKind;
  host: string;
  role: Role;
  /** Step ids that must have succeeded before this one is released. */
  after: string[];
  /** What the step waits for, in words (`kubeseed plan`, the status page). */
  waitsFor: string;
  params: Record<string, unknown>;
}

export interface Day2Plan {
  operation: 'upgrade' | 'renew';
  steps: Day2Step[];
}

/** The request must not start; `reasons` names every problem and its fix. */
export class Day2Refusal extends Error {
  readonly code = 'DAY2_REFUSED';
  constructor(readonly reasons: string[]) {
    super(`refused:\n${reasons.map((r) => `  - ${r}`).join('\n')}`);
  }
}

export interface UpgradeInput {
  /** The cluster's Kubernetes version now (kubeadm-config), e.g. `1.37.1`. */
  currentVersion: string;
  /** spec.kubernetesVersion after the operator raised it. */
  targetVersion: string;
  /** External etcd: the members' version now and the one wanted; absent for stacked etcd. */
  etcd?: { currentVersion: string; targetVersion: string };
  /** Every host of the cluster, in spec order (the first control plane runs `upgrade apply`). */
  hosts: Day2Host[];
  workerParallelism: number;
  /** kubectl drain --timeout, seconds. */
  drainTimeoutSeconds: number;
  /** Prefix of every step id (`upgrade-1.37.2`). */
  operationId?: string;
}

interface Version {
  major: number;
  minor: number;
  patch: number;
}

function parseVersion(text: string, what: string, reasons: string[]): Version | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) {
    reasons.push(`${what} "${text}" is not a release version like 1.37.2`);
    return null;
  }
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

const order = (a: Version, b: Version) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;
const show = (v: Version) => `${v.major}.${v.minor}.${v.patch}`;

/**
 * Versions may go up by at most one minor, never down: kubeadm's skew policy, and etcd's upgrade
 * policy ("Upgrading etcd clusters and applications": patch upgrades, or one minor at a time —
 * "Upgrades that skip a minor version are not supported"). kubeseed also refuses patch downgrades.
 */
function checkVersions(label: string, from: Version | null, to: Version | null, reasons: string[], who: string): void {
  if (!from || !to) return;
  if (order(to, from) < 0)
    reasons.push(`${label}: ${show(to)} is older than the running ${show(from)}; kubeseed does not downgrade (restore a backup instead)`);
  else if (to.major !== from.major || to.minor > from.minor + 1)
    reasons.push(`${label}: ${show(from)} → ${show(to)} skips a minor; upgrade to ${from.major}.${from.minor + 1}.x first (${who})`);
}

/** Refuses to start while any host is failed or not Ready. */
function checkHosts(hosts: readonly Day2Host[], reasons: string[]): void {
  const failed = hosts.filter((h) => h.failed).map((h) => h.name);
  const notReady = hosts.filter((h) => !h.failed && !h.ready).map((h) => h.name);
  if (failed.length > 0)
    reasons.push(`hosts failed: ${failed.join(', ')}; retry or remove them first (kubeseed retry HOST / kubeseed remove HOST)`);
  if (notReady.length > 0)
    reasons.push(`hosts not Ready: ${notReady.join(', ')}; wait until they are Ready (kubeseed status) before starting`);
}

/**
 * Step ids: `<host>/<kind>`, with the operation after the host (`cp1/upgrade-1.37.2/kubeadm-upgrade-apply`)
 * when one is given, so a later upgrade or renewal never meets an earlier one's records or sentinels.
 * The host comes first: the coordinator finds a host's steps by that prefix.
 */
function withOperation(operationId: string | undefined, plan: Day2Plan): Day2Plan {
  if (!operationId) return plan;
  const prefixed = (id: string) => id.replace(/^([^/]+)\//, `$1/${operationId}/`);
  return { ...plan, steps: plan.steps.map((s) => ({ ...s, id: prefixed(s.id), after: s.after.map(prefixed) })) };
}

function step(host: Day2Host, kind: Day2StepKind, after: string[], waitsFor: string, params: Record<string, unknown>): Day2Step {
  return { id: `${host.name}/${kind}`, kind, host: host.name, role: host.role, after, waitsFor, params };
}

/**
 * One node's chain. Control planes (`kubeadm` is their apply or node step): kubeadm, drain, kubelet,
 * uncordon — kubeadm's documented order. Workers: drain, `kubeadm upgrade node`, kubelet, uncordon.
 */
function nodeChain(host: Day2Host, kubeadm: Day2Step | null, after: string[], version: string, drainTimeoutSeconds: number): Day2Step[] {
  const drain = (prev: string[]) =>
    step(host, 'node-drain', prev, prev === after ? 'the nodes before it uncordoned' : 'its kubeadm upgrade', {
      nodeName: host.name,
      timeoutSeconds: drainTimeoutSeconds,
      ignoreDaemonSets: true,
      deleteEmptyDirData: true,
    });
  const steps: Day2Step[] = [];
  if (kubeadm) {
    steps.push(kubeadm);
    steps.push(drain([kubeadm.id]));
  } else {
    const d = drain(after);
    steps.push(d, step(host, 'kubeadm-upgrade-node', [d.id], 'its drain', { nodeName: host.name, version }));
  }
  const kubelet = step(host, 'kubelet-upgrade', [(steps.at(-1) as Day2Step).id], 'its drain and kubeadm upgrade', {
    nodeName: host.name,
    version,
    // From the target minor's package repository: unhold, install, hold, restart the kubelet.
    repositoryMinor: version.split('.').slice(0, 2).join('.'),
    packages: ['kubelet', 'kubectl'],
  });
  steps.push(kubelet, step(host, 'node-uncordon', [kubelet.id], 'its kubelet upgrade', { nodeName: host.name }));
  return steps;
}

/** The steps of `kubeseed upgrade` (see the header), or a refusal naming every reason. */
export function planUpgrade(input: UpgradeInput): Day2Plan {
  return withOperation(input.operationId, upgradeSteps(input));
}

function upgradeSteps(input: UpgradeInput): Day2Plan {
  const reasons: string[] = [];
  const from = parseVersion(input.currentVersion, 'the cluster version', reasons);
  const to = parseVersion(input.targetVersion, 'spec.kubernetesVersion', reasons);
  checkVersions('spec.kubernetesVersion', from, to, reasons, 'kubeadm upgrades one minor at a time');
  if (from && to && order(from, to) === 0 && (!input.etcd || input.etcd.currentVersion === input.etcd.targetVersion))
    reasons.push(`the cluster already runs ${show(to)}; raise spec.kubernetesVersion to upgrade`);
  let etcdChanges = false;
  if (input.etcd) {
    const ef = parseVersion(input.etcd.currentVersion, 'the etcd version', reasons);
    const et = parseVersion(input.etcd.targetVersion, 'the wanted etcd version', reasons);
    checkVersions('spec.etcd.version', ef, et, reasons, "etcd's upgrade policy: one minor at a time");
    etcdChanges = Boolean(ef && et && order(ef, et) !== 0);
  }
  const controlPlanes = input.hosts.filter((h) => h.role === 'control-plane');
  if (controlPlanes.length === 0) reasons.push('the cluster has no control plane');
  checkHosts(input.hosts, reasons);
  if (!Number.isInteger(input.workerParallelism) || input.workerParallelism < 1)
    reasons.push(`workerParallelism ${input.workerParallelism} must be a whole number ≥ 1`);
  if (reasons.length > 0) throw new Day2Refusal(reasons);
  const version = show(to as Version);

  const steps: Day2Step[] = [];
  let prev: string[] = [];
  if (etcdChanges && input.etcd) {
    for (const member of input.hosts.filter((h) => h.role === 'etcd')) {
      const s = step(member, 'etcd-member-upgrade', prev, prev.length ? 'the member before it healthy, with quorum' : 'nothing', {
        nodeName: member.name,
        version: input.etcd.targetVersion,
      });
      steps.push(s);
      prev = [s.id];
    }
  }
  // Only etcd changes: its members, and no node is drained.
  if (from && to && order(from, to) === 0) return { operation: 'upgrade', steps };
  controlPlanes.forEach((cp, i) => {
    const first =
      i === 0
        ? step(cp, 'kubeadm-upgrade-apply', prev, prev.length ? 'every etcd member upgraded' : 'nothing', { nodeName: cp.name, version })
        : step(cp, 'kubeadm-upgrade-node', prev, 'the control plane before it uncordoned', { nodeName: cp.name, version });
    const chain = nodeChain(cp, first, prev, version, input.drainTimeoutSeconds);
    steps.push(...chain);
    prev = [(chain.at(-1) as Day2Step).id];
  });
  const workers = input.hosts.filter((h) => h.role === 'worker');
  for (let i = 0; i < workers.length; i += input.workerParallelism) {
    const batch = workers.slice(i, i + input.workerParallelism);
    const ends: string[] = [];
    for (const w of batch) {
      const chain = nodeChain(w, null, prev, version, input.drainTimeoutSeconds);
      steps.push(...chain);
      ends.push((chain.at(-1) as Day2Step).id);
    }
    prev = ends;
  }
  return { operation: 'upgrade', steps };
}

export interface RenewalInput {
  hosts: Day2Host[];
  topology: 'stacked' | 'external-etcd';
  /** Prefix of every step id (`renew-20261206T0600`). */
  operationId?: string;
}

/** The steps of `kubeseed renew` (see the header), or a refusal naming every reason. */
export function planRenewal(input: RenewalInput): Day2Plan {
  return withOperation(input.operationId, renewalSteps(input));
}

function renewalSteps(input: RenewalInput): Day2Plan {
  const reasons: string[] = [];
  checkHosts(input.hosts, reasons);
  const controlPlanes = input.hosts.filter((h) => h.role === 'control-plane');
  if (controlPlanes.length === 0) reasons.push('the cluster has no control plane');
  if (reasons.length > 0) throw new Day2Refusal(reasons);
  const external = input.topology === 'external-etcd';
  const steps: Day2Step[] = [];
  let prev: string[] = [];
  const add = (s: Day2Step) => {
    steps.push(s);
    prev = [s.id];
  };
  if (external)
    for (const m of input.hosts.filter((h) => h.role === 'etcd'))
      add(
        step(m, 'etcd-cert-renew', prev, prev.length ? 'the member before it healthy, with quorum' : 'nothing', {
          nodeName: m.name,
          certificates: ['etcd/server', 'etcd/peer', 'etcd/healthcheck-client'],
        }),
      );
  for (const cp of controlPlanes)
    add(
      step(cp, 'control-plane-cert-renew', prev, prev.length ? 'the host before it healthy again' : 'nothing', {
        nodeName: cp.name,
        // With external etcd only the coordinator can sign apiserver-etcd-client (it holds the etcd CA key).
        coordinatorCertificates: external ? ['apiserver-etcd-client'] : [],
        kubeadmRenew: 'all',
        restartStaticPods: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', ...(external ? [] : ['etcd'])],
      }),
    );
  return { operation: 'renew', steps };
}
