/**
 * A plan → every file `kubeseed generate` writes, as data (path relative to the output directory,
 * bytes or a seed image to lay out, mode): host by host (`ArtifactRenderer`, so the CLI writes one
 * host's files while it renders the next) or all at once (`renderArtifacts`). Pure and
 * deterministic; the CLI only writes what this returns.
 */
import { PlanError } from '../errors.ts';
import { findHost } from '../plan/build-step.ts';
import { describeHostPlan } from '../plan/document.ts';
import { withoutCredential } from '../plan/provision.ts';
import type { ClusterPlan, HostPlan, SecretSource } from '../plan/types.ts';
import { architecturesOf } from '../spec/integrity.ts';
import type { ClusterSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';
import { cloudConfigWriter, renderCloudConfig } from './cloud-init.ts';
import { renderIgnition } from './ignition.ts';
import type { NoCloudSeed } from './iso9660.ts';
import { renderMetaData, renderNetworkConfig } from './network-config.ts';
import { type ProxmoxHostInput, renderProxmox } from './proxmox.ts';
import { renderPxeFiles } from './pxe.ts';
import { checkUserDataSize, hasUserDataLimit } from './size-limits.ts';
import type { SysextArch } from './sysext.ts';

export interface Artifact {
  /** Relative to the output directory, `/`-separated. */
  path: string;
  /** The bytes, or a seed image to lay out: plain data either way, so it can cross to a writing thread. */
  content: string | Uint8Array | SeedImage;
  mode: number;
}

/**
 * A NoCloud seed ISO described by its files: whoever writes it lays it out (`layoutNoCloudSeed`)
 * into a buffer of its own, so a fleet's images are never all in memory at once.
 */
export interface SeedImage {
  noCloudSeed: NoCloudSeed;
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
  /**
   * Hex SHA-256 of the agent executable (after gunzip) per architecture, for Ignition's
   * `verification.hash`: required for every architecture `agentArchesOf(spec)` names.
   */
  agentSha256: Partial<Record<SysextArch, string>>;
  /** Fixed timestamp for the seed ISOs (deterministic bytes). */
  isoTimestamp: Date;
}

export interface RenderedArtifacts {
  artifacts: Artifact[];
  summary: HostSummary[];
  /** What the operator should know (e.g. a user-data delivered gzip-compressed). */
  notes: string[];
}

/** One host's files and its summary line. */
export interface HostArtifacts {
  artifacts: Artifact[];
  summary: HostSummary;
}

/**
 * The architectures whose agent executable the Ignition configs fetch (hosts and the fleet), each
 * needing its digest in `RenderOptions.agentSha256`; none for cloud-init, whose install-agent.sh
 * checks the digest the coordinator publishes.
 */
export function agentArchesOf(spec: ClusterSpec): SysextArch[] {
  return spec.os.format === 'ignition' ? architecturesOf(spec) : [];
}

/**
 * Renders host by host, so that `kubeseed generate` writes one host's files while the next is being
 * rendered; `renderArtifacts` is the same, all at once. A user-data over its platform's limit is
 * recorded, not thrown: `finish()` throws one PlanError naming every such host, then renders the
 * files that depend on all hosts (Proxmox, fleet, PXE). On a platform with a size limit
 * (`mayExceedLimit`) nothing should be written before `finish()` returned.
 */
export class ArtifactRenderer {
  readonly notes: string[] = [];
  /** Whether some host's user-data may turn out too large for the platform (AWS, OpenStack). */
  readonly mayExceedLimit: boolean;
  private readonly tooLarge: string[] = [];
  private readonly proxmoxHosts: ProxmoxHostInput[] = [];
  /** Only Proxmox output reads the user-data text again; elsewhere the bytes alone are kept. */
  private readonly proxmox: boolean;
  private readonly cloudConfig = cloudConfigWriter();

  constructor(
    private readonly plan: ClusterPlan,
    private readonly publicSecrets: SecretSource,
    private readonly opts: RenderOptions,
  ) {
    const { spec } = plan;
    this.mayExceedLimit = hasUserDataLimit(spec.os.platform);
    this.proxmox = spec.os.platform === 'proxmox' && spec.os.format === 'cloud-init' && spec.proxmox.templateVmid !== undefined;
  }

  renderHost(hp: HostPlan): HostArtifacts {
    const { spec } = this.plan;
    const { opts } = this;
    const host = findHost(spec, hp.name);
    const provisioning = hp.provisioning;
    if (!provisioning) throw new Error(`host ${host.name} has no first-boot content: render a plan from planCluster, not planRollout`);
    const dir = `hosts/${host.name}`;
    const artifacts: Artifact[] = [];
    let bytes: number;
    if (spec.os.format === 'ignition') {
      const ign = renderIgnition(provisioning, host, spec, { coordinatorCa: opts.coordinatorCa, agentSha256: this.agentSha256(host.arch) });
      artifacts.push({ path: `${dir}/config.ign`, content: ign, mode: 0o600 });
      const size = checkUserDataSize(host.name, ign, spec.os.platform, 'ignition');
      if (!size.ok) this.tooLarge.push(size.message!);
      bytes = size.payload.length; // an Ignition config is delivered as is: its raw bytes
    } else {
      const userData = renderCloudConfig(provisioning, this.cloudConfig);
      // Encoded once: the meta-data digest, the size check and the seed ISO all read these bytes.
      const userDataBytes = Buffer.from(userData, 'utf8');
      const metaData = renderMetaData(host, userDataBytes);
      const networkConfig = renderNetworkConfig(host);
      const size = checkUserDataSize(host.name, userDataBytes, spec.os.platform, 'cloud-init');
      if (!size.ok) this.tooLarge.push(size.message!);
      else if (size.message) this.notes.push(size.message);
      artifacts.push(
        // gzip-compressed when that is what fits the platform (cloud-init detects and decompresses it).
        { path: `${dir}/user-data`, content: size.payload, mode: 0o600 },
        { path: `${dir}/meta-data`, content: metaData, mode: 0o644 },
        { path: `${dir}/network-config`, content: networkConfig, mode: 0o644 },
        {
          path: `${dir}/seed.iso`,
          content: { noCloudSeed: { userData: userDataBytes, metaData, networkConfig, timestamp: opts.isoTimestamp } },
          mode: 0o600,
        },
      );
      bytes = size.bytes;
      if (this.proxmox) this.proxmoxHosts.push({ name: host.name, userData, metaData, networkConfig });
    }
    artifacts.push({
      path: `plan/${host.name}.yaml`,
      content: toYaml(describeHostPlan(this.plan, host.name, this.publicSecrets), { lineWidth: 0 }),
      mode: 0o644,
    });
    return {
      artifacts,
      summary: { host: host.name, role: host.role, address: host.address?.cidr ?? 'dhcp', format: spec.os.format, userDataBytes: bytes },
    };
  }

  /** Throws PlanError naming every host whose user-data is over its platform's limit; else the cluster-wide files. */
  finish(): Artifact[] {
    const { spec } = this.plan;
    const { opts, plan } = this;
    if (this.tooLarge.length) throw new PlanError(`user-data over the ${spec.os.platform} limit:\n${this.tooLarge.join('\n')}`);
    const artifacts: Artifact[] = [];
    if (this.proxmox) artifacts.push(...renderProxmox(spec, this.proxmoxHosts).files);
    if (plan.fleet) {
      if (spec.os.format === 'ignition') {
        artifacts.push({
          path: 'fleet/config.ign',
          content: renderIgnition(plan.fleet, null, spec, { coordinatorCa: opts.coordinatorCa, agentSha256: this.agentSha256() }),
          mode: 0o600,
        });
      } else {
        artifacts.push({ path: 'fleet/user-data', content: renderCloudConfig(plan.fleet), mode: 0o600 });
      }
    }
    if (spec.os.platform === 'pxe' || spec.coordinator.httpListen || plan.fleet) {
      // Everything below is served over plain HTTP: the fleet content carries no credential.
      const open = plan.fleet ? withoutCredential(plan.fleet) : undefined;
      const fleetUserData = open && spec.os.format === 'cloud-init' ? renderCloudConfig(open) : undefined;
      const fleetMetaData = 'instance-id: iid-kubeseed-fleet\n';
      artifacts.push(...renderPxeFiles(spec, fleetUserData ? { fleetUserData, fleetMetaData } : {}).files);
      if (open) {
        // What `kubeseed serve` hands out on coordinator.httpListen (no secret: checked by a test).
        if (fleetUserData)
          artifacts.push(
            { path: 'coordinator/http/user-data', content: fleetUserData, mode: 0o644 },
            { path: 'coordinator/http/meta-data', content: fleetMetaData, mode: 0o644 },
          );
        else
          artifacts.push({
            path: 'coordinator/http/config.ign',
            content: renderIgnition(open, null, spec, { coordinatorCa: opts.coordinatorCa, agentSha256: this.agentSha256() }),
            mode: 0o644,
          });
      }
    }
    return artifacts;
  }

  /** The digest Ignition checks the agent against: an Ignition config never fetches an unverified agent. */
  private agentSha256(arch: SysextArch = 'amd64'): string {
    const sha256 = this.opts.agentSha256[arch];
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
      throw new PlanError(
        `no SHA-256 of the linux-${arch} agent executable to put in Ignition's verification.hash; kubeseed generate reads it from the built agent (npm run build)`,
      );
    }
    return sha256;
  }
}

/** Every file of the plan at once. Throws PlanError naming every host whose user-data is over its platform's limit. */
export function renderArtifacts(plan: ClusterPlan, publicSecrets: SecretSource, opts: RenderOptions): RenderedArtifacts {
  const renderer = new ArtifactRenderer(plan, publicSecrets, opts);
  const artifacts: Artifact[] = [];
  const summary: HostSummary[] = [];
  for (const hp of plan.hosts) {
    const host = renderer.renderHost(hp);
    artifacts.push(...host.artifacts);
    summary.push(host.summary);
  }
  artifacts.push(...renderer.finish());
  return { artifacts, summary, notes: renderer.notes };
}
