/**
 * The rollout as a step graph: which steps each host runs, in which order, and the gates
 * (`after` + concurrency groups) the coordinator's scheduler honours. Pure.
 *
 *   prepare-host (every host of a cloud-init OS, first on that host; nothing else gates it)
 *   lb-check (every LB host) ─┐
 *   etcd-start (every member) ┴▶ kubeadm-init (first control plane) ─▶ [kube-vip swap] ─▶ cni-apply
 *       ─▶ kubeadm-join-control-plane (one at a time)  ─▶ [kube-vip manifest]
 *       ─▶ kubeadm-join-worker (workerParallelism at a time, as soon as init + CNI are done)
 *   all joins ─▶ label-nodes ─▶ verify
 */
import type { Role, StepKind } from '../../protocol/index.ts';
import { osProfile } from '../os/index.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import type { PlannedStep, SecretKind } from './types.ts';

export function stepId(host: string, kind: StepKind): string {
  return `${host}/${kind}`;
}

export function usesKeepalivedLb(spec: ClusterSpec): boolean {
  return spec.loadBalancer.type === 'haproxy-keepalived' || spec.loadBalancer.type === 'nginx-keepalived';
}

/**
 * An OS prepared by a script (the apt families, cloud-init): host preparation is the agent's first
 * step on every host, so a failure reaches the coordinator. The Ignition families prepare in
 * Ignition (sysext images, rpm-ostree) before the agent starts: no step.
 */
function preparesByAgent(spec: ClusterSpec): boolean {
  return osProfile(spec).cloudInit !== undefined;
}

export function firstControlPlane(spec: ClusterSpec): HostSpec {
  const cp = spec.hosts.find((h) => h.role === 'control-plane');
  if (!cp) throw new Error('spec has no control plane (parseSpec refuses such a spec)');
  return cp;
}

function pkiSecrets(spec: ClusterSpec): SecretKind[] {
  return ['shared-pki', spec.topology === 'stacked' ? 'etcd-ca' : 'apiserver-etcd-client'];
}

export function planSteps(spec: ClusterSpec): PlannedStep[] {
  const steps: PlannedStep[] = [];
  const add = (
    host: HostSpec,
    kind: StepKind,
    after: string[],
    waitsFor: string,
    secrets: SecretKind[],
    group?: PlannedStep['group'],
  ): string => {
    const id = stepId(host.name, kind);
    steps.push({ id, kind, host: host.name, role: host.role as Role, after, waitsFor, secrets, ...(group ? { group } : {}) });
    return id;
  };
  const of = (role: Role) => spec.hosts.filter((h) => h.role === role);
  const cp1 = firstControlPlane(spec);
  const upload = spec.certificates.distribution === 'upload-certs';
  const kubeVip = spec.loadBalancer.type === 'kube-vip';

  // First in the plan, so that every later step of a host waits for it (the scheduler releases a
  // host's steps in plan order) and the scheduler releases it as soon as the host enrolls.
  const prepared = new Map<string, string>();
  if (preparesByAgent(spec))
    for (const h of spec.hosts) prepared.set(h.name, add(h, 'prepare-host', [], 'nothing: runs as soon as the host enrolls', []));
  const own = (h: HostSpec) => {
    const id = prepared.get(h.name);
    return id ? [id] : [];
  };

  const lbChecks = usesKeepalivedLb(spec)
    ? of('load-balancer').map((h) =>
        add(
          h,
          'lb-check',
          own(h),
          prepared.size ? 'its preparation (installs and starts the load balancer)' : 'its load balancer to start',
          [],
        ),
      )
    : [];
  // Members start together: each waits for every member's preparation (the etcd binaries), not only its own.
  const members = of('etcd');
  const etcdStarts =
    spec.topology === 'external-etcd'
      ? members.map((h) =>
          add(
            h,
            'etcd-start',
            members.flatMap(own),
            prepared.size
              ? 'every etcd member to enroll and be prepared (members start together)'
              : 'every etcd member to enroll (members start together)',
            ['etcd-member-certs'],
          ),
        )
      : [];

  const initWaits = [
    lbChecks.length ? 'every load balancer ready (VIP held, port open)' : '',
    etcdStarts.length ? 'the whole etcd member set healthy over TLS' : '',
  ].filter(Boolean);
  if (prepared.size) initWaits.unshift('its preparation');
  const init = add(cp1, 'kubeadm-init', [...own(cp1), ...lbChecks, ...etcdStarts], initWaits.join(' and ') || 'nothing (first step)', [
    'bootstrap-token',
    ...pkiSecrets(spec),
    ...(upload ? (['certificate-key'] as const) : []),
  ]);
  const afterInit = [init];
  if (kubeVip) afterInit.push(add(cp1, 'kube-vip-manifest', [init], 'kubeadm init to finish (then kube-vip switches to admin.conf)', []));
  const cni = add(cp1, 'cni-apply', afterInit, 'kubeadm init to finish', []);
  const ready = [...afterInit, cni];

  const joins: string[] = [];
  const cpGroup = { name: 'control-plane-join' as const, limit: spec.rollout.controlPlaneParallelism };
  for (const h of of('control-plane').filter((h) => h !== cp1)) {
    const waits =
      spec.topology === 'stacked'
        ? 'the first control plane and CNI; then the previous join (its etcd member a voter, no learner left)'
        : 'the first control plane and CNI; then the previous join (node registered, API server ready)';
    const join = add(
      h,
      'kubeadm-join-control-plane',
      [...own(h), ...ready],
      waits,
      ['bootstrap-token', ...(upload ? (['certificate-key'] as SecretKind[]) : pkiSecrets(spec))],
      cpGroup,
    );
    joins.push(join);
    if (kubeVip) joins.push(add(h, 'kube-vip-manifest', [join], 'its own join to finish', []));
  }
  const workerGroup = { name: 'worker-join' as const, limit: spec.rollout.workerParallelism };
  // Worded once: every worker's step holds this one string (a copy each is ~100 bytes × the fleet).
  const workerWaits = `the first control plane serving (init + CNI); at most ${spec.rollout.workerParallelism} workers join at once`;
  for (const h of of('worker')) {
    joins.push(add(h, 'kubeadm-join-worker', [...own(h), ...ready], workerWaits, ['bootstrap-token'], workerGroup));
  }
  const nodes = spec.hosts.filter((h) => h.role === 'control-plane' || h.role === 'worker');
  const finalAfter = [...ready, ...joins];
  if (nodes.some((h) => Object.keys(h.labels).length > 0))
    finalAfter.push(add(cp1, 'label-nodes', [...ready, ...joins], 'every node to join', []));
  add(cp1, 'verify', finalAfter, 'every node to join and be labelled', []);
  return steps;
}

/** Each host's steps with their 1-based rollout order, grouped once per step list (plans are not edited). */
const stepIndexes = new WeakMap<readonly PlannedStep[], Map<string, { s: PlannedStep; order: number }[]>>();

export function stepsByHost(steps: readonly PlannedStep[]): Map<string, { s: PlannedStep; order: number }[]> {
  let index = stepIndexes.get(steps);
  if (!index) {
    const byHost = new Map<string, { s: PlannedStep; order: number }[]>();
    steps.forEach((s, i) => {
      const list = byHost.get(s.host);
      if (list) list.push({ s, order: i + 1 });
      else byHost.set(s.host, [{ s, order: i + 1 }]);
    });
    stepIndexes.set(steps, byHost);
    index = byHost;
  }
  return index;
}
