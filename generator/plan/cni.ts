/**
 * CNI settings with the spec's pod subnet carried into each plugin's own configuration:
 * Calico (tigera-operator + an Installation with the IP pool), Flannel (net-conf.json), Cilium
 * (cilium CLI with cluster-pool IPAM and, without kube-proxy, the API server host/port).
 * Upstream manifests are applied by URL (or from `mirrors.cni`), never copied into kubeseed.
 */
import type { StepFile } from '../../protocol/index.ts';
import type { ClusterSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';

export const CNI_DIR = '/etc/kubeseed/cni';

export interface CniPlan {
  files: StepFile[];
  /** URLs or file paths applied with `kubectl apply -f`, in order. */
  manifests: string[];
  commands: string[][];
  /** Human summary for `kubeseed plan`. */
  summary: string;
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
          },
          ...(spec.mirrors.imageRepository ? { registry: spec.mirrors.imageRepository } : {}),
        },
      };
      const apiServer = { apiVersion: 'operator.tigera.io/v1', kind: 'APIServer', metadata: { name: 'default' }, spec: {} };
      const path = `${CNI_DIR}/calico-installation.yaml`;
      return {
        files: [{ path, content: yamlDocs([installation, apiServer]), mode: 0o644, secret: false }],
        manifests: [`${base(spec, `https://raw.githubusercontent.com/projectcalico/calico/${v}/manifests`)}/tigera-operator.yaml`, path],
        commands: [],
        summary: `Calico ${v} through the tigera operator, IP pool ${pod} (VXLANCrossSubnet)`,
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
        // The upstream manifest ships a default net-conf (10.244.0.0/16); ours replaces it and the
        // DaemonSet is restarted so every pod reads the spec's pod subnet.
        manifests: [`${base(spec, `https://github.com/flannel-io/flannel/releases/download/${v}`)}/kube-flannel.yml`, path],
        commands: [['kubectl', '-n', 'kube-flannel', 'rollout', 'restart', 'daemonset/kube-flannel-ds']],
        summary: `Flannel ${v} (vxlan), Network ${pod}`,
      };
    }
    case 'cilium': {
      const values: Record<string, unknown> = {
        ipam: {
          mode: 'cluster-pool',
          operator: { clusterPoolIPv4PodCIDRList: [pod], clusterPoolIPv4MaskSize: spec.networking.nodeCidrMaskSize },
        },
        kubeProxyReplacement: spec.kubeProxy.mode === 'disabled',
        ...(spec.kubeProxy.mode === 'disabled'
          ? { k8sServiceHost: spec.controlPlaneEndpoint.host, k8sServicePort: spec.controlPlaneEndpoint.port }
          : {}),
      };
      const path = `${CNI_DIR}/cilium-values.yaml`;
      return {
        files: [{ path, content: toYaml(values, { lineWidth: 0 }), mode: 0o644, secret: false }],
        manifests: [],
        commands: [['cilium', 'install', '--version', v.replace(/^v/, ''), '--values', path, '--wait']],
        summary: `Cilium ${v} via the cilium CLI, cluster-pool IPAM ${pod}${spec.kubeProxy.mode === 'disabled' ? ', kube-proxy replacement' : ''}`,
      };
    }
    case 'none':
      return {
        files: [],
        manifests: [],
        commands: [],
        summary: 'no CNI (cni.plugin: none): install one yourself before nodes become Ready',
      };
  }
}
