/**
 * Validation of what only Fedora CoreOS specs use (docs/adr/0023): the Kubernetes RPM mirror
 * rpm-ostree layers from, and one plain statement of what kubeseed's tests prove for this OS.
 * Pure: issues go to the reader.
 */
import type { SpecReader } from './reader.ts';
import type { ClusterSpec } from './types.ts';

/** Said once on every fedora-coreos spec (docs/formats.md, "What is proven, per OS"). */
const FEDORA_COREOS_PROOF_NOTE =
  'fedora-coreos: proven by real programs here are the Ignition config (ignition-validate), its files stage (the real ignition writes ' +
  'files, units and links into a directory), the units (systemd-analyze verify) and NetworkManager keyfiles (nmcli --offline); ' +
  'NOT proven, because no Fedora CoreOS host boots in these tests: rpm-ostree layering of the Kubernetes RPMs, SELinux labels at ' +
  "runtime, the version of Fedora CoreOS's own containerd (the agent refuses one older than 2.0) and NetworkManager applying the " +
  'address — try one host before the fleet (docs/formats.md)';

export function checkFedoraCoreOs(spec: ClusterSpec, r: SpecReader): void {
  r.warn(['spec', 'os', 'family'], FEDORA_COREOS_PROOF_NOTE);
  const m = spec.mirrors;
  if (m.kubernetesApt && !m.kubernetesRpm) {
    r.error(
      ['spec', 'mirrors', 'kubernetesApt'],
      `is an apt repository; fedora-coreos layers RPMs with rpm-ostree: set spec.mirrors.kubernetesRpm to your mirror of https://pkgs.k8s.io/core:/stable:/v1.${spec.kubernetesMinor}/rpm/ (and remove kubernetesApt)`,
    );
  }
  if (m.kubernetesRpm?.startsWith('http://') && !m.kubernetesRpmKey) {
    r.error(
      ['spec', 'mirrors', 'kubernetesRpm'],
      'is plain http, so its default key URL (<mirror>repodata/repomd.xml.key) would be too, and that key vouches for every layered package: set spec.mirrors.kubernetesRpmKey to an https URL of the key',
    );
  }
  if (spec.os.containerdVersion) {
    r.warn(
      ['spec', 'os', 'containerdVersion'],
      'is not used with fedora-coreos: the hosts run the image’s own containerd (Fedora’s package, checked to be ≥ 2.0 by the agent); remove it',
    );
  }
  if (m.sysext) {
    r.warn(
      ['spec', 'mirrors', 'sysext'],
      'is not used with fedora-coreos: rpm-ostree layers kubelet, kubeadm and kubectl from spec.mirrors.kubernetesRpm (or pkgs.k8s.io) and containerd is the image’s own; remove it',
    );
  }
}
