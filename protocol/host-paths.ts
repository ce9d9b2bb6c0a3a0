/**
 * Paths and names on a host that the generator writes (user-data, Ignition, released step files)
 * and the agent reads or acts on: one definition each, so both sides cannot drift apart.
 * The coordinator's own state directory (generator/state/layout.ts) is a different place on a
 * different machine and is not here.
 *
 * Runtime contract: pure data, no imports (bundled into the agent).
 */

/** The agent's configuration file, written by user-data (`--config` default). */
export const AGENT_CONFIG_PATH = '/etc/kubeseed/agent.json';
/** The agent's state on the host: its key, session, sentinels and downloads (`stateDir` default). */
export const AGENT_STATE_DIR = '/var/lib/kubeseed';
/** The systemd unit that runs the agent; the agent disables it when the rollout is over. */
export const AGENT_UNIT_NAME = 'kubeseed-agent.service';

/** kubeadm's certificate directory (`certificatesDir`, `--cert-dir` default). */
export const PKI_DIR = '/etc/kubernetes/pki';
/** kubelet's static pod directory, which kubeadm writes and its join preflight wants empty. */
export const MANIFESTS_DIR = '/etc/kubernetes/manifests';
/** The kube-vip static pod (generator/plan/kube-vip.ts builds it; the agent swaps its kubeconfig). */
export const KUBE_VIP_MANIFEST = `${MANIFESTS_DIR}/kube-vip.yaml`;
/** kubeadm's etcd healthcheck client: the agent checks etcd with it; the plan's gates name it. */
export const ETCD_HEALTHCHECK_CLIENT = {
  caFile: `${PKI_DIR}/etcd/ca.crt`,
  certFile: `${PKI_DIR}/etcd/healthcheck-client.crt`,
  keyFile: `${PKI_DIR}/etcd/healthcheck-client.key`,
} as const;
