/**
 * Shared by the rollout and capacity benchmarks: the server child process (bench/server-child.ts)
 * driven over IPC, its RSS from /proc, signed agent requests over undici, percentiles, and a
 * summary of a V8 CPU profile (--cpu-prof) by self time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Dispatcher, request } from 'undici';
import { type AgentIdentity, signedHeaders } from '../test/unit/server/support.ts';

export const ROOT = join(import.meta.dirname, '..');

export interface ServerChild {
  child: ChildProcess;
  pid: number;
  send(command: Record<string, unknown>, timeoutMs?: number): Promise<{ url?: string; ca?: string }>;
  /** VmRSS and VmHWM of the server process, in bytes. */
  memory(): { rss: number; hwm: number };
  /** Asks the child to exit and waits (a --cpu-prof profile is written then). */
  exit(): Promise<void>;
}

/**
 * Starts bench/server-child.ts, compiled as the shipped CLI bundle is (no `keepNames`: bench/ts-hooks.mjs);
 * `nodeArgs` e.g. ['--cpu-prof', '--cpu-prof-dir', DIR].
 */
export async function startServerChild(nodeArgs: string[] = []): Promise<ServerChild> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      ...nodeArgs,
      '--import',
      pathToFileURL(join(import.meta.dirname, 'ts-register.mjs')).href,
      join(import.meta.dirname, 'server-child.ts'),
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: ROOT,
    },
  );
  const pending: { resolve: (m: Record<string, unknown>) => void }[] = [];
  child.on('message', (message) => pending.shift()?.resolve(message as Record<string, unknown>));
  const next = (timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server child did not answer within ${timeoutMs} ms`)), timeoutMs);
      pending.push({
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  await next(30_000); // ready
  const pid = child.pid ?? 0;
  return {
    child,
    pid,
    async send(command, timeoutMs = 60_000) {
      const answer = next(timeoutMs);
      child.send(command);
      const m = await answer;
      if (!m.ok) throw new Error(`server child: ${String(m.error)}`);
      return m as { url?: string; ca?: string };
    },
    memory() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
      return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
    },
    async exit() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ cmd: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Answer {
  status: number;
  json: unknown;
}

/** One signed agent request (protocol/wire.ts signature headers). */
export async function agentRequest(
  dispatcher: Dispatcher,
  baseUrl: string,
  identity: AgentIdentity,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 70_000,
): Promise<Answer> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const headers = signedHeaders(identity, method, path, payload, Date.now());
  const res = await request(`${baseUrl}${path}`, {
    method,
    dispatcher,
    headers,
    ...(payload ? { body: payload } : {}),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}

/** Unsigned JSON POST (enrollment, hello-world). */
export async function postJson(dispatcher: Dispatcher, url: string, body: unknown, timeoutMs = 30_000): Promise<Answer> {
  const res = await request(url, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}

/** Runs `task(i)` for i < count with at most `concurrency` in flight; throws after `deadline` (epoch ms). */
export async function runBounded(count: number, concurrency: number, deadline: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      if (Date.now() > deadline) throw new Error(`deadline passed after ${next} of ${count} tasks`);
      await task(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Top frames of a .cpuprofile by self time: "share % function (file:line)". */
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * A .cpuprofile without its first sample: that sample's delta runs from the profile's start, so it
 * counts the inspector's own `Profiler.start` (tens of ms, shown as `dispatch`) as the program's time.
 */
function readCpuProfile(file: string): CpuProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  return { ...profile, samples: profile.samples.slice(1), timeDeltas: profile.timeDeltas.slice(1) };
}

/** A frame's file relative to the repository (tsx-compiled sources report no useful line). */
function framePath(f: ProfileNode['callFrame']): string {
  return f.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
}

export function summarizeCpuProfile(file: string, top = 12): string[] {
  const profile = readCpuProfile(file);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node) continue;
    const f = node.callFrame;
    // tsx-compiled sources report line 1: name the file only.
    const file = framePath(f);
    const where = f.url ? (f.lineNumber > 0 ? `${file}:${f.lineNumber + 1}` : file) : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const idle = self.get('(idle)') ?? 0;
  const busy = total - idle;
  return [...self.entries()]
    .filter(([k]) => k !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / Math.max(1, busy)).toFixed(1)} % ${k}`)
    .concat([`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s profiled`]);
}

/**
 * Inclusive time per function of a .cpuprofile (a frame counts once per sample however deep it
 * recurses), as a share of the busy time, for frames whose file matches `files`.
 */
export function summarizeCpuProfileInclusive(file: string, files: RegExp, top = 12): string[] {
  const profile = readCpuProfile(file);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    let id: number | undefined = profile.samples[i]!;
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    busy += dt;
    const seen = new Set<string>();
    for (; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const path = framePath(f);
      if (!files.test(path)) continue;
      const key = `${f.functionName || '(anonymous)'} (${path})`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  }
  return [...inclusive.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / Math.max(1, busy)).toFixed(1)} % ${k}`)
    .concat([`busy ${(busy / 1e6).toFixed(2)} s`]);
}
