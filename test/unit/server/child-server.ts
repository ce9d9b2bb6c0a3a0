/**
 * Runs the coordinator as a child process (serve-entry.ts) on a state directory, for crash tests:
 * start, wait until it listens, SIGKILL. Children are tracked so a test can kill leftovers by PID.
 * A test that starts many children may bundle serve-entry.ts once (`bundleServeEntry`) and start
 * them from the bundle, which skips tsx's per-module loading.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { afterAll, beforeAll } from 'vitest';
import { startTestEtcd, type TestEtcd } from '../../support/etcd-server.ts';
import { createTestTls } from './support.ts';

export const children: ChildProcess[] = [];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Writes the test TLS identity where serve-entry.ts reads it. */
export function prepareStateDir(stateDir: string): { ca: string } {
  const tls = createTestTls();
  writeFileSync(join(stateDir, 'tls.crt'), tls.cert);
  writeFileSync(join(stateDir, 'tls.key'), tls.key, { mode: 0o600 });
  return { ca: tls.ca };
}

const SERVE_ENTRY = join(import.meta.dirname, 'serve-entry.ts');

/**
 * Bundles serve-entry.ts and the sources it imports (esbuild; packages stay in node_modules) into
 * one ESM file under test/.work/ (git-ignored, inside the checkout so node_modules resolves) and
 * returns its path, for `startServer`'s `entry`. The caller removes it.
 */
export async function bundleServeEntry(): Promise<string> {
  const dir = join(import.meta.dirname, '..', '..', '.work');
  mkdirSync(dir, { recursive: true });
  const { build } = await import('esbuild');
  const outfile = join(dir, `serve-entry-${process.pid}-${Date.now()}.mjs`);
  await build({
    entryPoints: [SERVE_ENTRY],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    logLevel: 'warning',
  });
  return outfile;
}

/** `entry`: serve-entry.ts (run through tsx) or its bundle from `bundleServeEntry` (run by node). */
export function startServer(
  stateDir: string,
  port: number,
  workers: number,
  topology: 'stacked' | 'external-etcd' = 'stacked',
  env: NodeJS.ProcessEnv = {},
  entry: string = SERVE_ENTRY,
): Promise<ChildProcess> {
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, entry, stateDir, String(port), String(workers), topology], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  return untilListening(child, 20_000);
}

/**
 * Resolves with `child` once its stdout says `listening on`; rejects, with everything it printed, when
 * it exits first or `timeoutMs` passes. `sink` sees every chunk of stdout and stderr.
 */
export function untilListening(child: ChildProcess, timeoutMs: number, sink: (text: string) => void = () => {}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let out = '';
    const take = (chunk: unknown) => {
      out += String(chunk);
      sink(String(chunk));
    };
    const timer = setTimeout(() => reject(new Error(`coordinator did not start: ${out}`)), timeoutMs);
    child.stdout!.on('data', (chunk) => {
      take(chunk);
      if (out.includes('listening on')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr!.on('data', take);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited (${code}) before listening: ${out}`));
    });
  });
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

export async function killLeftovers(): Promise<void> {
  for (const child of children) await killHard(child);
}

export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The fixture of a test file that serves on a real etcd: the etcd (started in beforeAll unless
 * `skip`), and what the tests leave — child servers and HTTP dispatchers — stopped in afterAll
 * (directories: tempDir(), test/support/temp-dir.ts, removes them after this hook).
 */
export function etcdFileFixture(skip: boolean, prefix: string): { etcd(): TestEtcd; dispatchers: Agent[] } {
  let etcd: TestEtcd | undefined;
  const dispatchers: Agent[] = [];
  beforeAll(async () => {
    if (!skip) etcd = await startTestEtcd(prefix);
  }, 30_000);
  afterAll(async () => {
    await killLeftovers();
    for (const d of dispatchers) await d.close();
    etcd?.stop();
  });
  return {
    etcd: () => {
      if (!etcd) throw new Error('etcd is not running (skipped, or beforeAll failed)');
      return etcd;
    },
    dispatchers,
  };
}
