/**
 * Per-host first-boot content (the neutral Provisioning model): what user-data writes and runs
 * before the agent takes over. It carries no cluster secret: only the coordinator URL, the pinned
 * coordinator CA and this host's enrollment credential.
 */
import { AGENT_CONFIG_PATH, AGENT_STATE_DIR } from '../../protocol/host-paths.ts';
import { buildEtcdHostKubeletConfiguration } from '../kubeadm/documents.ts';
import { expectedEndpointAddress } from '../spec/endpoint.ts';
import type { ClusterSpec, HostSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';
import { hostTemplateFiles } from './host-files.ts';
import type { PlanContext, ProvisionFile, Provisioning } from './types.ts';

export const COORDINATOR_CA_PATH = '/etc/kubeseed/coordinator-ca.pem';
export const CREDENTIAL_PATH = '/etc/kubeseed/credential';
export { AGENT_CONFIG_PATH };
/**
 * What the credential file holds in fleet content served over plain HTTP (PXE): not a secret, so
 * machines booted that way can enroll only as candidates that wait for `kubeseed approve`.
 */
export const UNAUTHENTICATED_CREDENTIAL = 'unauthenticated';

/** The same first-boot content with the credential replaced by the marker, for plain-HTTP delivery. */
export function withoutCredential(p: Provisioning): Provisioning {
  return { ...p, files: p.files.map((f) => (f.path === CREDENTIAL_PATH ? { ...f, content: `${UNAUTHENTICATED_CREDENTIAL}\n` } : f)) };
}

/** The agent's on-host configuration file (read by agent/config.ts). */
export function buildAgentConfig(spec: ClusterSpec, host: HostSpec | null): Record<string, unknown> {
  return {
    coordinatorUrl: spec.coordinator.url,
    ...(spec.coordinator.replicaUrls.length > 0 ? { replicaUrls: spec.coordinator.replicaUrls } : {}),
    caFile: COORDINATOR_CA_PATH,
    credentialFile: CREDENTIAL_PATH,
    ...(host ? { host: host.name } : {}),
    stateDir: AGENT_STATE_DIR,
    keepAgent: spec.day2.keepAgent,
  };
}

export function hostsEntries(spec: ClusterSpec): Provisioning['hostsEntries'] {
  if (!spec.networking.hostsFile) return [];
  const entries: Provisioning['hostsEntries'] = [];
  // The address the agents' DNS preflight expects (generator/spec/endpoint.ts); without one (an
  // external load balancer and no vip) the first control plane, as before.
  const endpointIp = expectedEndpointAddress(spec) ?? spec.hosts.find((h) => h.role === 'control-plane')?.address?.ip;
  if (endpointIp && spec.controlPlaneEndpoint.host !== endpointIp)
    entries.push({ ip: endpointIp, names: [spec.controlPlaneEndpoint.host] });
  for (const h of spec.hosts) if (h.address) entries.push({ ip: h.address.ip, names: h.fqdn ? [h.fqdn, h.name] : [h.name] });
  return entries;
}

/**
 * One host's neutral first-boot files, units and commands (STYLE.md's `toProvisioning`: `planCluster`
 * calls it per host, so the plan carries each host's provisioning and renderers only serialise it).
 * `host` null = the fleet's generic machine (fleet mode): identity comes from enrollment facts.
 */
export function toProvisioning(spec: ClusterSpec, host: HostSpec | null, ctx: PlanContext): Provisioning {
  const credential = host ? ctx.enrollmentCredentials[host.name] : ctx.enrollmentCredentials['*'];
  if (credential === undefined) throw new Error(`no enrollment credential for ${host ? host.name : 'the fleet'}`);
  const files: ProvisionFile[] = [
    { path: COORDINATOR_CA_PATH, content: ctx.coordinatorCa, mode: 0o644 },
    { path: CREDENTIAL_PATH, content: `${credential}\n`, mode: 0o600 },
    { path: AGENT_CONFIG_PATH, content: `${JSON.stringify(buildAgentConfig(spec, host), null, 2)}\n`, mode: 0o644 },
  ];
  if (host?.role === 'etcd' && spec.etcd.mode === 'static-pod') {
    files.push({
      path: '/etc/kubeseed/etcd-kubelet.yaml',
      content: toYaml(buildEtcdHostKubeletConfiguration(), { lineWidth: 0 }),
      mode: 0o644,
    });
  }
  const t = hostTemplateFiles(spec, host);
  files.push(...t.files);
  return {
    hostname: host?.name ?? '',
    ...(host?.fqdn ? { fqdn: host.fqdn } : {}),
    files,
    units: t.units,
    commands: t.commands,
    users: spec.os.sshAuthorizedKeys.length ? [{ name: 'default', sshAuthorizedKeys: spec.os.sshAuthorizedKeys }] : [],
    timeServers: spec.os.timeServers,
    hostsEntries: host ? hostsEntries(spec) : [],
  };
}
