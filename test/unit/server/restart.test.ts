/**
 * Crash safety of `kubeseed serve`: the coordinator runs as a child process on a state directory
 * and is killed with SIGKILL twice mid-rollout; each restart on the same state resumes. The
 * rollout completes, init ran once (attempt 1, lock held by cp1), and no step was handed out
 * again after its success report was acknowledged.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { RolloutTracker, SimAgent } from './agent-sim.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, createTestTls } from './support.ts';

const children: ChildProcess[] = [];
const dispatchers: Agent[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const d of dispatchers) await d.close();
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function startServer(stateDir: string, port: number, workers: number): Promise<ChildProcess> {
  const entry = join(import.meta.dirname, 'serve-entry.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', entry, stateDir, String(port), String(workers)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`coordinator did not start: ${out}`)), 15_000);
    child.stdout!.on('data', (chunk) => {
      out += String(chunk);
      if (out.includes('listening on')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr!.on('data', (chunk) => {
      out += String(chunk);
    });
    child.once('exit', (code) => reject(new Error(`coordinator exited (${code}) before listening: ${out}`)));
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('coordinator restart', () => {
  it('survives SIGKILL mid-rollout and completes without handing out finished steps again', async () => {
    const workers = 15;
    const plan = makePlan({ workers, workerParallelism: 3 });
    const stateDir = mkdtempSync(join(tmpdir(), 'ks-restart-'));
    const tls = createTestTls();
    writeFileSync(join(stateDir, 'tls.crt'), tls.cert);
    writeFileSync(join(stateDir, 'tls.key'), tls.key, { mode: 0o600 });
    const port = await freePort();
    let child = await startServer(stateDir, port, workers);
    const dispatcher = new Agent({ connect: { ca: tls.ca }, connections: 64 });
    dispatchers.push(dispatcher);
    const tracker = new RolloutTracker();
    const deadline = Date.now() + 45_000;
    const agents = plan.hosts.map(
      (h, i) =>
        new SimAgent(createAgent(h.name, i), {
          baseUrl: () => `https://127.0.0.1:${port}`,
          dispatcher,
          tracker,
          deadline,
          waitMs: 2000,
          workMs: () => 20 + Math.random() * 40,
        }),
    );
    const run = Promise.all(agents.map((a) => a.run()));
    run.catch(() => {});

    await waitFor(() => tracker.acknowledgedDone.size >= 5, 20_000);
    await kill(child);
    child = await startServer(stateDir, port, workers);
    await waitFor(() => tracker.acknowledgedDone.size >= 12, 20_000);
    await kill(child);
    child = await startServer(stateDir, port, workers);

    await run;
    expect(tracker.violations).toEqual([]);
    expect(agents.every((a) => a.done)).toBe(true);
    expect(agents.reduce((n, a) => n + a.networkErrors, 0)).toBeGreaterThan(0);
    const init = agents.find((a) => a.identity.host === 'cp1')!.steps.filter((s) => s.startsWith('cp1/kubeadm-init'));
    expect(new Set(init)).toEqual(new Set(['cp1/kubeadm-init@1']));
    const token = (await import('node:fs')).readFileSync(join(stateDir, 'operator-token'), 'utf8').trim();
    expect(statSync(join(stateDir, 'operator-token')).mode & 0o777).toBe(0o600);
    const res = await request(`https://127.0.0.1:${port}/v1/status`, { dispatcher, headers: { authorization: `Bearer ${token}` } });
    const status = (await res.body.json()) as { done: boolean; initLock: { holder: string; succeeded: boolean } };
    expect(status.done).toBe(true);
    expect(status.initLock).toMatchObject({ holder: 'cp1', succeeded: true });
    const audit = (await import('node:fs')).readFileSync(join(stateDir, 'audit.log'), 'utf8').trim().split('\n');
    expect(audit.length).toBeGreaterThan(workers);
    expect(statSync(join(stateDir, 'audit.log')).mode & 0o777).toBe(0o600);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  });
});
