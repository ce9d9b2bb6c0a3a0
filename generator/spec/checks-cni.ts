/**
 * The CNI against kube-proxy's mode, the image mirrors it needs, and the Cilium charts kubeseed pins. Pure.
 */
import { CILIUM_CHARTS } from '../versions.ts';
import type { SpecReader } from './reader.ts';
import type { ClusterSpec } from './types.ts';

// biome-ignore lint/suspicious/noExplicitAny: the structurally checked tree is plain data of known shape
type Raw = any;

/** `s` is the raw `spec` mapping (what the user wrote). */
export function checkCni(spec: ClusterSpec, s: Raw, r: SpecReader): void {
  if (spec.kubeProxy.mode === 'disabled' && (spec.cni.plugin === 'calico' || spec.cni.plugin === 'flannel')) {
    // Both reach the API through the kubernetes Service (flannel's kube-subnet-mgr; Calico's operator
    // without a kubernetes-services-endpoint ConfigMap), which nothing would serve: nodes never get Ready.
    r.error(
      ['spec', 'kubeProxy', 'mode'],
      `disabled: ${spec.cni.plugin} does not replace kube-proxy as kubeseed installs it, so no Service (kubernetes.default included) would work; use nftables or iptables, or cni.plugin: cilium, which replaces kube-proxy`,
    );
  } else if (spec.kubeProxy.mode === 'disabled' && spec.cni.plugin === 'none') {
    r.warn(['spec', 'kubeProxy', 'mode'], 'disabled leaves Services without a proxy unless the CNI you install replaces kube-proxy');
  }
  const mirrored = spec.mirrors.registryMirrors;
  if (spec.cni.plugin === 'calico' && spec.mirrors.imageRepository && !mirrored['quay.io'] && !mirrored._default) {
    r.warn(
      ['spec', 'mirrors', 'imageRepository'],
      "moves Calico's own images (the Installation's registry) but not the operator: tigera-operator.yaml pulls quay.io/tigera/operator; add spec.mirrors.registryMirrors quay.io: [<your mirror>] so containerd pulls it there (spec.mirrors.cni already serves the manifests)",
    );
  }
  if (spec.cni.plugin === 'flannel' && spec.mirrors.imageRepository && !mirrored['ghcr.io'] && !mirrored._default) {
    r.warn(
      ['spec', 'mirrors', 'imageRepository'],
      "does not move Flannel's images: kube-flannel.yml pulls ghcr.io/flannel-io/flannel and ghcr.io/flannel-io/flannel-cni-plugin; add spec.mirrors.registryMirrors ghcr.io: [<your mirror>] so containerd pulls them there (spec.mirrors.cni already serves the manifest)",
    );
  }
  if (spec.cni.plugin === 'cilium' && s.cni?.version !== undefined && CILIUM_CHARTS[s.cni.version] === undefined) {
    r.error(
      ['spec', 'cni', 'version'],
      `${s.cni.version}: kubeseed installs Cilium from a sha256-pinned chart and pins ${Object.keys(CILIUM_CHARTS).join(', ')}; use one of those, or omit version for the one tested with Kubernetes 1.${spec.kubernetesMinor}`,
    );
  }
}
