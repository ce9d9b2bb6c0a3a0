/**
 * The generated proxmox/deploy.sh and destroy.sh, run for real with bash against the `qm` and
 * `pvesm` TEST DOUBLES (doubles/bin: behaviour from the qm(1) and pvesm(1) manuals, VMs in a
 * state file), on a node named by `unshare --uts` (the scripts check `hostname`), and checked by
 * shellcheck. Needs root (unshare); skips loudly without it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DOUBLES_DIR } from '../../../doubles/index.ts';
import { type ProxmoxHostInput, renderProxmox } from '../../../generator/render/proxmox.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeSpec } from './fixtures.ts';

const root = process.getuid?.() === 0;
if (!root) console.warn('[proxmox-scripts] SKIPPED: needs root for unshare --uts (the scripts check hostname)');
const shellcheck = spawnSync('sh', ['-c', 'command -v shellcheck']).status === 0;
if (!shellcheck) console.warn('[proxmox-scripts] shellcheck SKIPPED: not installed (apt-get install shellcheck)');

const work = tempDir('ks-pve-');

interface Vm {
  status: 'running' | 'stopped';
  config: Record<string, string>;
}
interface PveState {
  node: string;
  storages: Record<string, { path: string }>;
  vms: Record<string, Vm>;
}

function spec(): ClusterSpec {
  const s = makeSpec('ubuntu');
  s.os.platform = 'proxmox';
  s.proxmox = {
    node: 'pve1',
    templateVmid: 9000,
    storage: 'local-lvm',
    snippetStorage: 'local',
    bridge: 'vmbr0',
    onboot: true,
    tags: ['k8s', 'k8s1'],
    roles: { 'control-plane': { cores: 4, memory: 8192, disk: '40G' }, worker: { cores: 8, memory: 16384, disk: '2G' } },
  };
  // master2: its own VMID and more memory; the worker's 2G is below the template's disk (never shrunk).
  s.hosts = s.hosts.map((h) => (h.name === 'k8s1master2' ? { ...h, proxmox: { vmid: 120, memory: 12288 } } : h));
  return s;
}

function inputs(s: ClusterSpec): ProxmoxHostInput[] {
  return s.hosts.map((h) => ({
    name: h.name,
    userData: `#cloud-config\nhostname: ${h.name}\n`,
    metaData: `instance-id: iid-${h.name}\n`,
    ...(h.role === 'worker' ? {} : { networkConfig: `version: 2\n# ${h.name}\n` }),
  }));
}

const TEMPLATE: Vm = {
  status: 'stopped',
  config: {
    name: 'ubuntu-2404-tmpl',
    template: '1',
    cores: '2',
    memory: '4096',
    scsi0: 'local-lvm:base-9000-disk-0,size=3584M',
    ide2: 'local-lvm:vm-9000-cloudinit,media=cdrom',
    net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0',
    boot: 'order=scsi0',
  },
};

let dir = '';
let statePath = '';
let bin = '';
let n = 0;
beforeEach(() => {
  dir = join(work, `run${n++}`);
  mkdirSync(join(dir, 'storage-local', 'snippets'), { recursive: true });
  bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['qm', 'pvesm']) symlinkSync(join(DOUBLES_DIR, tool), join(bin, tool));
  statePath = join(dir, 'pve.json');
  const s = spec();
  for (const f of renderProxmox(s, inputs(s)).files) {
    mkdirSync(join(dir, 'proxmox'), { recursive: true });
    writeFileSync(join(dir, f.path), f.content);
    chmodSync(join(dir, f.path), f.mode);
  }
  writeState({
    node: 'pve1',
    storages: { local: { path: join(dir, 'storage-local') } },
    vms: {
      9000: structuredClone(TEMPLATE),
      500: { status: 'running', config: { name: 'keepme', scsi0: 'local-lvm:vm-500-disk-0,size=8G' } },
    },
  });
});

const readState = (): PveState => JSON.parse(readFileSync(statePath, 'utf8')) as PveState;
const writeState = (s: PveState) => writeFileSync(statePath, JSON.stringify(s));

/** bash SCRIPT ARGS on a node named pve1, with only the doubles for qm/pvesm on PATH; stdin is not a terminal. */
function run(script: string, args: string[] = [], node = 'pve1') {
  const r = spawnSync('unshare', ['--uts', 'sh', '-c', 'hostname "$0" && exec bash "$@"', node, join(dir, 'proxmox', script), ...args], {
    encoding: 'utf8',
    input: '',
    env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, KUBESEED_PVE_STATE: statePath, KUBESEED_DOUBLE_LOG: join(dir, 'calls.jsonl') },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * The node as deploy.sh leaves it. The first call runs deploy.sh; later calls restore its result
 * (VMs and snippets) in the current run's directory, so the destroy cases do not pay for one
 * deploy each (every qm call is a process).
 */
let deployedOnce: { state: string; snippets: Record<string, string>; from: string } | undefined;
function deployed(): ReturnType<typeof run> | undefined {
  const snippetsDir = join(dir, 'storage-local', 'snippets');
  if (deployedOnce) {
    writeFileSync(statePath, deployedOnce.state.replaceAll(deployedOnce.from, join(dir, 'storage-local')));
    for (const [name, content] of Object.entries(deployedOnce.snippets)) writeFileSync(join(snippetsDir, name), content, { mode: 0o600 });
    return undefined;
  }
  const r = run('deploy.sh');
  expect(r.code, r.err).toBe(0);
  const snippets = Object.fromEntries(readdirSync(snippetsDir).map((f) => [f, readFileSync(join(snippetsDir, f), 'utf8')]));
  deployedOnce = { state: readFileSync(statePath, 'utf8'), snippets, from: join(dir, 'storage-local') };
  return r;
}

function qm(...args: string[]) {
  const r = spawnSync(join(DOUBLES_DIR, 'qm'), args, { encoding: 'utf8', env: { ...process.env, KUBESEED_PVE_STATE: statePath } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!root)('proxmox/deploy.sh against the qm/pvesm doubles', { timeout: 180_000 }, () => {
  it('clones, sizes, tags and starts every VM, with its snippets installed 0600', () => {
    // The first deploy of the file (the cache of deployed() is empty).
    const r = deployed()!;
    expect(r).toBeDefined();
    const { vms } = readState();
    expect(Object.keys(vms).sort()).toEqual(['120', '500', '9000', '9001', '9003']);
    const m1 = vms['9001']!;
    expect(m1.status).toBe('running');
    expect(m1.config).toMatchObject({
      name: 'k8s1master1',
      cores: '4',
      memory: '8192',
      onboot: '1',
      tags: 'k8s;k8s1',
      net0: 'virtio=52:54:00:12:34:56,bridge=vmbr0',
      scsi0: 'local-lvm:vm-9001-disk-0,size=40G',
      cicustom:
        'user=local:snippets/k8s1master1-user.yaml,network=local:snippets/k8s1master1-network.yaml,meta=local:snippets/k8s1master1-meta.yaml',
    });
    expect(m1.config.smbios1).toMatch(/^uuid=[0-9a-f-]{36}$/);
    // Host over role: master2 has its own VMID and memory, the role's cores and disk.
    expect(vms['120']!.config).toMatchObject({
      name: 'k8s1master2',
      cores: '4',
      memory: '12288',
      scsi0: 'local-lvm:vm-120-disk-0,size=40G',
    });
    // The worker's 2G is below the template's 3584M: left as it is, never shrunk.
    expect(vms['9003']!.config).toMatchObject({
      name: 'k8s1worker1',
      cores: '8',
      memory: '16384',
      scsi0: 'local-lvm:vm-9003-disk-0,size=3584M',
    });
    expect(r.out).toContain('VM 9003: scsi0 is 3584M, not grown to 2G');
    // The template and the unrelated VM are untouched.
    expect(vms['9000']).toEqual(TEMPLATE);
    expect(vms['500']!.config.name).toBe('keepme');
    const snippet = join(dir, 'storage-local', 'snippets', 'k8s1master1-user.yaml');
    expect(readFileSync(snippet, 'utf8')).toBe('#cloud-config\nhostname: k8s1master1\n');
    expect(statSync(snippet).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'storage-local', 'snippets', 'k8s1worker1-network.yaml'))).toBe(false);
  });

  it('is safe to re-run: no second clone, no restart, the same VMs', () => {
    deployed();
    const before = readState();
    const again = run('deploy.sh');
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('k8s1master1: VM 9001 exists, not cloned again');
    expect(again.out).toContain('k8s1master1: VM 9001 already running');
    expect(again.out).toContain('VM 9001: scsi0 is 40G, not grown to 40G');
    expect(readState().vms).toEqual(before.vms);
  });

  it('stops at a VMID held by a VM of another name, without touching it', () => {
    const s = readState();
    s.vms['9003'] = { status: 'stopped', config: { name: 'someone-else', scsi0: 'local-lvm:vm-9003-disk-0,size=8G' } };
    writeState(s);
    const r = run('deploy.sh', ['k8s1worker1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("VMID 9003 belongs to VM 'someone-else', not k8s1worker1");
    expect(readState().vms['9003']!.config).toEqual({ name: 'someone-else', scsi0: 'local-lvm:vm-9003-disk-0,size=8G' });
  });

  it('refuses to run on another node', () => {
    const r = run('deploy.sh', [], 'pve2');
    expect(r.code).toBe(1);
    expect(r.err).toContain('this script targets node pve1 but runs on pve2');
    expect(Object.keys(readState().vms).sort()).toEqual(['500', '9000']);
  });
});

describe.skipIf(!root)('proxmox/destroy.sh against the qm/pvesm doubles', { timeout: 180_000 }, () => {
  it('needs --yes without a terminal, and then removes exactly the VMs and snippets deploy.sh made', () => {
    deployed();
    const refused = run('destroy.sh');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('needs --yes when stdin is not a terminal; nothing removed');
    expect(Object.keys(readState().vms).sort()).toEqual(['120', '500', '9000', '9001', '9003']);

    const r = run('destroy.sh', ['--yes']);
    expect(r.code, r.err).toBe(0);
    const { vms } = readState();
    expect(Object.keys(vms).sort()).toEqual(['500', '9000']);
    expect(vms['9000']).toEqual(TEMPLATE);
    expect(vms['500']).toEqual({ status: 'running', config: { name: 'keepme', scsi0: 'local-lvm:vm-500-disk-0,size=8G' } });
    expect(r.out).toContain('k8s1master1: VM 9001 destroyed');
    expect(existsSync(join(dir, 'storage-local', 'snippets', 'k8s1master1-user.yaml'))).toBe(false);
    // Running VMs were stopped before qm destroy (which the double, like qm, refuses on a running VM).
    const calls = readFileSync(join(dir, 'calls.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { argv: string[] }).argv.join(' '));
    expect(calls.indexOf('stop 9001')).toBeGreaterThan(-1);
    expect(calls.indexOf('destroy 9001 --purge 1')).toBeGreaterThan(calls.indexOf('stop 9001'));
    expect(calls.filter((c) => /^(stop|destroy) (500|9000)\b/.test(c))).toEqual([]);
  });

  it('touches nothing when one VMID holds a VM of another name', () => {
    deployed();
    const s = readState();
    s.vms['9003']!.config.name = 'intruder';
    writeState(s);
    const r = run('destroy.sh', ['--yes']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("VMID 9003 is VM 'intruder', not k8s1worker1");
    expect(r.err).toContain('nothing removed');
    expect(Object.keys(readState().vms).sort()).toEqual(['120', '500', '9000', '9001', '9003']);
    expect(existsSync(join(dir, 'storage-local', 'snippets', 'k8s1master1-user.yaml'))).toBe(true);
  });

  it('removes only the named hosts, skips VMs already gone, and refuses unknown hosts and options', () => {
    deployed();
    const one = run('destroy.sh', ['--yes', 'k8s1worker1']);
    expect(one.code, one.err).toBe(0);
    expect(Object.keys(readState().vms).sort()).toEqual(['120', '500', '9000', '9001']);
    const again = run('destroy.sh', ['--yes', 'k8s1worker1']);
    expect(again.code).toBe(0);
    expect(again.out).toContain('k8s1worker1: no VM 9003, nothing to remove');
    expect(run('destroy.sh', ['--yes', 'ghost']).err).toContain('unknown host ghost');
    expect(run('destroy.sh', ['--force']).err).toContain('unknown option --force');
    expect(Object.keys(readState().vms).sort()).toEqual(['120', '500', '9000', '9001']);
  });
});

describe.skipIf(!shellcheck)('shellcheck', () => {
  it('finds nothing in deploy.sh and destroy.sh', () => {
    const s = spec();
    const out = join(work, 'shellcheck');
    mkdirSync(out, { recursive: true });
    const files = renderProxmox(s, inputs(s)).files.filter((f) => f.path.endsWith('.sh'));
    expect(files.map((f) => f.path)).toEqual(['proxmox/deploy.sh', 'proxmox/destroy.sh']);
    for (const f of files) writeFileSync(join(out, f.path.split('/')[1]!), f.content);
    const r = spawnSync('shellcheck', ['--shell=bash', '--severity=style', join(out, 'deploy.sh'), join(out, 'destroy.sh')], {
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('the qm double refuses what qm refuses', () => {
  beforeEach(() => {
    writeState({ node: 'pve1', storages: {}, vms: { 9000: structuredClone(TEMPLATE) } });
  });

  it('unknown subcommands and flags, missing arguments and bad values, changing nothing', () => {
    expect(qm('frobnicate', '9000').code).toBe(255);
    expect(qm('frobnicate', '9000').err).toContain("unknown command 'qm frobnicate'");
    expect(qm('set', '9000', '--bogus', '1').err).toContain('Unknown option: bogus');
    expect(qm('set', '9000', '--memory', '8').code).toBe(255);
    expect(qm('set', '9000', '--tags', 'bad tag!').code).toBe(255);
    expect(qm('clone', '9000').code).toBe(255);
    expect(qm('config', '42').code).toBe(255);
    expect(qm('config', '9001').err).toContain("Configuration file 'nodes/pve1/qemu-server/9001.conf' does not exist");
    expect(readState().vms['9000']).toEqual(TEMPLATE);
  });

  it('clone refuses a taken VMID; resize grows and never shrinks; destroy refuses a running VM', () => {
    expect(qm('clone', '9000', '9001', '--name', 'a', '--full').code).toBe(0);
    expect(qm('clone', '9000', '9001', '--name', 'b', '--full').err).toContain('unable to create VM 9001: config file already exists');
    expect(qm('resize', '9001', 'scsi0', '1G').err).toContain('Shrinking disk size is not supported');
    expect(qm('disk', 'resize', '9001', 'scsi0', '+512M').code).toBe(0);
    expect(readState().vms['9001']!.config.scsi0).toBe('local-lvm:vm-9001-disk-0,size=4G');
    expect(qm('start', '9001').code).toBe(0);
    expect(qm('start', '9001').err).toContain('VM 9001 already running');
    expect(qm('status', '9001').out).toBe('status: running\n');
    expect(qm('destroy', '9001').err).toContain('VM 9001 is running - destroy failed');
    expect(qm('stop', '9001').code).toBe(0);
    expect(qm('destroy', '9001', '--purge').code).toBe(0);
    expect(Object.keys(readState().vms)).toEqual(['9000']);
  });

  it("qm list prints qm.pm's columns, sorted by VMID", () => {
    expect(qm('clone', '9000', '120', '--name', 'k8s1master2', '--full').code).toBe(0);
    const lines = qm('list').out.split('\n');
    expect(lines[0]).toBe('      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ');
    expect(lines[1]).toBe('       120 k8s1master2          stopped    4096               3.50 0         ');
    expect(lines[2]).toMatch(/^ {6}9000 ubuntu-2404-tmpl/);
  });
});
