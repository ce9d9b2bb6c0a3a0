/**
 * `kubeseed demo --upgrade`: after the demo's rollout, the day-2 path of a real cluster (ADR 0033,
 * 0039, docs/day2.md) on the same simulated machines. The coordinator stops; the spec's
 * kubernetesVersion goes to the next patch and `kubeseed upgrade` plans it (every host done, none
 * failed); the machines restart with the new Kubernetes packages (the kubeadm TEST DOUBLE then
 * reports v1.37.1, as an image or a package install would leave it); the coordinator starts again
 * and the idle agents run their day-2 steps in order. The result lists the upgrade's steps like the
 * rollout's, with their kinds and times.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RolloutStatus } from '../server/coordinator.ts';
import type { Io } from './commands.ts';
import { main as cliMain } from './main.ts';

const FROM = 'v1.37.0';
const TO = 'v1.37.1';

export interface DemoUpgradeContext {
  work: string;
  specFile: string;
  /** The demo's spec text (at FROM). */
  spec: string;
  stateDir: string;
  say(s: string): void;
  agents: ChildProcess[];
  stopServer(): Promise<void>;
  /** Starts serve again; returns how to read its status. */
  startServer(): Promise<() => Promise<RolloutStatus>>;
  startAgents(): ChildProcess[];
}

export interface DemoUpgradeStep {
  host: string;
  kind: string;
  order: number;
  startMs: number;
  endMs: number;
}

export interface DemoUpgradeResult {
  ok: boolean;
  from: string;
  to: string;
  elapsedSeconds: number;
  failed: string[];
  steps: DemoUpgradeStep[];
}

async function stopAgents(agents: ChildProcess[]): Promise<void> {
  const running = agents.filter((a) => a.exitCode === null && a.signalCode === null);
  for (const a of running) a.kill('SIGTERM');
  await Promise.all(running.map((a) => new Promise((r) => a.once('exit', r))));
}

export async function runDemoUpgrade(ctx: DemoUpgradeContext): Promise<DemoUpgradeResult> {
  const started = Date.now();
  ctx.say(`\nupgrade: ${FROM} → ${TO} — the coordinator stops, \`kubeseed upgrade\` plans it, the idle agents run it\n`);
  await ctx.stopServer();
  // The machines go down too: they come back with the new packages and their agents resume idle.
  await stopAgents(ctx.agents);
  const upgraded = join(ctx.work, 'cluster-upgrade.yaml');
  await writeFile(upgraded, ctx.spec.replace(`kubernetesVersion: ${FROM}`, `kubernetesVersion: ${TO}`));
  const lines: string[] = [];
  const capture: Io = { stdout: (s) => lines.push(s), stderr: (s) => lines.push(s), env: process.env, cwd: ctx.work, isTTY: false };
  if ((await cliMain(['upgrade', upgraded, '--state', ctx.stateDir], capture)) !== 0)
    throw new Error(`kubeseed upgrade refused the demo's upgrade:\n${lines.join('')}`);
  ctx.say(lines.join('').replace(/^/gm, '  '));
  const status = await ctx.startServer();
  ctx.startAgents();
  const deadline = Date.now() + 90_000;
  let last = await status();
  const upgradeSteps = (s: RolloutStatus) => s.hosts.flatMap((h) => h.steps.filter((x) => x.id.includes(`/upgrade-${TO}/`)));
  let shown = 0;
  while (Date.now() < deadline) {
    last = await status();
    const done = upgradeSteps(last).filter((s) => s.state === 'succeeded').length;
    if (done !== shown) {
      ctx.say(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s upgrade steps done: ${done}/${upgradeSteps(last).length}\n`);
      shown = done;
    }
    if (last.done || last.hosts.some((h) => h.failed)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const all = upgradeSteps(last).filter((s) => s.releasedAt !== undefined);
  const t0 = Math.min(...all.map((s) => s.releasedAt as number));
  const steps = all
    .sort((a, b) => (a.releasedAt as number) - (b.releasedAt as number))
    .map((s, i) => ({
      host: s.host,
      kind: s.kind,
      order: i + 1,
      startMs: (s.releasedAt as number) - t0,
      endMs: (s.finishedAt ?? Number.NaN) - t0,
    }));
  const failed = last.hosts.filter((h) => h.failed).map((h) => h.name);
  return {
    ok: last.done && failed.length === 0,
    from: FROM,
    to: TO,
    elapsedSeconds: (Date.now() - started) / 1000,
    failed,
    steps,
  };
}

export function printUpgradeSummary(io: Io, u: DemoUpgradeResult): void {
  io.stdout(
    `\nUPGRADE ${u.from} → ${u.to}\n${'ORDER'.padEnd(6)}${'HOST'.padEnd(10)}${'STEP'.padEnd(28)}${'START'.padStart(8)}${'END'.padStart(8)}\n`,
  );
  for (const s of u.steps)
    io.stdout(
      `${String(s.order).padEnd(6)}${s.host.padEnd(10)}${s.kind.padEnd(28)}${(s.startMs / 1000).toFixed(2).padStart(7)}s${Number.isNaN(s.endMs) ? '       -' : `${(s.endMs / 1000).toFixed(2).padStart(7)}s`}\n`,
    );
  io.stdout(
    u.ok
      ? `\nupgrade complete in ${u.elapsedSeconds.toFixed(1)}s: one kubeadm upgrade apply, control planes one at a time after it, workers after every control plane.\n`
      : `\nupgrade did not complete (${u.failed.join(', ') || 'timeout'})\n`,
  );
}
