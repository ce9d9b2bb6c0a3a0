/**
 * `OUT/proxmox/`: per-host cloud-init snippets (`<host>-user.yaml`, `<host>-network.yaml`,
 * `<host>-meta.yaml` — the same bytes as the host's user-data, network-config and meta-data),
 * `deploy.sh`, run as root on the Proxmox VE node: it copies the snippets into the snippet
 * storage, full-clones the template once per host, sets the NIC's MAC (the spec's, or the one
 * parseSpec derived from cluster and host name — the MAC the network-config matches) and bridge,
 * the size (cores, memory: per host over per role; the boot disk grown, never shrunk), onboot and
 * tags, attaches the snippets with `--cicustom` and starts the VM — and `destroy.sh`, which
 * removes exactly those VMs (by VMID, each checked to carry its host's name before anything is
 * touched) and the snippets deploy.sh installed.
 *
 * A fresh clone gets its own SMBIOS UUID (the host's `uuid` from the spec, else a random one at
 * deploy time), so no two machines share an identity the coordinator binds to.
 *
 * VMIDs: `hosts[].proxmox.vmid`, else `spec.proxmox.templateVmid + 1 + <position of the host in
 * spec.hosts>` (stable as long as new hosts are appended); `opts.vmids` overrides both.
 * docs/proxmox.md has the worked example and the template preparation (empty machine-id).
 *
 * Runtime contract: pure.
 */
import type { ClusterSpec, HostSpec, ProxmoxVmSize } from '../spec/types.ts';
import { quoteShellArg } from './ignition.ts';
import { renderDestroyScript } from './proxmox-destroy.ts';

export interface ProxmoxHostInput {
  name: string;
  /** The host's cloud-init user-data, exactly as rendered for `OUT/hosts/<host>/user-data`. */
  userData: string;
  metaData: string;
  /** Omitted: no network snippet (the template's DHCP default applies). */
  networkConfig?: string;
}

export interface RenderedFile {
  /** Relative to the output directory, e.g. `proxmox/deploy.sh`. */
  path: string;
  content: string;
  mode: number;
}

export interface ProxmoxOptions {
  /** Explicit VMIDs by host name (otherwise template + 1 + spec position). */
  vmids?: Record<string, number>;
}

export class ProxmoxSpecError extends Error {
  constructor(readonly issues: string[]) {
    super(`spec.proxmox cannot drive deploy.sh:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ProxmoxSpecError';
  }
}

const MIN_VMID = 100;
const MAX_VMID = 999_999_999;
const STORAGE_ID = /^[A-Za-z][A-Za-z0-9._-]*$/;
const NODE_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const BRIDGE_NAME = /^[A-Za-z0-9._-]{1,15}$/;

/** Every problem with spec.proxmox for these hosts, as `path: message — fix` lines (empty when usable). */
export function checkProxmoxSpec(spec: ClusterSpec, hosts: ProxmoxHostInput[], opts: ProxmoxOptions = {}): string[] {
  const px = spec.proxmox;
  const issues: string[] = [];
  if (!px.node) issues.push('spec.proxmox.node: missing — the Proxmox VE node that holds the template (e.g. pve1); deploy.sh runs there');
  else if (!NODE_NAME.test(px.node)) issues.push(`spec.proxmox.node: ${JSON.stringify(px.node)} is not a node name`);
  if (px.templateVmid === undefined)
    issues.push('spec.proxmox.templateVmid: missing — the VMID of the cloud-init template to clone (e.g. 9000)');
  else if (!Number.isInteger(px.templateVmid) || px.templateVmid < MIN_VMID || px.templateVmid > MAX_VMID)
    issues.push(`spec.proxmox.templateVmid: ${px.templateVmid} is not a VMID (${MIN_VMID}–${MAX_VMID})`);
  if (!px.snippetStorage)
    issues.push(
      'spec.proxmox.snippetStorage: missing — a storage with content type "snippets" (e.g. local; enable with pvesm set local --content …,snippets)',
    );
  else if (!STORAGE_ID.test(px.snippetStorage))
    issues.push(`spec.proxmox.snippetStorage: ${JSON.stringify(px.snippetStorage)} is not a storage id`);
  if (px.storage !== undefined && !STORAGE_ID.test(px.storage))
    issues.push(`spec.proxmox.storage: ${JSON.stringify(px.storage)} is not a storage id`);
  if (px.bridge !== undefined && !BRIDGE_NAME.test(px.bridge))
    issues.push(`spec.proxmox.bridge: ${JSON.stringify(px.bridge)} is not a bridge name`);

  const byName = new Map(spec.hosts.map((h, i) => [h.name, { h, i }]));
  const used = new Map<number, string>();
  for (const input of hosts) {
    const entry = byName.get(input.name);
    if (!entry) {
      issues.push(`host ${input.name}: not in spec.hosts`);
      continue;
    }
    if (entry.h.mac && !px.bridge)
      issues.push(`spec.proxmox.bridge: missing — host ${input.name} has a MAC, and its NIC needs a bridge (e.g. vmbr0)`);
    if (px.templateVmid === undefined) continue;
    const vmid = opts.vmids?.[input.name] ?? entry.h.proxmox?.vmid ?? px.templateVmid + 1 + entry.i;
    if (!Number.isInteger(vmid) || vmid < MIN_VMID || vmid > MAX_VMID) issues.push(`host ${input.name}: VMID ${vmid} is out of range`);
    if (vmid === px.templateVmid) issues.push(`host ${input.name}: VMID ${vmid} is the template's`);
    const other = used.get(vmid);
    if (other) issues.push(`host ${input.name}: VMID ${vmid} is also ${other}'s`);
    used.set(vmid, input.name);
  }
  return [...new Set(issues)];
}

/** The VMID each host gets. */
export function assignProxmoxVmids(spec: ClusterSpec, opts: ProxmoxOptions = {}): Map<string, number> {
  const base = spec.proxmox.templateVmid;
  if (base === undefined) throw new ProxmoxSpecError(['spec.proxmox.templateVmid: missing']);
  return new Map(spec.hosts.map((h, i) => [h.name, opts.vmids?.[h.name] ?? h.proxmox?.vmid ?? base + 1 + i]));
}

/** A host's VM size: its own `proxmox:` fields over `spec.proxmox.roles[role]`; unset fields keep the template's. */
function proxmoxVmSize(spec: ClusterSpec, host: HostSpec): ProxmoxVmSize {
  const role = spec.proxmox.roles?.[host.role] ?? {};
  const own = host.proxmox ?? {};
  const cores = own.cores ?? role.cores;
  const memory = own.memory ?? role.memory;
  const disk = own.disk ?? role.disk;
  return {
    ...(cores !== undefined ? { cores } : {}),
    ...(memory !== undefined ? { memory } : {}),
    ...(disk !== undefined ? { disk } : {}),
  };
}

/** The `qm set` options every run applies: size, onboot, tags (empty when the spec sets none). */
function vmSettings(spec: ClusterSpec, size: ProxmoxVmSize): string {
  const px = spec.proxmox;
  const opts = [
    ...(size.cores !== undefined ? [`--cores ${size.cores}`] : []),
    ...(size.memory !== undefined ? [`--memory ${size.memory}`] : []),
    ...(px.onboot !== undefined ? [`--onboot ${px.onboot ? 1 : 0}`] : []),
    // The VM configuration keeps tags separated by ';' (pve-tag-list).
    ...(px.tags && px.tags.length > 0 ? [`--tags ${q(px.tags.join(';'))}`] : []),
  ];
  return opts.join(' ');
}

const q = quoteShellArg;

/** The snippets deploy.sh installs and destroy.sh deletes for a host, as `<host>-<kind>.yaml`. */
function snippetKinds(input: ProxmoxHostInput): string[] {
  return input.networkConfig !== undefined ? ['user', 'network', 'meta'] : ['user', 'meta'];
}

function renderDeployScript(spec: ClusterSpec, hosts: ProxmoxHostInput[], vmids: Map<string, number>): string {
  const px = spec.proxmox;
  const snippetStorage = px.snippetStorage ?? '';
  const hostSpecs = new Map(spec.hosts.map((h) => [h.name, h]));
  const cases: string[] = [];
  for (const input of hosts) {
    const h = hostSpecs.get(input.name);
    const vmid = vmids.get(input.name);
    if (!h || vmid === undefined) continue;
    const kinds = snippetKinds(input);
    const snippets = kinds.map((kind) => `${kind}=${snippetStorage}:snippets/${h.name}-${kind}.yaml`);
    const storage = px.storage ? ` --storage ${q(px.storage)}` : '';
    const size = proxmoxVmSize(spec, h);
    const settings = vmSettings(spec, size);
    cases.push(
      [
        `    ${h.name})`,
        `      # ${h.role}${h.address ? `, ${h.address.cidr}` : ', DHCP'} → VMID ${vmid}`,
        `      install_snippets ${q(h.name)} ${kinds.join(' ')}`,
        `      if ! vm_exists ${vmid} ${q(h.name)}; then`,
        `        qm clone ${px.templateVmid} ${vmid} --name ${q(h.name)} --full${storage}`,
        h.uuid
          ? `        qm set ${vmid} --smbios1 uuid=${q(h.uuid)}`
          : `        qm set ${vmid} --smbios1 "uuid=$(cat /proc/sys/kernel/random/uuid)"`,
        '      fi',
        ...(h.mac ? [`      qm set ${vmid} --net0 ${q(`virtio=${h.mac},bridge=${px.bridge ?? ''}`)}`] : []),
        ...(settings ? [`      qm set ${vmid} ${settings}`] : []),
        ...(size.disk ? [`      grow_disk ${vmid} ${q(px.bootDisk ?? 'scsi0')} ${size.disk}`] : []),
        `      ensure_cloudinit_drive ${vmid}`,
        `      qm set ${vmid} --cicustom ${q(snippets.join(','))}`,
        `      start_once ${vmid} ${q(h.name)}`,
        '      ;;',
      ].join('\n'),
    );
  }
  const names = hosts.map((h) => h.name);
  return `#!/usr/bin/env bash
# Generated by kubeseed for cluster ${spec.name}. Run as root on Proxmox VE node ${px.node}:
#   bash deploy.sh                    # every host below
#   bash deploy.sh ${names[0] ?? 'HOST'}          # only the named hosts
# Safe to re-run: snippets are copied again, a VM is cloned only when its VMID is free, a VMID
# held by a VM with another name is an error, a disk is only ever grown, and a running VM is not
# restarted. destroy.sh beside this script removes these VMs again.
# The template must have an empty /etc/machine-id (see docs/proxmox.md): the coordinator refuses
# machines that share an identity.
set -euo pipefail

NODE=${q(px.node ?? '')}
TEMPLATE_VMID=${px.templateVmid}
SNIPPET_STORAGE=${q(snippetStorage)}
STORAGE=${q(px.storage ?? '')}
HERE="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
ALL_HOSTS=(${names.map(q).join(' ')})

die() { echo "deploy.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root on the Proxmox VE node $NODE"
command -v qm >/dev/null || die "qm not found: run this on a Proxmox VE node"
[ "$(hostname)" = "$NODE" ] || die "this script targets node $NODE but runs on $(hostname); copy the proxmox/ folder there"
qm config "$TEMPLATE_VMID" >/dev/null 2>&1 || die "template VM $TEMPLATE_VMID not found on $NODE (spec.proxmox.templateVmid)"

# install_snippets HOST KIND... — copies HOST-KIND.yaml into the snippet storage, readable by root only.
install_snippets() {
  local host="$1" kind dest
  shift
  for kind in "$@"; do
    dest="$(pvesm path "$SNIPPET_STORAGE:snippets/$host-$kind.yaml")" ||
      die "pvesm path failed for storage $SNIPPET_STORAGE (above): it must exist on $NODE and hold snippets (pvesm set $SNIPPET_STORAGE --content <current types>,snippets)"
    install -D -m 0600 "$HERE/$host-$kind.yaml" "$dest"
  done
}

# vm_exists VMID NAME — true when VMID is this host's VM; dies when another VM holds the VMID.
vm_exists() {
  local current
  qm config "$1" >/dev/null 2>&1 || return 1
  current="$(qm config "$1" | sed -n 's/^name: //p')"
  [ "$current" = "$2" ] || die "VMID $1 belongs to VM '$current', not $2: free it, or change spec.proxmox.templateVmid"
  echo "$2: VM $1 exists, not cloned again"
}

# ensure_cloudinit_drive VMID — --cicustom only takes effect with a cloud-init drive.
ensure_cloudinit_drive() {
  # grep without -q: with pipefail, an early exit of grep could fail the pipeline through SIGPIPE.
  if qm config "$1" | grep -E '^(ide|sata|scsi)[0-9]+:.*cloudinit' >/dev/null; then return 0; fi
  [ -n "$STORAGE" ] || die "VM $1 has no cloud-init drive: add one to the template (qm set $TEMPLATE_VMID --ide2 <storage>:cloudinit) or set spec.proxmox.storage"
  qm set "$1" --ide2 "$STORAGE:cloudinit"
}

# size_mib SIZE — a qm disk size (40G, 512M, 1.5T; no unit: bytes) in MiB, rounded down.
size_mib() {
  awk -v s="$1" 'BEGIN {
    n = s + 0; u = substr(s, length(s));
    f = (u == "K") ? 1 / 1024 : (u == "M") ? 1 : (u == "G") ? 1024 : (u == "T") ? 1048576 : 1 / 1048576;
    printf "%d\\n", n * f }'
}

# grow_disk VMID DISK SIZE — grows DISK to SIZE; a disk already that large is left alone (qm cannot shrink).
grow_disk() {
  local line current
  line="$(qm config "$1" | sed -n "s/^$2: //p")"
  [ -n "$line" ] || die "VM $1 has no disk $2 to grow to $3: set spec.proxmox.bootDisk to the template's boot disk"
  current="$(printf '%s\\n' "$line" | tr ',' '\\n' | sed -n 's/^size=//p')"
  if [ -n "$current" ] && [ "$(size_mib "$current")" -ge "$(size_mib "$3")" ]; then
    echo "VM $1: $2 is $current, not grown to $3"
  else
    qm disk resize "$1" "$2" "$3"
  fi
}

# start_once VMID NAME — starts a stopped VM; a running one keeps running.
start_once() {
  if qm status "$1" | grep 'status: running' >/dev/null; then
    echo "$2: VM $1 already running; new snippets, cores and memory apply after a power cycle (snippets only with a new instance-id)"
  else
    qm start "$1"
  fi
}

deploy_host() {
  case "$1" in
${cases.join('\n')}
    *) die "unknown host $1 (hosts: \${ALL_HOSTS[*]})" ;;
  esac
}

if [ "$#" -gt 0 ]; then HOSTS=("$@"); else HOSTS=("\${ALL_HOSTS[@]}"); fi
for host in "\${HOSTS[@]}"; do deploy_host "$host"; done
`;
}

/** The files of `OUT/proxmox/`. Throws `ProxmoxSpecError` listing every missing or invalid field. */
export function renderProxmox(spec: ClusterSpec, hosts: ProxmoxHostInput[], opts: ProxmoxOptions = {}): { files: RenderedFile[] } {
  const issues = checkProxmoxSpec(spec, hosts, opts);
  if (issues.length > 0) throw new ProxmoxSpecError(issues);
  const vmids = assignProxmoxVmids(spec, opts);
  const files: RenderedFile[] = [];
  for (const h of hosts) {
    // Snippets carry the host's enrollment credential: 0600 here and on the node.
    files.push({ path: `proxmox/${h.name}-user.yaml`, content: h.userData, mode: 0o600 });
    if (h.networkConfig !== undefined) files.push({ path: `proxmox/${h.name}-network.yaml`, content: h.networkConfig, mode: 0o600 });
    files.push({ path: `proxmox/${h.name}-meta.yaml`, content: h.metaData, mode: 0o600 });
  }
  files.push({ path: 'proxmox/deploy.sh', content: renderDeployScript(spec, hosts, vmids), mode: 0o755 });
  files.push({
    path: 'proxmox/destroy.sh',
    content: renderDestroyScript(
      spec,
      hosts.map((h) => ({ name: h.name, snippetKinds: snippetKinds(h) })),
      vmids,
    ),
    mode: 0o755,
  });
  return { files };
}
