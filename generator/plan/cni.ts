/**
 * CNI settings with the spec's pod subnet carried into each plugin's own configuration:
 * Calico (tigera-operator + an Installation with the IP pool), Flannel (net-conf.json), Cilium
 * (the pinned cilium CLI installing the pinned chart, ADR 0017: Kubernetes IPAM, so the
 * controller-manager's node CIDRs from podSubnet are the only pod CIDRs, and, without kube-proxy,
 * the API server host/port). Upstream manifests are applied by URL (or from `mirrors.cni`), never
 * copied into kubeseed; versions come from generator/versions.ts unless the spec pins one.
 */
import { AGENT_STATE_DIR } from '../../protocol/host-paths.ts';
import type { StepDownload, StepDownloadProxy, StepFile } from '../../protocol/index.ts';
import { osProfile } from '../os/index.ts';
import type { ClusterSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';
import { CILIUM_CHARTS, CILIUM_CLI } from '../versions.ts';
import { downloadProxy } from './proxy.ts';

export const CNI_DIR = '/etc/kubeseed/cni';
/** Where the Cilium chart is unpacked (the tarball's top directory `cilium/` lies below). */
export const CILIUM_CHART_DIR = `${AGENT_STATE_DIR}/cilium-chart`;

export interface CniPlan {
  files: StepFile[];
  /** Release tarballs the agent installs (sha256-verified) before it applies or runs anything. */
  downloads: StepDownload[];
  /**
   * The proxy `downloads` and upstream manifest URLs go through (spec.proxy with the plan's no-proxy
   * list): set when spec.proxy is and something is fetched from outside.
   */
  proxy?: StepDownloadProxy;
  /** URLs or file paths applied with `kubectl apply -f`, in order. */
  manifests: string[];
  commands: string[][];
  /** Human summary for `kubeseed plan`. */
  summary: string;
}

/** Every image of the Cilium chart (values path → quay.io/cilium name), moved under `mirrors.imageRepository`. */
const CILIUM_IMAGES: ReadonlyArray<readonly [string, string]> = [
  ['image', 'cilium'],
  ['operator.image', 'operator'],
  ['envoy.image', 'cilium-envoy'],
  ['certgen.image', 'certgen'],
  ['hubble.relay.image', 'hubble-relay'],
  ['hubble.ui.backend.image', 'hubble-ui-backend'],
  ['hubble.ui.frontend.image', 'hubble-ui'],
  ['preflight.image', 'cilium'],
  ['preflight.envoy.image', 'cilium-envoy'],
  ['nodeinit.image', 'startup-script'],
  ['clustermesh.apiserver.image', 'clustermesh-apiserver'],
  ['encryption.ztunnel.image', 'ztunnel'],
];

function ciliumImageValues(repository: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [path, name] of CILIUM_IMAGES) {
    let node = values;
    for (const key of path.split('.')) {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
    node.repository = `${repository}/cilium/${name}`;
  }
  return values;
}

function ciliumPlan(spec: ClusterSpec): CniPlan {
  const v = spec.cni.version;
  const pod = spec.networking.podSubnet;
  const proxyFree = spec.kubeProxy.mode === 'disabled';
  const repository = spec.mirrors.imageRepository?.replace(/\/$/, '');
  const values: Record<string, unknown> = {
    // The controller-manager allocates every node a CIDR from podSubnet (kubeadm sets
    // --allocate-node-cidrs with networking.podSubnet); Cilium must use those, not a pool of its own.
    ipam: { mode: 'kubernetes' },
    kubeProxyReplacement: proxyFree,
    ...(proxyFree ? { k8sServiceHost: spec.controlPlaneEndpoint.host, k8sServicePort: spec.controlPlaneEndpoint.port } : {}),
    ...(repository ? ciliumImageValues(repository) : {}),
  };
  const mirror = spec.mirrors.cilium?.replace(/\/$/, '');
  const cli = `${osProfile(spec).paths.tools}/cilium`;
  const chart = v.replace(/^v/, '');
  const valuesPath = `${CNI_DIR}/cilium-values.yaml`;
  return {
    files: [{ path: valuesPath, content: toYaml(values, { lineWidth: 0 }), mode: 0o644, secret: false }],
    downloads: [
      {
        url: `${mirror ?? 'https://github.com/cilium/cilium-cli/releases/download'}/${CILIUM_CLI.version}/cilium-linux-{arch}.tar.gz`,
        sha256: { ...CILIUM_CLI.sha256 },
        member: 'cilium',
        path: cli,
      },
      // The spec parser admits only versions with a pinned chart digest.
      { url: `${mirror ?? 'https://helm.cilium.io'}/cilium-${chart}.tgz`, sha256: CILIUM_CHARTS[v] ?? '', path: CILIUM_CHART_DIR },
    ],
    ...downloadProxy(spec),
    manifests: [],
    // --chart-directory: cilium-cli then reads the verified chart instead of pulling one (its
    // version is the chart's; --version would be ignored).
    commands: [[cli, 'install', '--chart-directory', `${CILIUM_CHART_DIR}/cilium`, '--values', valuesPath, '--wait']],
    summary: `Cilium ${v} (chart sha256-pinned) via cilium-cli ${CILIUM_CLI.version}, Kubernetes IPAM from ${pod}${proxyFree ? ', kube-proxy replacement' : ''}`,
  };
}

function yamlDocs(docs: object[]): string {
  return docs.map((d) => toYaml(d, { lineWidth: 0 })).join('---\n');
}

function base(spec: ClusterSpec, upstream: string): string {
  return spec.mirrors.cni ? spec.mirrors.cni.replace(/\/$/, '') : upstream;
}

export function planCni(spec: ClusterSpec): CniPlan {
  const v = spec.cni.version;
  const pod = spec.networking.podSubnet;
  switch (spec.cni.plugin) {
    case 'calico': {
      const installation = {
        apiVersion: 'operator.tigera.io/v1',
        kind: 'Installation',
        metadata: { name: 'default' },
        spec: {
          calicoNetwork: {
            ipPools: [
              {
                name: 'default-ipv4-ippool',
                blockSize: 26,
                cidr: pod,
                encapsulation: 'VXLANCrossSubnet',
                natOutgoing: 'Enabled',
                nodeSelector: 'all()',
              },
            ],
            // Felix's iptables rules next to kube-proxy's nftables table break Service traffic; Calico
            // documents the pair (kube-proxy nftables ⇔ linuxDataplane Nftables; kernel ≥ 5.13, nft ≥ 1.0.1).
            ...(spec.kubeProxy.mode === 'nftables' ? { linuxDataplane: 'Nftables' } : {}),
          },
          ...(spec.mirrors.imageRepository ? { registry: spec.mirrors.imageRepository } : {}),
        },
      };
      const apiServer = { apiVersion: 'operator.tigera.io/v1', kind: 'APIServer', metadata: { name: 'default' }, spec: {} };
      const path = `${CNI_DIR}/calico-installation.yaml`;
      const upstream = base(spec, `https://raw.githubusercontent.com/projectcalico/calico/${v}/manifests`);
      return {
        files: [{ path, content: yamlDocs([installation, apiServer]), mode: 0o644, secret: false }],
        downloads: [],
        // Since v3.30 tigera-operator.yaml ships no CRDs; operator-crds.yaml has them all (the operator
        // creates none unless run with --bootstrapCRDs=true). cni-apply applies in this order,
        // server-side (the CRDs are too large for client-side apply), retrying each manifest until the
        // API accepts it: the Installation goes in once its CRD is Established.
        manifests: [`${upstream}/operator-crds.yaml`, `${upstream}/tigera-operator.yaml`, path],
        ...downloadProxy(spec),
        commands: [],
        summary: `Calico ${v} through the tigera operator (CRDs first), IP pool ${pod} (VXLANCrossSubnet)${spec.kubeProxy.mode === 'nftables' ? ', nftables data plane' : ''}`,
      };
    }
    case 'flannel': {
      const netConf = { Network: pod, EnableNFTables: spec.kubeProxy.mode === 'nftables', Backend: { Type: 'vxlan' } };
      const configMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-flannel-cfg', namespace: 'kube-flannel', labels: { app: 'flannel', 'k8s-app': 'flannel', tier: 'node' } },
        data: {
          'cni-conf.json': JSON.stringify(
            {
              name: 'cbr0',
              cniVersion: '0.3.1',
              plugins: [
                { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
                { type: 'portmap', capabilities: { portMappings: true } },
              ],
            },
            null,
            2,
          ),
          'net-conf.json': JSON.stringify(netConf, null, 2),
        },
      };
      const path = `${CNI_DIR}/flannel-net-conf.yaml`;
      return {
        files: [{ path, content: yamlDocs([configMap]), mode: 0o644, secret: false }],
        downloads: [],
        // The upstream manifest ships a default net-conf (10.244.0.0/16); ours replaces it and the
        // DaemonSet is restarted so every pod reads the spec's pod subnet.
        manifests: [`${base(spec, `https://github.com/flannel-io/flannel/releases/download/${v}`)}/kube-flannel.yml`, path],
        ...downloadProxy(spec),
        commands: [['kubectl', '-n', 'kube-flannel', 'rollout', 'restart', 'daemonset/kube-flannel-ds']],
        summary: `Flannel ${v} (vxlan), Network ${pod}`,
      };
    }
    case 'cilium':
      return ciliumPlan(spec);
    case 'none':
      return {
        files: [],
        downloads: [],
        manifests: [],
        commands: [],
        summary: 'no CNI (cni.plugin: none): install one yourself before nodes become Ready',
      };
  }
}
