/**
 * buildStep: a planned step + a SecretSource → the files and parameters the agent receives.
 * `kubeseed plan` calls it with placeholders and the coordinator with real values: the documents
 * an operator reads before booting are exactly what the machines get.
 */
import { ETCD_HEALTHCHECK_CLIENT } from '../../protocol/host-paths.ts';
import {
  type Day2Packages,
  type EndpointTarget,
  isStepKind,
  type StepFile,
  type StepKind,
  type StepParams,
  type StepParamsOf,
} from '../../protocol/index.ts';
import {
  buildClusterConfiguration,
  buildEtcdMemberConfiguration,
  buildInitConfiguration,
  buildJoinConfiguration,
  buildKubeletConfiguration,
  buildKubeProxyConfiguration,
  etcdEndpoints,
  type KubeadmDocument,
  PKI_DIR,
} from '../kubeadm/documents.ts';
import { renderKubernetesAptSource } from '../os/apt.ts';
import { osProfile } from '../os/index.ts';
import { describeEndpoint } from '../spec/endpoint.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';
import { planCni } from './cni.ts';
import { etcdReleaseDownloads } from './etcd-upgrade.ts';
import { PREPARE_SCRIPT } from './host-files.ts';
import { buildKubeVipManifest, KUBE_VIP_MANIFEST } from './kube-vip.ts';
import { downloadProxy } from './proxy.ts';
import { firstControlPlane } from './steps.ts';
import {
  APISERVER_ETCD_CLIENT_FILES,
  type BuiltStep,
  type ClusterPlan,
  ETCD_CA_FILES,
  ETCD_MEMBER_FILES,
  type PkiFileName,
  type PlannedStep,
  SECRET_PLACEHOLDER,
  type SecretSource,
  SHARED_PKI_FILES,
} from './types.ts';

export const KUBEADM_CONFIG_DIR = '/etc/kubeseed/kubeadm';

export interface StepExtras {
  /** etcd-member-remove: the member to remove. */
  memberName?: string;
}

/** Serialises kubeadm documents as one multi-document YAML file. */
export function kubeadmYaml(docs: (KubeadmDocument | null)[]): string {
  return docs
    .filter((d): d is KubeadmDocument => d !== null)
    .map((d) => toYaml(d, { lineWidth: 0 }))
    .join('---\n');
}

/** Records every private value handed out, so the agent can redact it from output. */
function recording(secrets: SecretSource): { source: SecretSource; redact: string[] } {
  const redact: string[] = [];
  const keep = (v: string) => {
    if (v !== SECRET_PLACEHOLDER && !redact.includes(v)) redact.push(v);
    return v;
  };
  return {
    redact,
    source: {
      bootstrapToken: () => keep(secrets.bootstrapToken()),
      certificateKey: () => keep(secrets.certificateKey()),
      discoveryHash: () => secrets.discoveryHash(),
      pkiFile: (name, host) => {
        const v = secrets.pkiFile(name, host);
        return name.endsWith('.key') ? keep(v) : v;
      },
      adminKubeconfig: () => keep(secrets.adminKubeconfig()),
    },
  };
}

function pkiFiles(names: readonly PkiFileName[], secrets: SecretSource, host?: string): StepFile[] {
  return names.map((name) => {
    const priv = name.endsWith('.key');
    return { path: `${PKI_DIR}/${name}`, content: secrets.pkiFile(name, host), mode: priv ? 0o600 : 0o644, secret: priv };
  });
}

/** The shared PKI a control plane gets in `coordinator` mode (and the init node in both modes). */
function controlPlanePki(spec: ClusterSpec, secrets: SecretSource): StepFile[] {
  const etcd = spec.topology === 'stacked' ? ETCD_CA_FILES : APISERVER_ETCD_CLIENT_FILES;
  return pkiFiles([...SHARED_PKI_FILES, ...etcd], secrets);
}

function configFile(name: string, content: string): StepFile {
  return { path: `${KUBEADM_CONFIG_DIR}/${name}`, content, mode: 0o600, secret: true, removeAfter: true };
}

/** The endpoint, its VIP when something holds one, and the address its name must resolve to. */
/**
 * The endpoint agents check, described once per spec: describeEndpoint reads every host, and a gate
 * opening builds a step for each of 1,000 workers (issue 19). Described again when the spec's host
 * list was replaced or grew (tests edit specs in place).
 */
const endpoints = new WeakMap<ClusterSpec, { hosts: readonly HostSpec[]; count: number; target: EndpointTarget }>();

function endpointParams(spec: ClusterSpec): EndpointTarget {
  const known = endpoints.get(spec);
  if (known && known.hosts === spec.hosts && known.count === spec.hosts.length) return known.target;
  const target = describeEndpoint(spec);
  endpoints.set(spec, { hosts: spec.hosts, count: spec.hosts.length, target: Object.freeze(target) });
  return target;
}

/** Host lookup by name, indexed once per host list (every step of a 1,000-host plan looks one up). */
const hostIndexes = new WeakMap<readonly HostSpec[], Map<string, HostSpec>>();

export function findHost(spec: ClusterSpec, name: string): HostSpec {
  let index = hostIndexes.get(spec.hosts);
  let host = index?.get(name);
  // A list changed after it was indexed (tests edit specs in place) is indexed again.
  if (!index || !host || host.name !== name || index.size !== spec.hosts.length) {
    index = new Map(spec.hosts.map((h) => [h.name, h]));
    hostIndexes.set(spec.hosts, index);
    host = index.get(name);
  }
  if (!host) throw new Error(`host ${name} is not in the spec`);
  return host;
}

/** What every builder works from: the plan, the step's host and the recording secret source. */
interface BuildContext {
  spec: ClusterSpec;
  host: HostSpec;
  secrets: SecretSource;
  extras: StepExtras;
}

/** A kind's files and params (the params' key order is the order `kubeseed plan` prints them in). */
type StepBuilder<K extends StepKind> = (c: BuildContext) => { files: StepFile[]; params: StepParamsOf<K> };

/** One builder per kind; the type checker says when a kind of STEP_KINDS has none. */
const STEP_BUILDERS: { [K in StepKind]: StepBuilder<K> } = {
  // The script is in the user-data (it holds no secret); the step carries only its path.
  'prepare-host': ({ host }) => ({ files: [], params: { nodeName: host.name, prepareScript: PREPARE_SCRIPT } }),
  'lb-check': ({ spec, host }) => ({
    files: [],
    params: {
      nodeName: host.name,
      endpoint: endpointParams(spec),
      lbService: spec.loadBalancer.type === 'nginx-keepalived' ? 'nginx' : 'haproxy',
    },
  }),
  'etcd-start': ({ spec, host, secrets }) => {
    const files = [...pkiFiles(['etcd/ca.crt'], secrets), ...pkiFiles(ETCD_MEMBER_FILES, secrets, host.name)];
    const params: StepParamsOf<'etcd-start'> = {
      nodeName: host.name,
      etcdMode: spec.etcd.mode,
      etcdEndpoints: etcdEndpoints(spec),
      etcdClient: ETCD_HEALTHCHECK_CLIENT,
    };
    if (spec.etcd.mode === 'static-pod') {
      const cfg = configFile('etcd.yaml', kubeadmYaml(buildEtcdMemberConfiguration(spec, host)));
      files.push({ ...cfg, secret: false, removeAfter: false });
      params.kubeadmConfigPath = cfg.path;
    }
    return { files, params };
  },
  'kubeadm-init': ({ spec, host, secrets }) => {
    const files = controlPlanePki(spec, secrets);
    const cfg = configFile(
      'init.yaml',
      kubeadmYaml([
        buildInitConfiguration(spec, host, secrets),
        buildClusterConfiguration(spec),
        buildKubeletConfiguration(spec),
        buildKubeProxyConfiguration(spec),
      ]),
    );
    files.push(cfg);
    if (spec.loadBalancer.type === 'kube-vip')
      files.push({
        path: KUBE_VIP_MANIFEST,
        content: buildKubeVipManifest(spec, host.interface, 'super-admin.conf'),
        mode: 0o600,
        secret: false,
      });
    return { files, params: { nodeName: host.name, kubeadmConfigPath: cfg.path, endpoint: endpointParams(spec) } };
  },
  'kube-vip-manifest': ({ spec, host }) => ({
    files: [{ path: KUBE_VIP_MANIFEST, content: buildKubeVipManifest(spec, host.interface, 'admin.conf'), mode: 0o600, secret: false }],
    params: { nodeName: host.name, kubeVipPhase: host === firstControlPlane(spec) ? 'init' : 'join' },
  }),
  'cni-apply': ({ spec, host }) => {
    const cni = planCni(spec);
    return {
      files: [...cni.files],
      params: {
        nodeName: host.name,
        manifests: cni.manifests,
        commands: cni.commands,
        ...(cni.downloads.length > 0 ? { downloads: cni.downloads } : {}),
        ...(cni.proxy ? { proxy: cni.proxy } : {}),
      },
    };
  },
  'upload-certs': ({ spec, host, secrets }) => {
    const init = buildInitConfiguration(spec, host, secrets);
    // upload-certs needs only the key (and, for external etcd, the etcd.external files in the ClusterConfiguration).
    const cfg = configFile(
      'upload-certs.yaml',
      kubeadmYaml([
        {
          apiVersion: init.apiVersion,
          kind: init.kind,
          certificateKey: secrets.certificateKey(),
          nodeRegistration: init.nodeRegistration,
        },
        buildClusterConfiguration(spec),
      ]),
    );
    return { files: [cfg], params: { nodeName: host.name, kubeadmConfigPath: cfg.path } };
  },
  'kubeadm-join-control-plane': ({ spec, host, secrets }) => {
    // upload-certs mode: kubeadm downloads the shared PKI (external etcd's files included) from the kubeadm-certs Secret.
    const files = spec.certificates.distribution === 'coordinator' ? controlPlanePki(spec, secrets) : [];
    const join = buildJoinConfiguration(spec, host, secrets);
    const cfg = configFile('join.yaml', kubeadmYaml([join]));
    files.push(cfg);
    // The agent probes this member's own /readyz: the address and port its JoinConfiguration makes the API server serve on.
    const joinControlPlane = join.controlPlane as { localAPIEndpoint?: { advertiseAddress?: string; bindPort?: number } } | undefined;
    const local = joinControlPlane?.localAPIEndpoint;
    if (!local?.advertiseAddress || !local.bindPort) throw new Error(`control plane ${host.name} has no address (parseSpec requires one)`);
    return {
      files,
      params: {
        nodeName: host.name,
        kubeadmConfigPath: cfg.path,
        endpoint: endpointParams(spec),
        localApiEndpoint: { address: local.advertiseAddress, port: local.bindPort },
        ...(spec.topology === 'stacked' ? { etcdEndpoints: ['https://127.0.0.1:2379'], etcdClient: ETCD_HEALTHCHECK_CLIENT } : {}),
      },
    };
  },
  'kubeadm-join-worker': ({ spec, host, secrets }) => {
    // Workers get no certificate files: trust comes from the discovery hash in the JoinConfiguration.
    const cfg = configFile('join.yaml', kubeadmYaml([buildJoinConfiguration(spec, host, secrets)]));
    return { files: [cfg], params: { nodeName: host.name, kubeadmConfigPath: cfg.path, endpoint: endpointParams(spec) } };
  },
  'label-nodes': ({ spec, host }) => ({
    files: [],
    params: {
      nodeName: host.name,
      labels: Object.fromEntries(spec.hosts.filter((h) => Object.keys(h.labels).length > 0).map((h) => [h.name, h.labels])),
    },
  }),
  verify: ({ spec, host }) => ({ files: [], params: { nodeName: host.name, expectNodes: kubernetesNodes(spec) } }),
  'etcd-member-remove': ({ host, extras }) => {
    if (!extras.memberName) throw new Error('etcd-member-remove needs extras.memberName');
    return {
      files: [],
      params: {
        nodeName: host.name,
        memberName: extras.memberName,
        etcdEndpoints: ['https://127.0.0.1:2379'],
        etcdClient: ETCD_HEALTHCHECK_CLIENT,
      },
    };
  },
  reset: ({ host }) => ({ files: [], params: { nodeName: host.name } }),
  // Stacked control planes and external members both serve clients on 127.0.0.1 and hold kubeadm's healthcheck client.
  'etcd-snapshot': ({ host }) => ({
    files: [],
    params: { nodeName: host.name, etcdEndpoint: 'https://127.0.0.1:2379', etcdClient: ETCD_HEALTHCHECK_CLIENT },
  }),
  // Day 2 (ADR 0039): the target version is the spec's; packages come from the spec's repositories.
  'kubeadm-upgrade-apply': ({ spec, host }) => {
    const { files, params } = kubeadmUpgrade(spec, host);
    return { files, params: { ...params, expectNodes: kubernetesNodes(spec) } };
  },
  'kubeadm-upgrade-node': ({ spec, host }) => kubeadmUpgrade(spec, host),
  'node-drain': ({ host, secrets }) => {
    const { files, path } = day2Kubeconfig(host, secrets);
    return {
      files,
      params: {
        nodeName: host.name,
        kubeconfig: path,
        timeoutSeconds: DRAIN_TIMEOUT_SECONDS,
        ignoreDaemonSets: true,
        deleteEmptyDirData: true,
      },
    };
  },
  'kubelet-upgrade': ({ spec, host }) => {
    const packages = day2Packages(spec);
    return {
      files: packages.files,
      params: { nodeName: host.name, version: releaseOf(spec), ...packages.params, packages: ['kubelet', 'kubectl'] },
    };
  },
  'node-uncordon': ({ host, secrets }) => {
    const { files, path } = day2Kubeconfig(host, secrets);
    return { files, params: { nodeName: host.name, kubeconfig: path } };
  },
  'etcd-cert-renew': ({ spec, host, secrets }) => ({
    files: pkiFiles(ETCD_MEMBER_FILES, secrets, host.name),
    params: {
      nodeName: host.name,
      etcdService: 'etcd',
      etcdEndpoints: etcdEndpoints(spec),
      localEndpoint: `https://${host.address?.ip ?? '127.0.0.1'}:2379`,
      etcdClient: ETCD_HEALTHCHECK_CLIENT,
    },
  }),
  'etcd-member-upgrade': ({ spec, host }) => {
    const params: StepParamsOf<'etcd-member-upgrade'> = {
      nodeName: host.name,
      version: spec.etcd.version.replace(/^v/, ''),
      etcdMode: spec.etcd.mode,
      etcdEndpoints: etcdEndpoints(spec),
      localEndpoint: `https://${host.address?.ip ?? '127.0.0.1'}:2379`,
      etcdClient: ETCD_HEALTHCHECK_CLIENT,
    };
    const files: StepFile[] = [];
    if (spec.etcd.mode === 'binary') Object.assign(params, { downloads: etcdReleaseDownloads(spec, host), ...downloadProxy(spec) });
    else {
      // The same config etcd-start wrote, now naming the new image tag.
      const cfg = configFile('etcd.yaml', kubeadmYaml(buildEtcdMemberConfiguration(spec, host)));
      files.push({ ...cfg, secret: false, removeAfter: false });
      params.kubeadmConfigPath = cfg.path;
    }
    return { files, params };
  },
  'control-plane-cert-renew': ({ spec, host, secrets }) => {
    const external = spec.topology !== 'stacked';
    return {
      files: external ? pkiFiles(APISERVER_ETCD_CLIENT_FILES, secrets) : [],
      params: {
        nodeName: host.name,
        restartStaticPods: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', ...(external ? [] : ['etcd'])],
      },
    };
  },
};

/** kubectl drain --timeout of `kubeseed upgrade` (a PodDisruptionBudget that never allows an eviction fails the step then). */
export const DRAIN_TIMEOUT_SECONDS = 300;
/** Where a worker's drain/uncordon step puts the admin kubeconfig it uses (removed after the step). */
export const DAY2_KUBECONFIG = '/etc/kubeseed/day2-admin.conf';

/** The Kubernetes release without its `v` (`1.37.2`): package versions and kubeadm's argument are built from it. */
function releaseOf(spec: ClusterSpec): string {
  return spec.kubernetesVersion.replace(/^v/, '');
}

/** Where a day-2 package step puts the script that moves the Kubernetes apt source to the target minor (removed after the step). */
export const KUBERNETES_APT_SOURCE_SCRIPT = '/etc/kubeseed/kubernetes-apt-source.sh';

/** kubeadm-upgrade-apply and -node: the target and how the kubeadm package gets to it. */
/** The spec's Kubernetes nodes: its control planes and workers. */
function kubernetesNodes(spec: ClusterSpec): string[] {
  return spec.hosts.filter((h) => h.role === 'control-plane' || h.role === 'worker').map((h) => h.name);
}

function kubeadmUpgrade(spec: ClusterSpec, host: HostSpec): { files: StepFile[]; params: StepParamsOf<'kubeadm-upgrade-node'> } {
  const { files, params } = day2Packages(spec);
  return { files, params: { nodeName: host.name, version: releaseOf(spec), ...params } };
}

/** How a day-2 step gets the target's packages; apt hosts get the apt-source script (a minor upgrade changes the repository). */
function day2Packages(spec: ClusterSpec): { files: StepFile[]; params: Day2Packages } {
  const packageManager = packageManagerOf(spec);
  if (packageManager !== 'apt') return { files: [], params: { packageManager } };
  return {
    files: [
      { path: KUBERNETES_APT_SOURCE_SCRIPT, content: renderKubernetesAptSource(spec), mode: 0o700, secret: false, removeAfter: true },
    ],
    params: { packageManager, aptSourceScript: KUBERNETES_APT_SOURCE_SCRIPT },
  };
}

/** Debian and Ubuntu install the Kubernetes packages with apt; image-based systems carry them. */
function packageManagerOf(spec: ClusterSpec): 'apt' | 'none' {
  // The cloud-init families are the apt ones (generator/os/types.ts, OsCloudInit).
  return spec.os.packages === 'install' && osProfile(spec).cloudInit ? 'apt' : 'none';
}

/** A control plane's own admin.conf; a worker gets the admin kubeconfig as a secret file, deleted after the step. */
function day2Kubeconfig(host: HostSpec, secrets: SecretSource): { files: StepFile[]; path: string } {
  if (host.role === 'control-plane') return { files: [], path: '/etc/kubernetes/admin.conf' };
  return {
    files: [{ path: DAY2_KUBECONFIG, content: secrets.adminKubeconfig(), mode: 0o600, secret: true, removeAfter: true }],
    path: DAY2_KUBECONFIG,
  };
}

/** A kind registered outside STEP_KINDS (protocol/step-kinds.ts) has no builder: it carries its node name only. */
const nodeNameOnly = ({ host }: BuildContext) => ({ files: [] as StepFile[], params: { nodeName: host.name } as StepParams });

export function buildStep(plan: ClusterPlan, step: PlannedStep, secretSource: SecretSource, extras: StepExtras = {}): BuiltStep {
  const { spec } = plan;
  const host = findHost(spec, step.host);
  const { source: secrets, redact } = recording(secretSource);
  if (!isStepKind(step.kind)) throw new Error(`unknown step kind ${String(step.kind)}`);
  const builder: (c: BuildContext) => { files: StepFile[]; params: StepParams } = Object.hasOwn(STEP_BUILDERS, step.kind)
    ? STEP_BUILDERS[step.kind]
    : nodeNameOnly;
  const { files, params } = builder({ spec, host, secrets, extras });
  return { files, params, redact };
}
