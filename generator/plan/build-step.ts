/**
 * buildStep: a planned step + a SecretSource → the files and parameters the agent receives.
 * `kubeseed plan` calls it with placeholders and the coordinator with real values: the documents
 * an operator reads before booting are exactly what the machines get.
 */
import { ETCD_HEALTHCHECK_CLIENT } from '../../protocol/host-paths.ts';
import type { StepFile, StepParams } from '../../protocol/index.ts';
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
import { describeEndpoint } from '../spec/endpoint.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';
import { planCni } from './cni.ts';
import { PREPARE_SCRIPT } from './host-files.ts';
import { buildKubeVipManifest, KUBE_VIP_MANIFEST } from './kube-vip.ts';
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
function endpointParams(spec: ClusterSpec): NonNullable<StepParams['endpoint']> {
  return describeEndpoint(spec);
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

export function buildStep(plan: ClusterPlan, step: PlannedStep, secretSource: SecretSource, extras: StepExtras = {}): BuiltStep {
  const { spec } = plan;
  const host = findHost(spec, step.host);
  const { source: secrets, redact } = recording(secretSource);
  const files: StepFile[] = [];
  const params: StepParams = { nodeName: host.name };
  const kubeVip = spec.loadBalancer.type === 'kube-vip';

  switch (step.kind) {
    case 'prepare-host':
      // The script is in the user-data (it holds no secret); the step carries only its path.
      params.prepareScript = PREPARE_SCRIPT;
      break;
    case 'lb-check':
      params.endpoint = endpointParams(spec);
      params.lbService = spec.loadBalancer.type === 'nginx-keepalived' ? 'nginx' : 'haproxy';
      break;
    case 'etcd-start': {
      files.push(...pkiFiles(['etcd/ca.crt'], secrets), ...pkiFiles(ETCD_MEMBER_FILES, secrets, host.name));
      params.etcdMode = spec.etcd.mode;
      params.etcdEndpoints = etcdEndpoints(spec);
      params.etcdClient = ETCD_HEALTHCHECK_CLIENT;
      if (spec.etcd.mode === 'static-pod') {
        const cfg = configFile('etcd.yaml', kubeadmYaml(buildEtcdMemberConfiguration(spec, host)));
        files.push({ ...cfg, secret: false, removeAfter: false });
        params.kubeadmConfigPath = cfg.path;
      }
      break;
    }
    case 'kubeadm-init': {
      files.push(...controlPlanePki(spec, secrets));
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
      params.kubeadmConfigPath = cfg.path;
      params.endpoint = endpointParams(spec);
      if (kubeVip)
        files.push({
          path: KUBE_VIP_MANIFEST,
          content: buildKubeVipManifest(spec, host.interface, 'super-admin.conf'),
          mode: 0o600,
          secret: false,
        });
      break;
    }
    case 'kube-vip-manifest': {
      const phase = host === firstControlPlane(spec) ? 'init' : 'join';
      files.push({
        path: KUBE_VIP_MANIFEST,
        content: buildKubeVipManifest(spec, host.interface, 'admin.conf'),
        mode: 0o600,
        secret: false,
      });
      params.kubeVipPhase = phase;
      break;
    }
    case 'cni-apply': {
      const cni = planCni(spec);
      files.push(...cni.files);
      params.manifests = cni.manifests;
      params.commands = cni.commands;
      if (cni.downloads.length > 0) params.downloads = cni.downloads;
      if (cni.proxy) params.proxy = cni.proxy;
      break;
    }
    case 'upload-certs': {
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
      files.push(cfg);
      params.kubeadmConfigPath = cfg.path;
      break;
    }
    case 'kubeadm-join-control-plane': {
      // upload-certs mode: kubeadm downloads the shared PKI (external etcd's files included) from the kubeadm-certs Secret.
      if (spec.certificates.distribution === 'coordinator') files.push(...controlPlanePki(spec, secrets));
      const join = buildJoinConfiguration(spec, host, secrets);
      const cfg = configFile('join.yaml', kubeadmYaml([join]));
      files.push(cfg);
      params.kubeadmConfigPath = cfg.path;
      params.endpoint = endpointParams(spec);
      // The agent probes this member's own /readyz: the address and port its JoinConfiguration makes the API server serve on.
      const joinControlPlane = join.controlPlane as { localAPIEndpoint?: { advertiseAddress?: string; bindPort?: number } } | undefined;
      const local = joinControlPlane?.localAPIEndpoint;
      if (!local?.advertiseAddress || !local.bindPort)
        throw new Error(`control plane ${host.name} has no address (parseSpec requires one)`);
      params.localApiEndpoint = { address: local.advertiseAddress, port: local.bindPort };
      if (spec.topology === 'stacked') {
        params.etcdEndpoints = ['https://127.0.0.1:2379'];
        params.etcdClient = ETCD_HEALTHCHECK_CLIENT;
      }
      break;
    }
    case 'kubeadm-join-worker': {
      // Workers get no certificate files: trust comes from the discovery hash in the JoinConfiguration.
      const cfg = configFile('join.yaml', kubeadmYaml([buildJoinConfiguration(spec, host, secrets)]));
      files.push(cfg);
      params.kubeadmConfigPath = cfg.path;
      params.endpoint = endpointParams(spec);
      break;
    }
    case 'label-nodes':
      params.labels = Object.fromEntries(spec.hosts.filter((h) => Object.keys(h.labels).length > 0).map((h) => [h.name, h.labels]));
      break;
    case 'verify':
      params.expectNodes = spec.hosts.filter((h) => h.role === 'control-plane' || h.role === 'worker').map((h) => h.name);
      break;
    case 'etcd-member-remove':
      if (!extras.memberName) throw new Error('etcd-member-remove needs extras.memberName');
      params.memberName = extras.memberName;
      params.etcdEndpoints = ['https://127.0.0.1:2379'];
      params.etcdClient = ETCD_HEALTHCHECK_CLIENT;
      break;
    case 'reset':
      break;
    default: {
      const never: never = step.kind;
      throw new Error(`unknown step kind ${String(never)}`);
    }
  }
  return { files, params, redact };
}
