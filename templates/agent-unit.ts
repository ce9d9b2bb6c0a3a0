/**
 * `kubeseed-agent.service`: runs the agent after cloud-init finished and the network is up,
 * restarts it on failure with a growing delay, and never gives up. The agent disables the unit
 * itself (`systemctl disable`, not `--now`) when its host is done. Pure.
 */
import { assertPath, joinLines } from './text.ts';

export const AGENT_UNIT_NAME = 'kubeseed-agent.service';

export interface AgentUnitParams {
  /** Default `/usr/local/bin/kubeseed-agent`. */
  agentPath?: string;
  /** The agent's configuration file written by user-data (coordinator URL, pinned CA, credential path). */
  configPath: string;
}

export function renderAgentUnit(p: AgentUnitParams): string {
  const agent = assertPath(p.agentPath ?? '/usr/local/bin/kubeseed-agent', 'agentPath');
  const config = assertPath(p.configPath, 'configPath');
  return joinLines([
    "# kubeseed: the first-boot agent. It enrolls with the coordinator and runs this host's rollout steps",
    '# (kubeadm init/join, etcd), then disables this unit.',
    '[Unit]',
    'Description=kubeseed agent (joins this host to its Kubernetes cluster)',
    'Wants=network-online.target',
    '# cloud-final runs user-data scripts: packages and files are in place before the agent starts.',
    '# Whoever starts this unit from inside cloud-final must use `systemctl start --no-block`, or wait for itself.',
    'After=network-online.target cloud-final.service',
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
    'Environment=HOME=/var/lib/kubeseed',
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
