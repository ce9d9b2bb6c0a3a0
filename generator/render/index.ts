/**
 * renderArtifacts: a plan → every file `kubeseed generate` writes, as data (path relative to the
 * output directory, bytes, mode). Pure and deterministic; the CLI only writes what this returns.
 */
import { stringify } from 'yaml';
import { describeHostPlan } from '../plan/document.ts';
import type { ClusterPlan, SecretSource } from '../plan/types.ts';
import { renderCloudConfig } from './cloud-init.ts';
import { renderIgnition } from './ignition.ts';
import { writeNoCloudSeed } from './iso9660.ts';
import { renderMetaData, renderNetworkConfig } from './network-config.ts';

export interface Artifact {
  /** Relative to the output directory, `/`-separated. */
  path: string;
  content: string | Uint8Array;
  mode: number;
}

export interface HostSummary {
  host: string;
  role: string;
  address: string;
  format: 'cloud-init' | 'ignition';
  /** Bytes of the user-data (or Ignition config) as delivered. */
  userDataBytes: number;
}

export interface RenderOptions {
  coordinatorCa: string;
  /** SHA-256 of the decompressed agent executable, when it was built (Ignition verification). */
  agentSha256?: string;
  /** Fixed timestamp for the seed ISOs (deterministic bytes). */
  isoTimestamp: Date;
}

export function renderArtifacts(
  plan: ClusterPlan,
  publicSecrets: SecretSource,
  opts: RenderOptions,
): { artifacts: Artifact[]; summary: HostSummary[] } {
  const { spec } = plan;
  const artifacts: Artifact[] = [];
  const summary: HostSummary[] = [];
  for (const hp of plan.hosts) {
    const host = spec.hosts.find((h) => h.name === hp.name)!;
    const dir = `hosts/${host.name}`;
    let bytes: number;
    if (spec.os.format === 'ignition') {
      const ign = renderIgnition(hp.provisioning, host, spec, {
        coordinatorCa: opts.coordinatorCa,
        ...(opts.agentSha256 ? { agentSha256: opts.agentSha256 } : {}),
      });
      artifacts.push({ path: `${dir}/config.ign`, content: ign, mode: 0o600 });
      bytes = Buffer.byteLength(ign);
    } else {
      const userData = renderCloudConfig(hp.provisioning);
      const metaData = renderMetaData(host, userData);
      const networkConfig = renderNetworkConfig(host);
      artifacts.push(
        { path: `${dir}/user-data`, content: userData, mode: 0o600 },
        { path: `${dir}/meta-data`, content: metaData, mode: 0o644 },
        { path: `${dir}/network-config`, content: networkConfig, mode: 0o644 },
        {
          path: `${dir}/seed.iso`,
          content: writeNoCloudSeed({ userData, metaData, networkConfig, timestamp: opts.isoTimestamp }),
          mode: 0o600,
        },
      );
      bytes = Buffer.byteLength(userData);
    }
    artifacts.push({
      path: `plan/${host.name}.yaml`,
      content: stringify(describeHostPlan(plan, host.name, publicSecrets), { lineWidth: 0 }),
      mode: 0o644,
    });
    summary.push({ host: host.name, role: host.role, address: host.address?.cidr ?? 'dhcp', format: spec.os.format, userDataBytes: bytes });
  }
  return { artifacts, summary };
}
