/**
 * `kubeseed-agent.service`: runs the agent once the host is prepared and the network is up —
 * after cloud-init finished (Debian/Ubuntu), or after the system extensions are merged and
 * containerd runs (Flatcar, Fedora CoreOS: there is no cloud-init) — restarts it on failure with a
 * growing delay, and never gives up. The agent disables the unit
 * itself (`systemctl disable`, not `--now`) when its host is done. Pure.
 */
import { AGENT_STATE_DIR, AGENT_UNIT_NAME } from '../protocol/host-paths.ts';
import { assertPath, joinLines } from './text.ts';

export { AGENT_UNIT_NAME };

export interface AgentUnitParams {
  /** Default `/usr/local/bin/kubeseed-agent`. */
  agentPath?: string;
  /** The agent's configuration file written by user-data (coordinator URL, pinned CA, credential path). */
  configPath: string;
  /** What prepared the host: `cloud-init` (default, user-data scripts) or `ignition` (extensions, containerd). */
  preparedBy?: 'cloud-init' | 'ignition';
}

function orderingLines(preparedBy: AgentUnitParams['preparedBy']): string[] {
  if (preparedBy === 'ignition') {
    return [
      'Wants=network-online.target containerd.service',
      '# kubeadm and the kubelet come from system extensions and talk to containerd: both must be in place.',
      'After=network-online.target systemd-sysext.service containerd.service',
    ];
  }
  return [
    'Wants=network-online.target',
    '# cloud-final runs user-data scripts: packages and files are in place before the agent starts.',
    '# Whoever starts this unit from inside cloud-final must use `systemctl start --no-block`, or wait for itself.',
    'After=network-online.target cloud-final.service',
  ];
}

export function renderAgentUnit(p: AgentUnitParams): string {
  const agent = assertPath(p.agentPath ?? '/usr/local/bin/kubeseed-agent', 'agentPath');
  const config = assertPath(p.configPath, 'configPath');
  return joinLines([
    "# kubeseed: the first-boot agent. It enrolls with the coordinator and runs this host's rollout steps",
    '# (kubeadm init/join, etcd), then disables this unit.',
    '[Unit]',
    'Description=kubeseed agent (joins this host to its Kubernetes cluster)',
    ...orderingLines(p.preparedBy),
    '# Keep restarting however often it fails: a host that gives up never joins.',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${agent} --config ${config}`,
    'Restart=on-failure',
    // 78 (EX_CONFIG): the agent's configuration is unusable; restarting cannot fix it.
    'RestartPreventExitStatus=78',
    'RestartSec=5s',
    '# systemd ≥ 254 (Ubuntu 24.04, Debian 13) grows the delay to 2 min over 10 restarts; older versions log',
    '# "unknown key" once and keep the fixed 5 s.',
    'RestartSteps=10',
    'RestartMaxDelaySec=2min',
    `Environment=HOME=${AGENT_STATE_DIR}`,
    'StateDirectory=kubeseed',
    'StateDirectoryMode=0700',
    'UMask=0022',
    '# Hardening, limited to what kubeadm tolerates. The agent runs kubeadm as root; kubeadm writes',
    '# /etc/kubernetes, /var/lib/kubelet and /etc/systemd, runs systemctl, modprobe, iptables and mounts',
    '# (reset unmounts). So no ProtectSystem, ProtectKernel*, PrivateDevices, PrivateTmp, RestrictSUIDSGID',
    '# (apt unpacks setuid files) or ProtectHostname. NoNewPrivileges is left off on purpose: for a root',
    '# process holding every capability that can restart any unit through systemctl it protects nothing,',
    '# and on SELinux hosts it blocks the domain transitions of helpers that kubeadm and package tools run.',
    '# What remains is harmless to kubeadm and closes a few needless doors:',
    'ProtectHome=read-only',
    'LockPersonality=yes',
    'RestrictRealtime=yes',
    'TimeoutStopSec=30s',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ]);
}
