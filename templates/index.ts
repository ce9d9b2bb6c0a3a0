/**
 * templates: the text of what lands on hosts (load balancer and keepalived configs, containerd,
 * kernel settings, etcd and agent units, first-boot scripts). Imports nothing from the project:
 * each renderer takes its own small plain-data parameters and returns a string, pure and
 * deterministic. Invalid values throw `TemplateInputError`.
 */
export { AGENT_UNIT_NAME, type AgentUnitParams, renderAgentUnit } from './agent-unit.ts';
export {
  assertNoProxyEntry,
  CONTAINERD_CERTS_DIR,
  CONTAINERD_CONFIG_PATH,
  CONTAINERD_SOCKET,
  type ContainerdConfigParams,
  type ContainerdUnitParams,
  containerdHostsTomlPath,
  hasProxy,
  type ProxySettings,
  renderContainerdConfig,
  renderContainerdHostsToml,
  renderContainerdProxyDropin,
  renderContainerdUnit,
  renderCrictlConfig,
  tomlString,
} from './containerd.ts';
export {
  CONTAINERD_SELECT_SCRIPT,
  CONTAINERD_SELECT_UNIT,
  type ContainerdSelectParams,
  type ContainerdSelectUnitParams,
  renderContainerdDropin,
  renderContainerdSelectScript,
  renderContainerdSelectUnit,
} from './containerd-flatcar.ts';
export {
  ETCD_KUBELET_DROPIN_PATH,
  type EtcdKubeletDropinParams,
  type EtcdMember,
  type EtcdUnitParams,
  etcdKubeletConfiguration,
  renderEtcdKubeletDropin,
  renderEtcdUnit,
} from './etcd.ts';
export { type HaproxyConfigParams, type LoadBalancerBackend, renderHaproxyConfig } from './haproxy.ts';
export { listPrepareHostPackages, nodeToolPackages } from './host-packages.ts';
export { type InstallAgentParams, renderInstallAgentScript } from './install-agent.ts';
export {
  type KeepalivedCheckScriptParams,
  type KeepalivedConfigParams,
  renderKeepalivedCheckScript,
  renderKeepalivedConfig,
} from './keepalived.ts';
export {
  KERNEL_MODULES_PATH,
  type KernelModulesParams,
  KUBERNETES_SYSCTLS,
  listKernelModules,
  renderKernelModules,
  renderSysctlConfig,
  SYSCTL_PATH,
} from './kernel.ts';
export { type KubernetesAptSourceParams, renderKubernetesAptSourceScript } from './kubernetes-apt-source.ts';
export { type NginxStreamConfigParams, renderNginxStreamConfig } from './nginx.ts';
export {
  type ContainerdDockerApt,
  type ContainerdTarball,
  type EtcdTarball,
  etcdTarballUrl,
  type PrepareHostParams,
  renderPrepareHostScript,
} from './prepare-host.ts';
export {
  CHRONY_TMPFILES_PATH,
  KUBERNETES_RPM_KEY_PATH,
  KUBERNETES_RPM_REPO_PATH,
  kubernetesRpmKeyUrl,
  kubernetesRpmRepoUrl,
  RPM_OSTREE_INSTALL_UNIT,
  renderChronyTmpfiles,
  renderKubernetesRpmRepo,
  renderRpmOstreeInstallUnit,
} from './rpm-ostree.ts';
export { shQuote, TemplateInputError } from './text.ts';
