/**
 * Provisioning → one `#cloud-config` document (multipart lists would replace each other in
 * cloud-init, so everything goes in one part). Built as an object and serialised once;
 * deterministic bytes.
 */
import type { Provisioning } from '../plan/types.ts';
import { toYaml } from '../util/yaml.ts';
import { YamlDocumentWriter } from './yaml-document.ts';

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

export function buildCloudConfig(p: Provisioning): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    hostname: p.hostname,
    ...(p.fqdn ? { fqdn: p.fqdn, prefer_fqdn_over_hostname: false } : {}),
    preserve_hostname: false,
    // /etc/hosts entries are appended once by write_files; a managed /etc/hosts would be
    // re-rendered from cloud-init's template at every boot and lose them.
    manage_etc_hosts: p.hostsEntries.length === 0 ? 'localhost' : false,
  };
  const keys = p.users.flatMap((u) => u.sshAuthorizedKeys);
  if (keys.length) doc.ssh_authorized_keys = keys;
  // Time servers are configured by the prepare script (chrony sources.d, or timesyncd), not by
  // cloud-init's ntp module, which would rewrite chrony.conf from its own template first.
  const files: Record<string, unknown>[] = p.files.map((f) => ({
    path: f.path,
    content: f.content,
    owner: f.owner ?? 'root:root',
    permissions: octal(f.mode),
  }));
  for (const u of p.units)
    files.push({ path: `/etc/systemd/system/${u.name}`, content: u.contents, owner: 'root:root', permissions: '0644' });
  if (p.hostsEntries.length) {
    const lines = [`127.0.1.1 ${p.fqdn ? `${p.fqdn} ` : ''}${p.hostname}`, ...p.hostsEntries.map((e) => `${e.ip} ${e.names.join(' ')}`)];
    files.push({ path: '/etc/hosts', content: `# kubeseed\n${lines.join('\n')}\n`, append: true });
  }
  doc.write_files = files;
  const runcmd: string[][] = [];
  const enabled = p.units.filter((u) => u.enabled || u.start);
  if (enabled.length) runcmd.push(['systemctl', 'daemon-reload']);
  for (const u of enabled) runcmd.push(['systemctl', 'enable', ...(u.start ? ['--now'] : []), u.name]);
  runcmd.push(...p.commands);
  if (runcmd.length) doc.runcmd = runcmd;
  return doc;
}

const YAML_OPTIONS = { lineWidth: 0, version: '1.1' } as const;

/** A writer for a batch of hosts: the files they share are serialised once (see yaml-document.ts). */
export function cloudConfigWriter(): YamlDocumentWriter {
  return new YamlDocumentWriter(YAML_OPTIONS);
}

/** The `#cloud-config` text; pass one `cloudConfigWriter()` for a batch of hosts (same bytes, less work). */
export function renderCloudConfig(p: Provisioning, writer?: YamlDocumentWriter): string {
  const doc = buildCloudConfig(p);
  return `#cloud-config\n${writer ? writer.write(doc, ['write_files']) : toYaml(doc, YAML_OPTIONS)}`;
}
