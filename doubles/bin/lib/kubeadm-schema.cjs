/**
 * TEST DOUBLE support: the field table of kubeadm.k8s.io/v1beta4 (Init/Cluster/Join/Reset
 * Configuration, nested keys) and the top-level keys of KubeletConfiguration (kubelet.config.k8s.io
 * /v1beta1) and KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1). kubeadm decodes strictly:
 * an unknown field is an error, and so is v1beta3 since 1.37.
 */
'use strict';

const S = 'scalar';
const MAP = 'map'; // free-form map (featureGates, valueFrom)
const list = (item) => ({ list: item });

const arg = { name: S, value: S };
const envVar = { name: S, value: S, valueFrom: MAP };
const volume = { name: S, hostPath: S, mountPath: S, readOnly: S, pathType: S };
const controlPlaneComponent = { extraArgs: list(arg), extraVolumes: list(volume), extraEnvs: list(envVar) };
const timeouts = {
  controlPlaneComponentHealthCheck: S,
  kubeletHealthCheck: S,
  kubernetesAPICall: S,
  etcdAPICall: S,
  tlsBootstrap: S,
  discovery: S,
  upgradeManifests: S,
};
const nodeRegistration = {
  name: S,
  criSocket: S,
  taints: list({ key: S, value: S, effect: S, timeAdded: S }),
  kubeletExtraArgs: list(arg),
  ignorePreflightErrors: list(S),
  imagePullPolicy: S,
  imagePullSerial: S,
};
const apiEndpoint = { advertiseAddress: S, bindPort: S };
const typeMeta = { apiVersion: S, kind: S };

const InitConfiguration = {
  ...typeMeta,
  bootstrapTokens: list({ token: S, description: S, ttl: S, expires: S, usages: list(S), groups: list(S) }),
  dryRun: S,
  nodeRegistration,
  localAPIEndpoint: apiEndpoint,
  certificateKey: S,
  skipPhases: list(S),
  patches: { directory: S },
  timeouts,
};

const ClusterConfiguration = {
  ...typeMeta,
  etcd: {
    local: {
      imageRepository: S,
      imageTag: S,
      dataDir: S,
      extraArgs: list(arg),
      extraEnvs: list(envVar),
      serverCertSANs: list(S),
      peerCertSANs: list(S),
    },
    external: { endpoints: list(S), httpEndpoints: list(S), caFile: S, certFile: S, keyFile: S },
  },
  networking: { serviceSubnet: S, podSubnet: S, dnsDomain: S },
  kubernetesVersion: S,
  controlPlaneEndpoint: S,
  apiServer: { ...controlPlaneComponent, certSANs: list(S) },
  controllerManager: controlPlaneComponent,
  scheduler: controlPlaneComponent,
  dns: { imageRepository: S, imageTag: S, disabled: S },
  proxy: { disabled: S },
  certificatesDir: S,
  imageRepository: S,
  featureGates: MAP,
  clusterName: S,
  encryptionAlgorithm: S,
  certificateValidityPeriod: S,
  caCertificateValidityPeriod: S,
};

const JoinConfiguration = {
  ...typeMeta,
  dryRun: S,
  nodeRegistration,
  caCertPath: S,
  discovery: {
    bootstrapToken: { token: S, apiServerEndpoint: S, caCertHashes: list(S), unsafeSkipCAVerification: S },
    file: { kubeConfigPath: S },
    tlsBootstrapToken: S,
  },
  controlPlane: { localAPIEndpoint: apiEndpoint, certificateKey: S },
  skipPhases: list(S),
  patches: { directory: S },
  timeouts,
};

const ResetConfiguration = {
  ...typeMeta,
  cleanupTmpDir: S,
  certificatesDir: S,
  criSocket: S,
  dryRun: S,
  force: S,
  ignorePreflightErrors: list(S),
  skipPhases: list(S),
  unmountFlags: list(S),
  timeouts,
};

const KUBELET_TOP = `apiVersion kind enableServer staticPodPath podLogsDir syncFrequency fileCheckFrequency httpCheckFrequency staticPodURL
staticPodURLHeader address port readOnlyPort tlsCertFile tlsPrivateKeyFile tlsCipherSuites tlsMinVersion rotateCertificates
serverTLSBootstrap authentication authorization registryPullQPS registryBurst imagePullCredentialsVerificationPolicy
preloadedImagesVerificationAllowlist eventRecordQPS eventBurst enableDebuggingHandlers enableContentionProfiling healthzPort
healthzBindAddress oomScoreAdj clusterDomain clusterDNS streamingConnectionIdleTimeout nodeStatusUpdateFrequency
nodeStatusReportFrequency nodeLeaseDurationSeconds imageMinimumGCAge imageMaximumGCAge imageGCHighThresholdPercent
imageGCLowThresholdPercent volumeStatsAggPeriod kubeletCgroups systemCgroups cgroupRoot cgroupsPerQOS cgroupDriver
cpuManagerPolicy singleProcessOOMKill cpuManagerPolicyOptions cpuManagerReconcilePeriod memoryManagerPolicy topologyManagerPolicy
topologyManagerScope topologyManagerPolicyOptions qosReserved runtimeRequestTimeout hairpinMode maxPods podCIDR podPidsLimit
resolvConf runOnce cpuCFSQuota cpuCFSQuotaPeriod nodeStatusMaxImages maxOpenFiles contentType kubeAPIQPS kubeAPIBurst
serializeImagePulls maxParallelImagePulls evictionHard evictionSoft evictionSoftGracePeriod evictionPressureTransitionPeriod
evictionMaxPodGracePeriod evictionMinimumReclaim mergeDefaultEvictionSettings podsPerCore enableControllerAttachDetach
protectKernelDefaults makeIPTablesUtilChains iptablesMasqueradeBit iptablesDropBit featureGates failSwapOn memorySwap
containerLogMaxSize containerLogMaxFiles containerLogMaxWorkers containerLogMonitorInterval configMapAndSecretChangeDetectionStrategy
systemReserved kubeReserved reservedSystemCPUs showHiddenMetricsForVersion systemReservedCgroup kubeReservedCgroup
enforceNodeAllocatable allowedUnsafeSysctls volumePluginDir providerID kernelMemcgNotification logging enableSystemLogHandler
enableSystemLogQuery shutdownGracePeriod shutdownGracePeriodCriticalPods shutdownGracePeriodByPodPriority crashLoopBackOff
reservedMemory enableProfilingHandler enableDebugFlagsHandler seccompDefault memoryThrottlingFactor registerWithTaints
registerNode tracing localStorageCapacityIsolation containerRuntimeEndpoint imageServiceEndpoint failCgroupV1 userNamespaces`;

const KUBE_PROXY_TOP = `apiVersion kind featureGates clientConnection hostnameOverride bindAddress healthzBindAddress metricsBindAddress
bindAddressHardFail enableProfiling showHiddenMetricsForVersion mode iptables ipvs nftables winkernel detectLocalMode detectLocal
clusterCIDR nodePortAddresses oomScoreAdj conntrack configSyncPeriod portRange logging windowsRunAsService`;

const topOnly = (words) =>
  Object.fromEntries(
    words
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => [w, MAP]),
  );

const KINDS = {
  'kubeadm.k8s.io/v1beta4': { InitConfiguration, ClusterConfiguration, JoinConfiguration, ResetConfiguration },
  'kubelet.config.k8s.io/v1beta1': { KubeletConfiguration: topOnly(KUBELET_TOP) },
  'kubeproxy.config.k8s.io/v1alpha1': { KubeProxyConfiguration: topOnly(KUBE_PROXY_TOP) },
};

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const CA_HASH = /^sha256:[0-9a-fA-F]{64}$/;
const CERT_KEY = /^[0-9a-fA-F]{64}$/;

/** Checks `value` against `spec`; pushes `strict decoding error` style messages. */
function checkFields(value, spec, at, errors) {
  if (spec === S || spec === MAP) return;
  if (spec?.list) {
    if (!Array.isArray(value)) {
      errors.push(`${at}: expected a list`);
      return;
    }
    for (const [i, item] of value.entries()) checkFields(item, spec.list, `${at}[${i}]`, errors);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`${at}: expected an object`);
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    if (!(key in spec)) errors.push(`strict decoding error: unknown field "${at ? `${at}.` : ''}${key}"`);
    else checkFields(child, spec[key], at ? `${at}.${key}` : key, errors);
  }
}

/** Validates parsed YAML documents; returns { byKind, errors }. */
function validateDocuments(docs) {
  const errors = [];
  const byKind = {};
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    const { apiVersion, kind } = doc;
    if (apiVersion === 'kubeadm.k8s.io/v1beta3' || apiVersion === 'kubeadm.k8s.io/v1beta2') {
      errors.push(
        `no kind "${kind}" is registered for version "${apiVersion}" in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"`,
      );
      continue;
    }
    const group = KINDS[apiVersion];
    if (!group?.[kind]) {
      errors.push(`no kind "${kind}" is registered for version "${apiVersion}"`);
      continue;
    }
    if (byKind[kind]) errors.push(`duplicate ${kind} document`);
    byKind[kind] = doc;
    checkFields(doc, group[kind], '', errors);
  }
  const init = byKind.InitConfiguration;
  for (const [i, t] of (init?.bootstrapTokens ?? []).entries()) {
    if (!TOKEN.test(String(t?.token ?? ''))) errors.push(`bootstrapTokens[${i}].token: Invalid value: the bootstrap token is invalid`);
  }
  if (init?.certificateKey !== undefined && !CERT_KEY.test(String(init.certificateKey)))
    errors.push('certificateKey: Invalid value: must be 64 hex characters');
  const join = byKind.JoinConfiguration;
  if (join) {
    const bt = join.discovery?.bootstrapToken;
    const file = join.discovery?.file;
    if (!bt && !file) errors.push('discovery: Invalid value: bootstrapToken or file must be set');
    if (bt && file) errors.push('discovery: Invalid value: bootstrapToken and file cannot both be set');
    if (bt) {
      if (!TOKEN.test(String(bt.token ?? ''))) errors.push('discovery.bootstrapToken.token: Invalid value: the bootstrap token is invalid');
      if (!bt.apiServerEndpoint) errors.push('discovery.bootstrapToken.apiServerEndpoint: Required value');
      const hashes = bt.caCertHashes ?? [];
      if (hashes.length === 0 && bt.unsafeSkipCAVerification !== true) {
        errors.push('discovery.bootstrapToken.caCertHashes: Invalid value: using token-based discovery without caCertHashes can be unsafe');
      }
      for (const h of hashes)
        if (!CA_HASH.test(String(h)))
          errors.push(`discovery.bootstrapToken.caCertHashes: Invalid value: "${h}": the hash must be sha256:<64 hex>`);
    }
    const key = join.controlPlane?.certificateKey;
    if (key !== undefined && !CERT_KEY.test(String(key)))
      errors.push('controlPlane.certificateKey: Invalid value: must be 64 hex characters');
  }
  const cluster = byKind.ClusterConfiguration;
  if (cluster?.etcd?.local && cluster?.etcd?.external) errors.push('etcd: Invalid value: local and external are mutually exclusive');
  return { byKind, errors };
}

module.exports = { validateDocuments, TOKEN, CA_HASH, CERT_KEY };
