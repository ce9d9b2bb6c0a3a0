/**
 * What systemd does for the units the systemctl TEST DOUBLE was asked to start (etcd in binary
 * mode): the harness runs each from its unit file's ExecStart, and a `restart` (a newer start time in
 * the double's state) stops the running process like systemd (SIGTERM, SIGKILL after 10 s) and starts
 * it again. The double waits for the acknowledgement (.doubles/units/UNIT.started,
 * KUBESEED_DOUBLE_SUPERVISED), as systemctl waits for its job.
 */
import { killPid } from './cleanup.ts';
import type { ClusterHost } from './cluster.ts';
import { sleep, waitFor } from './exec.ts';

/** Units the harness runs for the systemctl TEST DOUBLE (the rest are only recorded). */
export const SUPERVISED_UNITS = ['etcd'];

/** Watches one host's systemctl state; returns the timer (cleared when the cluster stops). */
export function superviseUnits(h: ClusterHost): NodeJS.Timeout {
  const handled = new Map<string, number>();
  let busy = false;
  return setInterval(() => {
    if (busy) return;
    let state: { active?: string[]; running?: Record<string, { startedAt?: number }> } = {};
    try {
      state = JSON.parse(h.host.readFile('/.doubles/systemctl.json') ?? '{}');
    } catch {
      return;
    }
    for (const unit of state.active ?? []) {
      const startedAt = state.running?.[unit]?.startedAt ?? 0;
      if (handled.get(unit) === startedAt || !SUPERVISED_UNITS.includes(unit)) continue;
      const text = h.host.readFile(`/etc/systemd/system/${unit}.service`);
      if (!text) continue;
      handled.set(unit, startedAt);
      busy = true;
      void restartUnit(h, unit, parseExecStart(text), startedAt).finally(() => {
        busy = false;
      });
      return;
    }
  }, 100);
}

async function restartUnit(h: ClusterHost, unit: string, exec: { argv: string[]; env: Record<string, string> }, startedAt: number) {
  const old = h.services.get(unit);
  const stoppingAt = old ? Date.now() : undefined;
  if (old) {
    // SIGTERM to the service itself: nsenter, its parent, exits (and resolves `exited`) only once it has.
    killPid(old.innerPid() ?? undefined, 'SIGTERM');
    if ((await Promise.race([old.exited.then(() => true), sleep(10_000).then(() => false)])) === false) {
      old.kill();
      await old.exited;
    }
  }
  const proc = h.host.spawn(unit, exec.argv, exec.env);
  h.services.set(unit, proc);
  const pid = await waitFor(`${h.spec.name}: ${unit}'s process`, 5_000, async () => proc.innerPid(), 20).catch(() => null);
  h.unitStarts.push({ unit, pid, at: Date.now(), ...(stoppingAt ? { stoppingAt } : {}) });
  h.host.writeFile(`/.doubles/units/${unit}.started`, String(startedAt));
}

/** ExecStart= and Environment= of a unit file (no quoting beyond plain words, as kubeseed renders them). */
export function parseExecStart(unit: string): { argv: string[]; env: Record<string, string> } {
  const joined = unit.replace(/\\\n/g, ' ');
  const line = /^ExecStart=(.+)$/m.exec(joined)?.[1];
  if (!line) throw new Error('unit has no ExecStart');
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(.+)$/gm)) {
    for (const pair of m[1]!.trim().split(/\s+/)) {
      const clean = pair.replace(/^"|"$/g, '');
      const i = clean.indexOf('=');
      if (i > 0) env[clean.slice(0, i)] = clean.slice(i + 1);
    }
  }
  const argv = line
    .trim()
    .replace(/^[-@+!:]+/, '')
    .split(/\s+/);
  return { argv, env };
}
