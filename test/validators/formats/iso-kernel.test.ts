/**
 * The seed ISO read by a real Linux kernel (Debian's, in qemu/TCG): a tiny busybox initramfs
 * loads isofs and virtio-blk, mounts the image with Rock Ridge (default), Joliet only (`norock`),
 * Rock Ridge only (`nojoliet`) and plain ISO 9660, and prints name, mode and SHA-256 of every
 * file on the serial console. This is the reader cloud-init's NoCloud datasource relies on (it
 * mounts the `cidata` device). About 5 s.
 *
 * Needs: qemu-system-x86 linux-image-amd64 busybox-static cpio.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeIso9660, writeNoCloudSeed } from '../../../generator/render/iso9660.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

interface Kernel {
  vmlinuz: string;
  modulesDir: string;
}

/** A kernel in /boot whose module tree has isofs (Debian's linux-image-amd64). */
function findKernel(): Kernel | null {
  if (!existsSync('/boot')) return null;
  for (const f of readdirSync('/boot').sort().reverse()) {
    const m = /^vmlinuz-(.+)$/.exec(f);
    if (!m?.[1]) continue;
    const modulesDir = `/lib/modules/${m[1]}`;
    if (existsSync(join(modulesDir, 'kernel/fs/isofs/isofs.ko'))) return { vmlinuz: join('/boot', f), modulesDir };
  }
  return null;
}

const kernel = findKernel();
const skip = skipUnless('validators', {
  commands: [
    'qemu-system-x86_64',
    'cpio',
    'busybox',
    ...(kernel ? [] : ['a kernel in /boot with isofs.ko (apt-get install -y linux-image-amd64)']),
  ],
});

/** The modules to insmod, dependencies first, from modules.dep. */
function moduleOrder(modulesDir: string, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod) deps.set(mod, (rest ?? '').trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((k) => [k.replace(/^.*\//, '').replace(/\.ko.*$/, ''), k]));
  const out: string[] = [];
  const visit = (mod: string): void => {
    if (out.includes(mod)) return;
    for (const d of deps.get(mod) ?? []) visit(d);
    out.push(mod);
  };
  for (const name of wanted) {
    const mod = byName.get(name);
    if (!mod) throw new Error(`kernel module ${name} not found in ${modulesDir}`);
    visit(mod);
  }
  for (const m of out) if (!m.endsWith('.ko')) throw new Error(`${m} is compressed; busybox insmod needs plain .ko files`);
  return out;
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mod/order); do insmod "/mod/$m" || echo "KS-ERR insmod $m"; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
for opt in default norock nojoliet norock,nojoliet; do
  o=ro; [ "$opt" = default ] || o="ro,$opt"
  if mount -t iso9660 -o "$o" /dev/vda /m; then
    for f in /m/*; do echo "KS-FILE $opt $(basename "$f") $(stat -c %a "$f") $(sha256sum < "$f" | cut -d' ' -f1)"; done
    umount /m
  else echo "KS-ERR mount $opt"; fi
done
echo KS-DONE
poweroff -f
`;

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

describe.skipIf(skip)('seed ISO read by the Linux kernel (qemu)', () => {
  const dir = tempDir('ks-isokernel-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let initramfs: string | undefined;
  /** Built once per run, whichever test comes first. */
  function buildInitramfs(): string {
    if (initramfs) return initramfs;
    const k = kernel as Kernel;
    const root = join(dir, 'root');
    for (const d of ['bin', 'mod', 'proc', 'sys', 'dev', 'm']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(execFileSync('sh', ['-c', 'command -v busybox']).toString().trim(), join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    const order = moduleOrder(k.modulesDir, ['isofs', 'virtio_pci', 'virtio_blk']);
    for (const m of order) copyFileSync(join(k.modulesDir, m), join(root, 'mod', m.replace(/^.*\//, '')));
    writeFileSync(join(root, 'mod/order'), `${order.map((m) => m.replace(/^.*\//, '')).join('\n')}\n`);
    writeFileSync(join(root, 'init'), INIT);
    chmodSync(join(root, 'init'), 0o755);
    const cpio = join(dir, 'init.cpio');
    execFileSync('sh', ['-c', 'cd "$1" && find . | cpio -o -H newc 2>/dev/null > "$2"', 'sh', root, cpio]);
    initramfs = cpio;
    return cpio;
  }

  function boot(iso: string, initrd: string): Promise<string> {
    const k = kernel as Kernel;
    const args = ['-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-m', '512', '-nographic', '-no-reboot', '-nic', 'none'];
    args.push('-kernel', k.vmlinuz, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1 quiet');
    args.push('-drive', `file=${iso},if=virtio,format=raw,readonly=on`);
    return new Promise((resolve) => {
      // timeout kills qemu if the guest hangs; -no-reboot + poweroff -f end it normally.
      execFile('qemu-system-x86_64', args, { timeout: 120_000, maxBuffer: 16 << 20 }, (_err, stdout, stderr) => resolve(stdout + stderr));
    });
  }

  it('mounts the seed with Rock Ridge, Joliet and plain names and reads the exact bytes', async () => {
    const big = Buffer.concat(Array.from({ length: 2500 }, (_, i) => createHash('sha256').update(`b${i}`).digest()));
    const seed = {
      userData: `#cloud-config\nhostname: k8s1master1\nwrite_files:\n  - path: /etc/big\n    encoding: b64\n    content: ${big.toString('base64')}\n`,
      metaData: 'instance-id: iid-k8s1master1\nlocal-hostname: k8s1master1\n',
      networkConfig: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n',
      timestamp: new Date('2026-03-04T05:06:07Z'),
    };
    const iso = join(dir, 'seed.iso');
    writeFileSync(iso, writeNoCloudSeed(seed));
    const log = await boot(iso, buildInitramfs());
    // Markers may follow terminal escape codes of the firmware on the same line: match anywhere.
    const lines = [...log.matchAll(/KS-(?:FILE|ERR|DONE)[^\r\n]*/g)].map((m) => m[0]);
    expect(lines.filter((l) => l.startsWith('KS-ERR'))).toEqual([]);
    expect(lines.at(-1)).toBe('KS-DONE');
    const h = { ud: sha256(seed.userData), md: sha256(seed.metaData), nc: sha256(seed.networkConfig) };
    const expectTree = (opt: string, names: [string, string, string], mode: string) =>
      expect(lines.filter((l) => l.startsWith(`KS-FILE ${opt} `))).toEqual([
        `KS-FILE ${opt} ${names[0]} ${mode} ${h.md}`,
        `KS-FILE ${opt} ${names[1]} ${mode} ${h.nc}`,
        `KS-FILE ${opt} ${names[2]} ${mode} ${h.ud}`,
      ]);
    const real: [string, string, string] = ['meta-data', 'network-config', 'user-data'];
    expectTree('default', real, '444'); // Rock Ridge names and PX modes
    expectTree('norock', real, '555'); // Joliet names
    expectTree('nojoliet', real, '444');
    expectTree('norock,nojoliet', ['meta_dat', 'network_', 'user_dat'], '555'); // level 1 names, as Linux maps them
  });

  it('a corrupted Rock Ridge area is visible to the kernel (the check can fail)', async () => {
    const img = writeIso9660({ volumeId: 'cidata', files: [{ name: 'user-data', content: Buffer.from('x\n') }] });
    // Break the NM entry of the only file: its name falls back to the level 1 name.
    const at = img.indexOf(Buffer.from('NM'), 23 * 2048);
    img.write('XX', at, 'ascii');
    const iso = join(dir, 'broken.iso');
    writeFileSync(iso, img);
    const log = await boot(iso, buildInitramfs());
    expect(log).toContain('KS-FILE default user_dat');
    expect(log).not.toContain('KS-FILE default user-data');
  });
});
