/**
 * Paths of the families whose `/usr` is read-only (Flatcar, Fedora CoreOS): the agent and the
 * tools kubeseed downloads go to `/opt/bin`, the flex-volume directory to `/opt/libexec`.
 *
 * Runtime contract: constants.
 */
import type { OsProfile } from './types.ts';

/**
 * The kubelet and kube-controller-manager default the flex-volume directory to /usr/libexec/kubernetes/…,
 * which must be writable: kubeadm's troubleshooting guide ("/usr is mounted read-only on nodes") and
 * Flatcar's Kubernetes guide move it to /opt/libexec/…, which kubeadm then mounts into the controller
 * manager instead.
 */
const VOLUME_PLUGIN_DIR = '/opt/libexec/kubernetes/kubelet-plugins/volume/exec/';

/** `/opt/bin` is on Flatcar's default PATH; Ignition writes the config where containerd reads it. */
export const READ_ONLY_USR_PATHS: OsProfile['paths'] = {
  agent: '/opt/bin/kubeseed-agent',
  tools: '/opt/bin',
  containerdConfig: '/etc/containerd/config.toml',
  volumePluginDir: VOLUME_PLUGIN_DIR,
};
