/**
 * Hand-built ClusterPlan fixtures for the coordinator tests (the real planner is built in
 * parallel; these follow generator/plan/types.ts): stacked 3 CP + 2 LB + N workers, and external
 * etcd with 3 members. Plus a fake SecretSource and a fake buildStep whose output embeds the
 * secrets it was given, so tests can check what was released and what was redacted.
 */
import type { BuiltStep, ClusterPlan, HostPlan, PlannedStep, SecretSource } from '../../../generator/plan/types.ts';
import type { ClusterSpec, HostSpec } from '../../../generator/spec/types.ts';
import type { Role } from '../../../protocol/index.ts';
import { createStepRecord, type HostRecord, type RolloutSnapshot } from '../../../server/model.ts';

export interface FixtureOptions {
  topology?: 'stacked' | 'external-etcd';
  controlPlanes?: number;
  loadBalancers?: number;
  workers?: number;
  etcd?: number;
  distribution?: 'coordinator' | 'upload-certs';
  controlPlaneParallelism?: number;
  workerParallelism?: number;
  kubernetesMinor?: number;
  tokenTTL?: number;
}

function hostSpec(name: string, role: Role, n: number): HostSpec {
  return {
    name,
    role,
    address: { ip: `10.101.1.${n}`, prefix: 24, cidr: `10.101.1.${n}/24` },
    nameservers: [],
    labels: {},
    interface: 'eth0',
    arch: 'amd64',
  };
}

export function makeSpec(options: FixtureOptions, hosts: HostSpec[]): ClusterSpec {
  const minor = options.kubernetesMinor ?? 37;
  return {
    apiVersion: 'kubeseed.dev/v1alpha1',
    kind: 'Cluster',
    name: 'test',
    kubernetesVersion: `v1.${minor}.0`,
    kubernetesMinor: minor,
    topology: options.topology ?? 'stacked',
    controlPlaneEndpoint: { host: 'api.test.lan', port: 6443 },
    networking: {
      podSubnet: '100.64.0.0/16',
      serviceSubnet: '198.18.0.0/23',
      dnsDomain: 'cluster.local',
      nodeCidrMaskSize: 24,
      hostsFile: false,
    },
    kubeProxy: { mode: 'iptables' },
    cni: { plugin: 'calico', version: 'v3.30.0' },
    loadBalancer: { type: 'haproxy-keepalived', vip: '10.101.1.10', interface: 'eth0', virtualRouterId: 51 },
    etcd: { mode: 'static-pod', version: 'v3.6.5' },
    certificates: { distribution: options.distribution ?? 'coordinator', keyAlgorithm: 'ECDSA-P256', extraSANs: [] },
    os: { family: 'ubuntu', format: 'cloud-init', platform: 'generic', packages: 'install', timeServers: [], sshAuthorizedKeys: [] },
    proxy: { noProxy: [] },
    mirrors: { registryMirrors: {} },
    proxmox: {},
    coordinator: { url: 'https://127.0.0.1:9443', listen: '127.0.0.1:9443', httpListen: '', replicaUrls: [] },
    fleet: { enabled: false },
    day2: { keepAgent: true },
    rollout: {
      controlPlaneParallelism: options.controlPlaneParallelism ?? 1,
      workerParallelism: options.workerParallelism ?? 20,
      tokenTTL: options.tokenTTL ?? 3600,
    },
    hosts,
    testing: { allowOldEtcd: false },
  };
}

function emptyProvisioning(name: string): HostPlan['provisioning'] {
  return { hostname: name, files: [], units: [], commands: [], users: [], timeServers: [], hostsEntries: [] };
}

/** Builds a plan the way the planner will: steps in rollout order with `after` edges and groups. */
export function makePlan(options: FixtureOptions = {}): ClusterPlan {
  const topology = options.topology ?? 'stacked';
  const cps = Array.from({ length: options.controlPlanes ?? 3 }, (_, i) => `cp${i + 1}`);
  const lbs = Array.from({ length: options.loadBalancers ?? 2 }, (_, i) => `lb${i + 1}`);
  const etcd = topology === 'external-etcd' ? Array.from({ length: options.etcd ?? 3 }, (_, i) => `etcd${i + 1}`) : [];
  const workers = Array.from({ length: options.workers ?? 3 }, (_, i) => `w${i + 1}`);
  let n = 20;
  const hosts: HostSpec[] = [
    ...lbs.map((h) => hostSpec(h, 'load-balancer', n++)),
    ...etcd.map((h) => hostSpec(h, 'etcd', n++)),
    ...cps.map((h) => hostSpec(h, 'control-plane', n++)),
    ...workers.map((h) => hostSpec(h, 'worker', n++ % 250)),
  ];
  const spec = makeSpec(options, hosts);
  const steps: PlannedStep[] = [];
  const add = (host: string, role: Role, kind: PlannedStep['kind'], after: string[], extra: Partial<PlannedStep> = {}) => {
    const step: PlannedStep = {
      id: `${host}/${kind}`,
      kind,
      host,
      role,
      after,
      waitsFor: `${after.join(', ') || 'nothing'}`,
      secrets: [],
      ...extra,
    };
    steps.push(step);
    return step.id;
  };
  const lbChecks = lbs.map((h) => add(h, 'load-balancer', 'lb-check', []));
  const etcdStarts = etcd.map((h) => add(h, 'etcd', 'etcd-start', [], { secrets: ['etcd-member-certs'] }));
  const [first, ...others] = cps;
  const init = add(first!, 'control-plane', 'kubeadm-init', [...lbChecks, ...etcdStarts], {
    secrets: ['bootstrap-token', 'shared-pki', ...(options.distribution === 'upload-certs' ? (['certificate-key'] as const) : [])],
  });
  const cni = add(first!, 'control-plane', 'cni-apply', [init]);
  const cpGroup = { name: 'control-plane-join' as const, limit: options.controlPlaneParallelism ?? 1 };
  const wGroup = { name: 'worker-join' as const, limit: options.workerParallelism ?? 20 };
  const cpJoins = others.map((h) =>
    add(h, 'control-plane', 'kubeadm-join-control-plane', [cni], {
      group: cpGroup,
      secrets: ['bootstrap-token', options.distribution === 'upload-certs' ? 'certificate-key' : 'shared-pki'],
    }),
  );
  const wJoins = workers.map((h) => add(h, 'worker', 'kubeadm-join-worker', [cni], { group: wGroup, secrets: ['bootstrap-token'] }));
  const labels = add(first!, 'control-plane', 'label-nodes', [...cpJoins, ...wJoins], { secrets: [] });
  add(first!, 'control-plane', 'verify', [labels]);
  const hostPlans: HostPlan[] = hosts.map((h) => ({
    name: h.name,
    role: h.role,
    provisioning: emptyProvisioning(h.name),
    steps: steps.filter((s) => s.host === h.name).map((s) => s.id),
  }));
  return { spec, steps, hosts: hostPlans, warnings: [] };
}

/** Adds hosts to a plan as `generate` would after the spec grew (late-added workers). */
export function addWorkers(plan: ClusterPlan, names: string[]): ClusterPlan {
  const cni = plan.steps.find((s) => s.kind === 'cni-apply')!.id;
  const limit = plan.spec.rollout.workerParallelism;
  const steps = [...plan.steps];
  const hosts = [...plan.hosts];
  for (const name of names) {
    steps.push({
      id: `${name}/kubeadm-join-worker`,
      kind: 'kubeadm-join-worker',
      host: name,
      role: 'worker',
      after: [cni],
      group: { name: 'worker-join', limit },
      waitsFor: cni,
      secrets: ['bootstrap-token'],
    });
    hosts.push({ name, role: 'worker', provisioning: emptyProvisioning(name), steps: [`${name}/kubeadm-join-worker`] });
  }
  return { ...plan, steps, hosts, spec: { ...plan.spec, hosts: [...plan.spec.hosts, hostSpec(names[0] ?? 'x', 'worker', 200)] } };
}

export const FAKE_PKI_KEY = '-----BEGIN PRIVATE KEY-----\nFAKECAKEYMATERIAL\n-----END PRIVATE KEY-----';

/** A plan host's record before anything happened to it (what the coordinator's first start writes). */
export function newHostRecord(name: string, role: HostRecord['role']): HostRecord {
  return { name, role, credentialSpent: false, rebindAllowed: false, removed: false, awaitingApproval: false };
}

/** A snapshot of `plan` with every host enrolled and seen at `at`, and every planned step pending. */
export function enrolledSnapshot(plan: ClusterPlan, at: number): RolloutSnapshot {
  const snapshot: RolloutSnapshot = { hosts: {}, steps: {}, tokens: [], lastSeen: {} };
  for (const h of plan.hosts) {
    snapshot.hosts[h.name] = {
      ...newHostRecord(h.name, h.role),
      credentialSpent: true,
      enrollment: {
        publicKey: 'k',
        machineId: h.name,
        smbiosUuid: '',
        macs: [],
        hostname: h.name,
        arch: 'amd64',
        os: 'x',
        agentVersion: 't',
        at,
        sourceAddress: '::1',
      },
    };
    snapshot.lastSeen[h.name] = at;
  }
  for (const s of plan.steps) snapshot.steps[s.id] = createStepRecord(s.id, s.host, s.kind, 'plan', 0);
  return snapshot;
}

export function createFakeSecrets(): SecretSource {
  return {
    bootstrapToken: () => 'abcdef.0123456789abcdef',
    certificateKey: () => 'c'.repeat(64),
    discoveryHash: () => `sha256:${'d'.repeat(64)}`,
    pkiFile: (name, host) => (name.endsWith('.key') ? `${FAKE_PKI_KEY}-${name}-${host ?? ''}` : `CERT-${name}`),
    adminKubeconfig: () => 'apiVersion: v1\nkind: Config\n# admin-secret',
  };
}

/** A stand-in for generator's buildStep: embeds the secrets the step kind needs. */
export function fakeBuildStep(_plan: ClusterPlan, step: PlannedStep, secrets: SecretSource): BuiltStep {
  const redact: string[] = [];
  const files: BuiltStep['files'] = [];
  const put = (path: string, content: string, secret: boolean) => {
    files.push({ path, content, mode: secret ? 0o600 : 0o644, secret });
    if (secret) redact.push(content);
  };
  if (step.secrets.includes('bootstrap-token') || step.kind === 'kubeadm-join-worker' || step.kind === 'kubeadm-join-control-plane') {
    const token = secrets.bootstrapToken();
    redact.push(token);
    files.push({
      path: '/etc/kubeseed/kubeadm.yaml',
      content: `token: ${token}\ncaCertHashes: [${secrets.discoveryHash()}]`,
      mode: 0o600,
      secret: true,
      removeAfter: true,
    });
  }
  if (step.secrets.includes('shared-pki')) put('/etc/kubernetes/pki/ca.key', secrets.pkiFile('ca.key'), true);
  if (step.secrets.includes('certificate-key') || step.kind === 'upload-certs') {
    const key = secrets.certificateKey();
    redact.push(key);
    files.push({ path: '/etc/kubeseed/upload.yaml', content: `certificateKey: ${key}`, mode: 0o600, secret: true });
  }
  if (step.secrets.includes('etcd-member-certs'))
    put('/etc/kubernetes/pki/etcd/server.key', secrets.pkiFile('etcd/server.key', step.host), true);
  return { files, params: { nodeName: step.host }, redact };
}
