/**
 * Helpers for the templates validator tests: temp files, running a command and collecting its
 * result without throwing, and network namespaces named `ks-<pid>-…` that the tests delete in
 * afterAll. Nothing here addresses a namespace IP from the host namespace.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../support/temp-dir.ts';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(cmd, args, { input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env });
  return { status: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Runs and throws with the output when the exit status is not 0. */
export function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} → ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** A fresh private directory (0700, root-owned) for one test file. */
export function makeTempDir(label: string): string {
  return tempDir(`ks-${process.pid}-${label}-`);
}

export function writeFile(dir: string, name: string, content: string, mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

/** Namespaces created through this object, deleted by `deleteAll()`. */
export class Namespaces {
  private readonly names: string[] = [];
  constructor(private readonly prefix: string) {}

  add(suffix: string): string {
    const name = `ks-${process.pid}-${this.prefix}-${suffix}`;
    must('ip', ['netns', 'add', name]);
    this.names.push(name);
    must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /**
   * A link named `ifname` inside `ns` for tools that only check that the interface exists: a
   * dummy link when the kernel has the module, otherwise one end of a veth pair (both ends stay
   * inside the namespace).
   */
  addStandaloneLink(ns: string, ifname: string): void {
    if (run('ip', ['-n', ns, 'link', 'add', ifname, 'type', 'dummy']).status === 0) return;
    must('ip', ['-n', ns, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname.slice(0, 10)}-peer`]);
  }

  deleteAll(): void {
    for (const n of this.names.splice(0)) run('ip', ['netns', 'del', n]);
  }
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}
