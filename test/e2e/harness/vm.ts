/**
 * One real boot: a Debian 12 VM under qemu (software emulation, no KVM here) as one host of an
 * E2eCluster. Its NIC is a tap on the run's bridge (inside the bridge's namespace, like every veth),
 * its disks are a fresh copy of the image from test/e2e/vm/build-image.sh, the host's generated
 * NoCloud `seed.iso` (exactly what an operator attaches) and a read-only disk with the TEST DOUBLES;
 * the run's shared directory (doubles' call log and cluster state) is a virtio-9p share. Real
 * kernel, systemd and cloud-init run the generated user-data; the agent's unit starts when systemd
 * says so. The serial console goes to `<logs>/<host>/console.log`. qemu is killed by its id at cleanup.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { killPid, registerCleanup, registerLastResort } from './cleanup.ts';
import { DOUBLES_BIN, type E2eCluster, REPO } from './cluster.ts';
import { run, type Spawned, sleep, spawnLogged, waitFor } from './exec.ts';

export const VM_CACHE = process.env.KUBESEED_VM_CACHE ?? '/var/cache/kubeseed-vm';
const IMAGE = join(VM_CACHE, 'debian12');
export const VM_COMMANDS = ['qemu-system-x86_64', 'debootstrap', 'mkfs.ext4', 'debugfs', 'flock'];

/** Builds the image unless the cache holds the current one (about 3 minutes from scratch). */
export async function ensureVmImage(): Promise<void> {
  await run('bash', [join(REPO, 'test/e2e/vm/build-image.sh')], {
    timeoutMs: 20 * 60_000,
    env: { ...process.env, KUBESEED_VM_CACHE: VM_CACHE },
  });
}

export interface VmOptions {
  /** Spec host name (its seed is out/hosts/<name>/seed.iso). */
  name: string;
  /** The NIC's MAC: the spec host's `mac`, which the generated network-config matches. */
  mac: string;
  /** SMBIOS UUID the guest reports (a fact the agent sends at enrollment). */
  uuid: string;
  memoryMb?: number;
}

export class TestVm {
  readonly dir: string;
  readonly logDir: string;
  private qemu?: Spawned;
  private bootedAt = 0;

  constructor(
    readonly cluster: E2eCluster,
    readonly options: VmOptions,
  ) {
    this.dir = join(cluster.workDir, 'vm', options.name);
    this.logDir = join(cluster.workDir, 'logs', options.name);
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.logDir, { recursive: true });
  }

  get consoleLog(): string {
    return join(this.logDir, 'console.log');
  }

  get disk(): string {
    return join(this.dir, 'disk.raw');
  }

  /** What the guest printed on its serial console so far. */
  console(): string {
    try {
      // systemd colours its status lines; the assertions read plain text.
      return readFileSync(this.consoleLog, 'latin1').replace(/\x1b\[[0-9;]*m/g, '');
    } catch {
      return '';
    }
  }

  /** Copies the image, makes the doubles' disk and a tap on the bridge, and starts qemu. */
  async boot(): Promise<void> {
    const { name, mac, uuid } = this.options;
    // A sparse copy of the base image: every boot is a first boot, the cached image stays clean.
    await run('cp', ['--sparse=always', `${IMAGE}.raw`, this.disk]);
    const doubles = await this.makeDoublesDisk();
    const tap = `vm${this.cluster.spec.id}`.slice(0, 15);
    const br = this.cluster.net.bridgeNs;
    await run('ip', ['-n', br, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await run('ip', ['-n', br, 'link', 'set', tap, 'master', 'br0', 'up']);
    const qmp = join(this.dir, 'qmp.sock');
    const argv = [
      'netns',
      'exec',
      br,
      'qemu-system-x86_64',
      ...['-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-smp', '2', '-m', String(this.options.memoryMb ?? 2048)],
      ...['-display', 'none', '-monitor', 'none', '-no-reboot', '-rtc', 'base=utc', '-uuid', uuid],
      ...['-serial', `file:${this.consoleLog}`, '-qmp', `unix:${qmp},server=on,wait=off`],
      ...['-kernel', `${IMAGE}.vmlinuz`, '-initrd', `${IMAGE}.initrd`],
      ...['-append', 'console=ttyS0,115200 root=/dev/vda rw panic=-1 loglevel=4 systemd.show_status=1 systemd.status_unit_format=name'],
      ...['-drive', `file=${this.disk},if=virtio,format=raw`],
      ...['-drive', `file=${join(this.cluster.outDir, 'hosts', name, 'seed.iso')},if=virtio,format=raw,readonly=on`],
      ...['-drive', `file=${doubles},if=virtio,format=raw,readonly=on`],
      ...['-virtfs', `local,path=${this.cluster.sharedDir},mount_tag=ks-shared,security_model=passthrough,id=ks-shared`],
      ...['-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n0,mac=${mac}`],
    ];
    // `ip netns exec` execs qemu: the spawned PID is qemu's own.
    this.qemu = spawnLogged('ip', argv, join(this.logDir, 'qemu.log'));
    this.bootedAt = Date.now();
    const pid = this.qemu.pid;
    registerCleanup(`qemu ${name} (pid ${pid})`, async () => {
      killPid(pid);
      await Promise.race([this.qemu?.exited, sleep(5000)]);
    });
    registerLastResort(() => killPid(pid));
  }

  get secondsSinceBoot(): number {
    return Math.round((Date.now() - this.bootedAt) / 1000);
  }

  /**
   * Node (the host's own binary: Debian 12 on both sides), the doubles and the one npm package they
   * load, on an ext4 image made without a loop device (`mkfs.ext4 -d`).
   */
  private async makeDoublesDisk(): Promise<string> {
    const stage = join(this.dir, 'doubles');
    cpSync(DOUBLES_BIN, join(stage, 'bin'), { recursive: true, dereference: true });
    cpSync(join(REPO, 'node_modules/yaml'), join(stage, 'node_modules/yaml'), { recursive: true, dereference: true });
    cpSync(process.execPath, join(stage, 'node'));
    const img = join(this.dir, 'doubles.img');
    writeFileSync(img, '');
    await run('truncate', ['-s', '400M', img]);
    await run('mkfs.ext4', ['-q', '-F', '-L', 'ks-doubles', '-d', stage, img]);
    return img;
  }

  /** Resolves when qemu exited; the exit code. */
  get exited(): Promise<number> {
    return this.qemu?.exited ?? Promise.resolve(0);
  }

  /** ACPI power button through QMP, then waits for a clean poweroff (systemd flushes the disk); SIGKILL after `timeoutMs`. */
  async powerOff(timeoutMs = 120_000): Promise<'clean' | 'killed'> {
    if (!this.qemu) return 'clean';
    const sent = await this.qmp(['qmp_capabilities', 'system_powerdown']).catch(() => false);
    const clean = sent && (await Promise.race([this.qemu.exited.then(() => true), sleep(timeoutMs).then(() => false)]));
    if (clean) return 'clean';
    killPid(this.qemu.pid);
    await this.qemu.exited;
    return 'killed';
  }

  /** Sends QMP commands in order (each answered before the next); bounded to 10 s in all. */
  private qmp(commands: string[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(join(this.dir, 'qmp.sock'));
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('QMP timed out'));
      }, 10_000);
      let buffer = '';
      let next = 0;
      const send = () => {
        const command = commands[next++];
        if (command === undefined) {
          clearTimeout(timer);
          socket.end();
          resolve(true);
        } else socket.write(`${JSON.stringify({ execute: command })}\n`);
      };
      socket.on('data', (d) => {
        buffer += d.toString();
        let i = buffer.indexOf('\n');
        while (i >= 0) {
          const msg = JSON.parse(buffer.slice(0, i)) as { QMP?: unknown; return?: unknown; error?: { desc: string } };
          buffer = buffer.slice(i + 1);
          if (msg.error) {
            clearTimeout(timer);
            socket.destroy();
            reject(new Error(`QMP: ${msg.error.desc}`));
            return;
          }
          if (msg.QMP !== undefined || msg.return !== undefined) send();
          i = buffer.indexOf('\n');
        }
      });
      socket.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** A file of the powered-off guest's disk (debugfs reads the ext4 image; nothing is mounted). Null when absent. */
  readGuestFile(path: string): string | null {
    if (!this.statGuest(path).exists) return null;
    try {
      return execFileSync('debugfs', ['-R', `cat ${path}`, this.disk], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      return null;
    }
  }

  /** Whether `path` exists on the powered-off guest's disk, and its permission bits. */
  statGuest(path: string): { exists: boolean; mode?: number } {
    let out = '';
    try {
      out = execFileSync('debugfs', ['-R', `stat ${path}`, this.disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      return { exists: false };
    }
    const m = /Mode:\s+0?([0-7]{3,4})/.exec(out);
    return m ? { exists: true, mode: Number.parseInt(m[1]!, 8) & 0o777 } : { exists: false };
  }

  /** Waits for a console line matching `pattern` (bounded). */
  async waitForConsole(what: string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return waitFor(
      `${this.options.name}: ${what} on the serial console`,
      timeoutMs,
      async () => {
        if (this.qemu && existsSync(this.consoleLog)) {
          const m = pattern.exec(this.console());
          if (m) return m;
        }
        return null;
      },
      1000,
    );
  }
}
