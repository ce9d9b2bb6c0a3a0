/**
 * The kubeadm.k8s.io/v1beta4 API (and the kubelet/kube-proxy component configs kubeadm embeds),
 * as a field table for tests: every field, nested, with its type. Source: kubeadm's v1beta4
 * types.go, summarised in ../shared/reference/kubeadm.md §1.2. `checkKubeadmDocument` returns every
 * unknown field and wrong type — the same things real kubeadm's strict decoding refuses.
 */

type T = 'string' | 'bool' | 'int' | 'duration' | { list: T } | { map: T } | { object: Record<string, T> };

const arg: T = { object: { name: 'string', value: 'string' } };
const args: T = { list: arg };
const envs: T = { list: { object: { name: 'string', value: 'string' } } };
const volumes: T = { list: { object: { name: 'string', hostPath: 'string', mountPath: 'string', readOnly: 'bool', pathType: 'string' } } };
const controlPlaneComponent: T = { object: { extraArgs: args, extraVolumes: volumes, extraEnvs: envs } };
const taint: T = { object: { key: 'string', value: 'string', effect: 'string', timeAdded: 'string' } };
const nodeRegistration: T = {
  object: {
    name: 'string',
    criSocket: 'string',
    taints: { list: taint },
    kubeletExtraArgs: args,
    ignorePreflightErrors: { list: 'string' },
    imagePullPolicy: 'string',
    imagePullSerial: 'bool',
  },
};
const apiEndpoint: T = { object: { advertiseAddress: 'string', bindPort: 'int' } };
const timeouts: T = {
  object: {
    controlPlaneComponentHealthCheck: 'duration',
    kubeletHealthCheck: 'duration',
    kubernetesAPICall: 'duration',
    etcdAPICall: 'duration',
    tlsBootstrap: 'duration',
    discovery: 'duration',
    upgradeManifests: 'duration',
  },
};
const patches: T = { object: { directory: 'string' } };

export const KUBEADM_V1BETA4: Record<string, Record<string, T>> = {
  InitConfiguration: {
    apiVersion: 'string',
    kind: 'string',
    bootstrapTokens: {
      list: {
        object: {
          token: 'string',
          description: 'string',
          ttl: 'duration',
          expires: 'string',
          usages: { list: 'string' },
          groups: { list: 'string' },
        },
      },
    },
    dryRun: 'bool',
    nodeRegistration,
    localAPIEndpoint: apiEndpoint,
    certificateKey: 'string',
    skipPhases: { list: 'string' },
    patches,
    timeouts,
  },
  ClusterConfiguration: {
    apiVersion: 'string',
    kind: 'string',
    etcd: {
      object: {
        local: {
          object: {
            imageRepository: 'string',
            imageTag: 'string',
            dataDir: 'string',
            extraArgs: args,
            extraEnvs: envs,
            serverCertSANs: { list: 'string' },
            peerCertSANs: { list: 'string' },
          },
        },
        external: {
          object: {
            endpoints: { list: 'string' },
            httpEndpoints: { list: 'string' },
            caFile: 'string',
            certFile: 'string',
            keyFile: 'string',
          },
        },
      },
    },
    networking: { object: { serviceSubnet: 'string', podSubnet: 'string', dnsDomain: 'string' } },
    kubernetesVersion: 'string',
    controlPlaneEndpoint: 'string',
    apiServer: { object: { extraArgs: args, extraVolumes: volumes, extraEnvs: envs, certSANs: { list: 'string' } } },
    controllerManager: controlPlaneComponent,
    scheduler: controlPlaneComponent,
    dns: { object: { imageRepository: 'string', imageTag: 'string', disabled: 'bool' } },
    proxy: { object: { disabled: 'bool' } },
    certificatesDir: 'string',
    imageRepository: 'string',
    featureGates: { map: 'bool' },
    clusterName: 'string',
    encryptionAlgorithm: 'string',
    certificateValidityPeriod: 'duration',
    caCertificateValidityPeriod: 'duration',
  },
  JoinConfiguration: {
    apiVersion: 'string',
    kind: 'string',
    dryRun: 'bool',
    nodeRegistration,
    caCertPath: 'string',
    discovery: {
      object: {
        bootstrapToken: {
          object: { token: 'string', apiServerEndpoint: 'string', caCertHashes: { list: 'string' }, unsafeSkipCAVerification: 'bool' },
        },
        file: { object: { kubeConfigPath: 'string' } },
        tlsBootstrapToken: 'string',
      },
    },
    controlPlane: { object: { localAPIEndpoint: apiEndpoint, certificateKey: 'string' } },
    skipPhases: { list: 'string' },
    patches,
    timeouts,
  },
};

/** The fields kubeseed sets in the component configs (a subset of those APIs; anything else is flagged). */
export const COMPONENT_CONFIGS: Record<string, Record<string, T>> = {
  'kubelet.config.k8s.io/v1beta1/KubeletConfiguration': {
    apiVersion: 'string',
    kind: 'string',
    cgroupDriver: 'string',
    containerRuntimeEndpoint: 'string',
    serverTLSBootstrap: 'bool',
    // VolumePluginDir, k8s.io/kubelet/config/v1beta1 types.go (the flex-volume directory on Flatcar/FCOS).
    volumePluginDir: 'string',
    staticPodPath: 'string',
    address: 'string',
    authentication: { object: { anonymous: { object: { enabled: 'bool' } }, webhook: { object: { enabled: 'bool' } } } },
    authorization: { object: { mode: 'string' } },
  },
  'kubeproxy.config.k8s.io/v1alpha1/KubeProxyConfiguration': {
    apiVersion: 'string',
    kind: 'string',
    mode: 'string',
    clusterCIDR: 'string',
    ipvs: { object: { scheduler: 'string', strictARP: 'bool' } },
  },
};

const DURATION = /^(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$/;

function check(value: unknown, type: T, path: string, problems: string[]): void {
  if (typeof type === 'string') {
    const ok =
      (type === 'string' && typeof value === 'string') ||
      (type === 'bool' && typeof value === 'boolean') ||
      (type === 'int' && Number.isInteger(value)) ||
      (type === 'duration' && typeof value === 'string' && value !== '' && DURATION.test(value));
    if (!ok) problems.push(`${path}: expected ${type}, got ${JSON.stringify(value)}`);
    return;
  }
  if ('list' in type) {
    if (!Array.isArray(value)) problems.push(`${path}: expected a list`);
    else for (const [i, v] of value.entries()) check(v, type.list, `${path}[${i}]`, problems);
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${path}: expected an object`);
    return;
  }
  if ('map' in type) {
    for (const [k, v] of Object.entries(value)) check(v, type.map, `${path}.${k}`, problems);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const field = type.object[k];
    if (!field) problems.push(`${path}.${k}: unknown field`);
    else check(v, field, `${path}.${k}`, problems);
  }
}

/** Every problem of one document (empty when it is valid v1beta4 / a known component config). */
export function checkKubeadmDocument(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const kind = String(doc.kind);
  if (doc.apiVersion === 'kubeadm.k8s.io/v1beta4') {
    const fields = KUBEADM_V1BETA4[kind];
    if (!fields) return [`kind ${kind} is not a kubeadm.k8s.io/v1beta4 kind`];
    check(doc, { object: fields }, kind, problems);
    return problems;
  }
  const component = COMPONENT_CONFIGS[`${doc.apiVersion}/${kind}`];
  if (!component) return [`${doc.apiVersion} ${kind} is neither kubeadm v1beta4 nor a component config kubeseed emits`];
  check(doc, { object: component }, kind, problems);
  return problems;
}
