/**
 * spec.proxmox: what deploy.sh (generator/render/proxmox.ts) needs when it is written, and the
 * VMIDs it acts on. Pure.
 */
import type { PathPart, SpecReader } from './reader.ts';
import type { ClusterSpec, HostSpec } from './types.ts';

// biome-ignore lint/suspicious/noExplicitAny: the structurally checked tree is plain data of known shape
type Raw = any;

export function checkProxmox(spec: ClusterSpec, s: Raw, r: SpecReader, sourceIndex: WeakMap<HostSpec, number>): void {
  const deploy = writesProxmoxDeploy(spec.os.platform, spec.os.format, s.proxmox?.templateVmid);
  if (deploy) {
    // generator/render/proxmox.ts checkProxmoxSpec refuses these too, but only during generate.
    for (const [field, what] of [
      ['node', 'the Proxmox VE node that holds the template (e.g. node: pve1); deploy.sh runs there'],
      [
        'snippetStorage',
        'a storage with content type "snippets" (e.g. snippetStorage: local; enable with pvesm set local --content …,snippets)',
      ],
    ] as const) {
      if (s.proxmox?.[field] === undefined) r.error(['spec', 'proxmox'], `deploy.sh needs spec.proxmox.${field}: ${what}`, 'key');
    }
  }
  if (deploy && !spec.proxmox.bridge) {
    r.error(
      ['spec', 'proxmox'],
      "deploy.sh sets every VM's NIC to virtio=<MAC>,bridge=<bridge>: set spec.proxmox.bridge to the bridge the VMs attach to (e.g. vmbr0)",
      'key',
    );
  }
  checkProxmoxVmids(spec, r, sourceIndex);
  if (spec.os.platform === 'proxmox' && s.proxmox?.templateVmid === undefined) {
    r.warn(
      ['spec', 'os', 'platform'],
      'platform proxmox without spec.proxmox.templateVmid: the Proxmox deploy script is not written; add spec.proxmox (node, templateVmid, snippetStorage, bridge)',
    );
  }
}

/**
 * Every host's VMID (hosts[].proxmox.vmid, else templateVmid + 1 + position) is its own and not the
 * template's: deploy.sh and destroy.sh act on these numbers.
 */
function checkProxmoxVmids(spec: ClusterSpec, r: SpecReader, sourceIndex: WeakMap<HostSpec, number>): void {
  const template = spec.proxmox.templateVmid;
  if (template === undefined) return;
  const taken = new Map<number, string>();
  for (const [i, h] of spec.hosts.entries()) {
    const vmid: number = h.proxmox?.vmid ?? template + 1 + i;
    const at: PathPart[] = ['spec', 'hosts', sourceIndex.get(h) ?? i, ...(h.proxmox?.vmid !== undefined ? ['proxmox', 'vmid'] : ['name'])];
    const how = h.proxmox?.vmid !== undefined ? 'its proxmox.vmid' : `its position (templateVmid + 1 + ${i})`;
    if (vmid === template) r.error(at, `${h.name} gets VMID ${vmid} from ${how}, the template's; pick another proxmox.vmid`);
    else if (vmid > 999_999_999)
      r.error(at, `${h.name} gets VMID ${vmid} from ${how}, above 999999999; set a lower templateVmid or proxmox.vmid`);
    const other = taken.get(vmid);
    if (other) r.error(at, `${h.name} gets VMID ${vmid} from ${how}, which ${other} has already; give one of them another proxmox.vmid`);
    taken.set(vmid, h.name);
  }
}

/** The Proxmox deploy script is written (generator/render/index.ts decides the same way). */
export function writesProxmoxDeploy(platform: string | undefined, format: string, templateVmid: number | undefined): boolean {
  return platform === 'proxmox' && format === 'cloud-init' && templateVmid !== undefined;
}
