/**
 * Runs the generated `deploy.sh` under bash against stand-ins for Proxmox's `qm` and `pvesm`
 * (test doubles that keep VM configs in files and log every call) to prove the order of calls,
 * the snippet copies and the re-run behaviour. The real commands need a Proxmox VE node.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderProxmox } from '../../../generator/render/proxmox.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeSpec } from '../../unit/render-formats/fixtures.ts';

const skip = skipUnless('validators', { commands: ['bash', 'install'] });

const FAKE_QM = `#!/bin/bash
# test double of Proxmox's qm: VM configs are files in $KS_STATE
echo "qm $*" >> "$KS_LOG"
S="$KS_STATE"
case "$1" in
  config) [ -f "$S/vm-$2" ] || { echo "Configuration file 'nodes/pve1/qemu-server/$2.conf' does not exist" >&2; exit 2; }; cat "$S/vm-$2" ;;
  clone) [ -f "$S/vm-$2" ] || exit 2; [ ! -f "$S/vm-$3" ] || { echo "VM $3 already exists" >&2; exit 255; }
         { echo "name: $5"; grep cloudinit "$S/vm-$2" || true; } > "$S/vm-$3" ;;
  set) [ -f "$S/vm-$2" ] || exit 2; key="\${3#--}"; grep -v "^$key: " "$S/vm-$2" > "$S/tmp" || true; echo "$key: $4" >> "$S/tmp"; mv "$S/tmp" "$S/vm-$2" ;;
  status) if [ -f "$S/running-$2" ]; then echo "status: running"; else echo "status: stopped"; fi ;;
  start) [ ! -f "$S/running-$2" ] || exit 255; touch "$S/running-$2" ;;
  *) exit 1 ;;
esac
`;
const FAKE_PVESM = `#!/bin/bash
echo "pvesm $*" >> "$KS_LOG"
[ "$1" = path ] && [ "\${2%%:*}" = local ] || { echo "storage '\${2%%:*}' does not support content-type 'snippets'" >&2; exit 255; }
echo "$KS_STATE/snippets/\${2#*:snippets/}"
`;

interface Run {
  code: number;
  out: string;
  log: string[];
}

describe.skipIf(skip)('deploy.sh against qm/pvesm test doubles', () => {
  let dir = '';
  const spec = makeSpec('ubuntu');
  spec.proxmox = { node: 'pve1', templateVmid: 9000, storage: 'local-lvm', snippetStorage: 'local', bridge: 'vmbr0' };
  const hosts = spec.hosts.map((h) => ({
    name: h.name,
    userData: `#cloud-config\nhostname: ${h.name}\n`,
    metaData: `instance-id: iid-${h.name}\n`,
    networkConfig: `version: 2\n# ${h.name}\n`,
  }));

  beforeAll(() => {
    dir = tempDir('ks-pve-');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function setup(name: string, opts: { node?: string; extraVms?: Record<string, string> } = {}): string {
    const root = join(dir, name);
    for (const sub of ['out/proxmox', 'bin', 'state/snippets']) mkdirSync(join(root, sub), { recursive: true });
    for (const f of renderProxmox(spec, hosts).files) {
      writeFileSync(join(root, 'out', f.path), f.content);
      chmodSync(join(root, 'out', f.path), f.mode);
    }
    const bins: Record<string, string> = {
      qm: FAKE_QM,
      pvesm: FAKE_PVESM,
      hostname: `#!/bin/sh\necho ${opts.node ?? 'pve1'}\n`,
      id: '#!/bin/sh\necho 0\n',
    };
    for (const [b, text] of Object.entries(bins)) {
      writeFileSync(join(root, 'bin', b), text);
      chmodSync(join(root, 'bin', b), 0o755);
    }
    writeFileSync(join(root, 'state/vm-9000'), 'name: ubuntu-2404-tmpl\nide2: local-lvm:vm-9000-cloudinit,media=cdrom\ntemplate: 1\n');
    for (const [id, text] of Object.entries(opts.extraVms ?? {})) writeFileSync(join(root, `state/vm-${id}`), text);
    writeFileSync(join(root, 'log'), '');
    return root;
  }

  function deploy(root: string, args: string[] = []): Promise<Run> {
    return new Promise((resolve) => {
      const env = {
        ...process.env,
        PATH: `${join(root, 'bin')}:${process.env.PATH}`,
        KS_STATE: join(root, 'state'),
        KS_LOG: join(root, 'log'),
      };
      execFile('bash', [join(root, 'out/proxmox/deploy.sh'), ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
        const log = readFileSync(join(root, 'log'), 'utf8').split('\n').filter(Boolean);
        writeFileSync(join(root, 'log'), '');
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr, log });
      });
    });
  }

  it('clones, configures and starts every host in order, copying the snippets 0600', async () => {
    const root = setup('first');
    const r = await deploy(root);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
    const qm = r.log.filter((l) => l.startsWith('qm ') && !l.startsWith('qm config') && !l.startsWith('qm status'));
    expect(qm.slice(0, 5)).toEqual([
      'qm clone 9000 9001 --name k8s1master1 --full --storage local-lvm',
      expect.stringMatching(/^qm set 9001 --smbios1 uuid=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      'qm set 9001 --net0 virtio=52:54:00:12:34:56,bridge=vmbr0',
      'qm set 9001 --cicustom user=local:snippets/k8s1master1-user.yaml,network=local:snippets/k8s1master1-network.yaml,meta=local:snippets/k8s1master1-meta.yaml',
      'qm start 9001',
    ]);
    expect(qm.filter((l) => l.startsWith('qm start'))).toEqual(['qm start 9001', 'qm start 9002', 'qm start 9003']);
    const snippet = join(root, 'state/snippets/k8s1master2-user.yaml');
    expect(readFileSync(snippet, 'utf8')).toBe('#cloud-config\nhostname: k8s1master2\n');
    expect(statSync(snippet).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, 'state/vm-9002'), 'utf8')).toContain('cicustom: user=local:snippets/k8s1master2-user.yaml');
    // Every clone got its own SMBIOS UUID.
    const uuids = ['9001', '9002', '9003'].map((id) => /smbios1: (.*)/.exec(readFileSync(join(root, `state/vm-${id}`), 'utf8'))?.[1]);
    expect(new Set(uuids).size).toBe(3);

    // Re-run: nothing cloned or started again, snippets refreshed.
    const again = await deploy(root);
    expect(again.code).toBe(0);
    expect(again.log.some((l) => l.startsWith('qm clone') || l.startsWith('qm start') || l.includes('--smbios1'))).toBe(false);
    expect(again.out).toContain('k8s1master1: VM 9001 exists, not cloned again');
    expect(again.out).toContain('already running');
  });

  it('deploys only the named hosts and refuses unknown ones', async () => {
    const root = setup('named');
    const r = await deploy(root, ['k8s1worker1']);
    expect(r.code).toBe(0);
    expect(r.log.filter((l) => l.startsWith('qm clone'))).toEqual(['qm clone 9000 9003 --name k8s1worker1 --full --storage local-lvm']);
    const bad = await deploy(root, ['nope']);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('unknown host nope (hosts: k8s1master1 k8s1master2 k8s1worker1)');
  });

  it('stops at a VMID held by another VM and on the wrong node', async () => {
    const taken = setup('taken', { extraVms: { '9002': 'name: someone-else\n' } });
    const r = await deploy(taken);
    expect(r.code).toBe(1);
    expect(r.out).toContain("VMID 9002 belongs to VM 'someone-else', not k8s1master2");
    expect(r.log).not.toContain('qm start 9002');
    const wrong = setup('wrong-node', { node: 'pve2' });
    const w = await deploy(wrong);
    expect(w.code).toBe(1);
    expect(w.out).toContain('this script targets node pve1 but runs on pve2');
  });
});
