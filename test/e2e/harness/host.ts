/**
 * One test host: a network namespace (from TestNetwork) plus its own mount, UTS, IPC and PID
 * namespaces, holding an overlay of `/` as the host's root (tooling.md §1): writes land in a
 * tmpfs, the machine's real files never change. Commands run chrooted into the overlay inside all
 * of the host's namespaces; the harness reaches the overlay's files through /proc/<holder>/root.
 * Killing the holder (PID 1 of the host's PID namespace) ends every process of the host and drops
 * its mounts with the namespace. Like a real host's init, the holder reaps the processes orphaned to it.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killPid, registerCleanup, registerLastResort } from './cleanup.ts';
import { type RunOptions, type RunResult, run, type Spawned, spawnLogged, waitFor } from './exec.ts';

const HOLDER_SCRIPT = `#!/bin/sh
# kubeseed e2e: the mounts of one test host; runs as PID 1 of the host's PID namespace.
set -e
B=$1; SHARED=$2; READY=$3; shift 3
mount --make-rprivate /
mount -t tmpfs -o size=8g,mode=0755 tmpfs "$B"
mkdir -p "$B/upper" "$B/work" "$B/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$B/upper,workdir=$B/work" "$B/root"
R="$B/root"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t sysfs sysfs "$R/sys"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
mkdir -p "$R/run/ks-shared"; mount --bind "$SHARED" "$R/run/ks-shared"
for d in "$@"; do mkdir -p "$R$d"; mount --bind "$d" "$R$d"; done
# The TEST DOUBLES map host paths below KUBESEED_TEST_ROOT; /.ksroot is this root again.
mkdir -p "$R/.ksroot"; mount --rbind "$R" "$R/.ksroot"
echo "$$" > "$READY"
# PID 1 reaps what is orphaned to it, as systemd does on a real host: dash's wait collects any
# exited child (wait3), the ones it adopted included. \`exec sleep infinity\` never did, so a process
# whose parent died first (a killed nsenter's child) stayed a zombie with its PID taken.
while :; do sleep 3600 & wait || :; done
`;

export interface TestHostOptions {
  name: string;
  netns: string;
  /** Harness work directory of this run (host path). */
  workDir: string;
  /** Host directory bind-mounted at /run/ks-shared in every host (double log, cluster state). */
  sharedDir: string;
  /** Host directories bind-mounted at the same path, after the tmpfs mounts (writes reach the real directory). */
  binds?: string[];
}

const written = new Set<string>();

/** Writes holder.sh once per work directory (rewriting it while another host execs it fails with ETXTBSY). */
function writeHolderScript(workDir: string): string {
  const script = join(workDir, 'holder.sh');
  if (!written.has(script)) {
    writeFileSync(script, HOLDER_SCRIPT, { mode: 0o755 });
    written.add(script);
  }
  return script;
}

export const OVERLAY_ENV_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Directories the holder mounts a fresh tmpfs over inside each host (HOLDER_SCRIPT). */
export const HOST_TMPFS_DIRS = ['/tmp', '/run'] as const;

/**
 * true when `path` (on the test machine) is hidden inside a host by one of HOST_TMPFS_DIRS, so it
 * must be bind-mounted to be seen there (a checkout under /tmp, for example).
 */
export function hiddenInHost(path: string): boolean {
  return HOST_TMPFS_DIRS.some((d) => path === d || path.startsWith(`${d}/`));
}

export class TestHost {
  /** PID (root namespace numbering) of the holder, PID 1 of the host's PID namespace. */
  holderPid = 0;
  readonly base: string;
  readonly logDir: string;

  private constructor(readonly options: TestHostOptions) {
    this.base = join(options.workDir, 'mnt', options.name);
    this.logDir = join(options.workDir, 'logs', options.name);
  }

  get name(): string {
    return this.options.name;
  }

  get netns(): string {
    return this.options.netns;
  }

  /** The overlay root as seen from the holder's mount namespace. */
  get root(): string {
    return join(this.base, 'root');
  }

  static async create(options: TestHostOptions): Promise<TestHost> {
    const host = new TestHost(options);
    mkdirSync(host.base, { recursive: true });
    mkdirSync(host.logDir, { recursive: true });
    const script = writeHolderScript(options.workDir);
    const ready = join(host.logDir, 'holder.ready');
    const spawned = spawnLogged(
      'ip',
      [
        'netns',
        'exec',
        options.netns,
        'unshare',
        '--mount',
        '--uts',
        '--ipc',
        '--pid',
        '--fork',
        '--propagation',
        'private',
        script,
        host.base,
        options.sharedDir,
        ready,
        ...(options.binds ?? []),
      ],
      join(host.logDir, 'holder.log'),
    );
    registerCleanup(`host ${options.name} holder`, () => host.destroy(spawned.pid));
    registerLastResort(() => {
      killPid(host.holderPid);
      killPid(spawned.pid);
    });
    // The holder writes its own PID (inside the namespace: 1), so find it as the child of unshare.
    host.holderPid = await waitFor(
      `holder of ${options.name}`,
      20_000,
      async () => {
        try {
          readFileSync(ready);
        } catch {
          return null;
        }
        const children = readFileSync(`/proc/${spawned.pid}/task/${spawned.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
        return children.length === 1 ? Number(children[0]) : null;
      },
      50,
    );
    return host;
  }

  /** Path of an overlay file, usable from the harness (through the holder's mount namespace). */
  path(p: string): string {
    return `/proc/${this.holderPid}/root${this.root}${p.startsWith('/') ? p : `/${p}`}`;
  }

  readFile(p: string): string | null {
    try {
      return readFileSync(this.path(p), 'utf8');
    } catch {
      return null;
    }
  }

  writeFile(p: string, content: string, mode = 0o644): void {
    const full = this.path(p);
    mkdirSync(full.slice(0, full.lastIndexOf('/')), { recursive: true });
    writeFileSync(full, content, { mode });
  }

  /** argv that runs `command` chrooted in this host, in all its namespaces, with exactly `env`. */
  commandLine(command: readonly string[], env: Record<string, string>): string[] {
    const pairs = Object.entries({ PATH: OVERLAY_ENV_PATH, ...env }).map(([k, v]) => `${k}=${v}`);
    return [
      '-t',
      String(this.holderPid),
      '--mount',
      '--uts',
      '--ipc',
      '--net',
      '--pid',
      '--',
      'chroot',
      this.root,
      '/usr/bin/env',
      '-i',
      '-C',
      '/',
      ...pairs,
      ...command,
    ];
  }

  exec(command: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return run('nsenter', this.commandLine(command, options.env ?? {}), { ...options, env: process.env as Record<string, string> });
  }

  /** Runs a command in the host's network namespace only (host filesystem), e.g. curl to a namespace IP. */
  execNet(command: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return run('nsenter', ['-t', String(this.holderPid), '--net', '--', ...command], options);
  }

  /** Starts a long-running process in the host; its output goes to logs/<host>/<logName>.log. */
  spawn(logName: string, command: readonly string[], env: Record<string, string> = {}): HostProcess {
    const spawned = spawnLogged('nsenter', this.commandLine(command, env), join(this.logDir, `${logName}.log`));
    const proc = new HostProcess(spawned);
    registerCleanup(`${this.name} ${logName}`, () => proc.kill());
    return proc;
  }

  /** Ends every process of the host (PID namespace) and its mounts. */
  async destroy(unsharePid?: number): Promise<void> {
    killPid(this.holderPid);
    killPid(unsharePid);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A process started through nsenter; `innerPid` is the process itself (nsenter's child). */
export class HostProcess {
  constructor(readonly spawned: Spawned) {}

  get exited(): Promise<number> {
    return this.spawned.exited;
  }

  innerPid(): number | null {
    try {
      const children = readFileSync(`/proc/${this.spawned.pid}/task/${this.spawned.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean);
      return children.length > 0 ? Number(children[0]) : null;
    } catch {
      return null;
    }
  }

  /** Kills the process itself (by id), then nsenter. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    killPid(this.innerPid() ?? undefined, signal);
    killPid(this.spawned.pid, signal);
  }

  /**
   * Kills the process and every descendant (by id, collected first), as systemd does with a
   * unit's control group when its main process dies. Returns the killed ids.
   */
  killTree(): number[] {
    const root = this.innerPid();
    if (!root) return [];
    const pids = [root, ...descendants(root)];
    for (const pid of pids) killPid(pid);
    return pids;
  }
}

/** All descendants of a process, read from /proc/<pid>/task/<tid>/children. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      let text = '';
      try {
        text = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {}
      for (const c of text.trim().split(/\s+/).filter(Boolean)) {
        out.push(Number(c));
        queue.push(Number(c));
      }
    }
  }
  return out;
}
