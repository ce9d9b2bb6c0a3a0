/**
 * `kubeseed status --watch` in a real terminal: tmux runs the command in a detached 110×32 pane
 * while the test drives a simulated rollout on a loopback coordinator; `capture-pane` shows the
 * bars filling (cp1's bar grows from empty to full) and the command exiting 0 when the rollout is
 * done. Uses its own tmux socket (-L) and no user configuration; the server is killed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../../support/requirements.ts';
import { removeDir, type SimulatedRollout, startSimulation, writeStateDir } from '../../unit/status/rollout-sim.ts';

const skip = skipUnless('validators', { commands: ['tmux'] });
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('./status-main.ts', import.meta.url));
const SOCKET = `ks-${process.pid}-status`;
const SESSION = 'status';

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-u', '-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
}

function capture(): string {
  return tmux('capture-pane', '-p', '-t', SESSION).trimEnd();
}

/** Polls the pane (every 100 ms, at most `ms`) until `test` holds; returns that capture. */
async function waitForPane(test: (pane: string) => boolean, what: string, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  let pane = '';
  while (Date.now() < deadline) {
    pane = capture();
    if (test(pane)) return pane;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the pane never showed ${what}; last capture:\n${pane}`);
}

function line(pane: string, host: string): string {
  return pane.split('\n').find((l) => l.startsWith(`${host} `)) ?? '';
}

const filled = (l: string) => [...l].filter((c) => c === '█').length;

describe.skipIf(skip)('kubeseed status --watch in tmux', () => {
  let sim: SimulatedRollout;
  let state: string;

  beforeAll(async () => {
    sim = await startSimulation({ listen: true, loadBalancers: 1, controlPlanes: 1, workers: 2 });
    state = writeStateDir(sim.url);
  });

  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    await sim?.close();
    if (state) removeDir(state);
  });

  it('shows the bars move and exits 0 at the end of the rollout', async () => {
    const command = `'${process.execPath}' --import tsx '${RUNNER}' --watch --state '${state}'; echo "EXIT=$?"; sleep 60`;
    tmux(
      'new-session',
      '-d',
      '-s',
      SESSION,
      '-x',
      '110',
      '-y',
      '32',
      '-c',
      REPO,
      '-e',
      'LANG=C.UTF-8',
      '-e',
      'NO_COLOR=',
      'sh',
      '-c',
      command,
    );

    const start = await waitForPane((p) => line(p, 'w2').includes('not-enrolled'), 'the first frame');
    expect(filled(line(start, 'cp1'))).toBe(0);
    expect(line(start, 'cp1')).toMatch(/^cp1\s+control-plane\s+░+\s+0\/4\s+not-enrolled/);

    await sim.enroll(...sim.hosts);
    await sim.succeedReleased(['lb1']);
    const lbDone = await waitForPane((p) => /1\/1\s+done/.test(line(p, 'lb1')), 'lb1 done');
    expect(line(lbDone, 'lb1')).not.toContain('░');
    expect(line(lbDone, 'cp1')).toMatch(/running\s+kubeadm-init · \d+s/);

    await sim.succeedReleased(['cp1']);
    await sim.succeedReleased(['cp1']);
    const half = await waitForPane((p) => /2\/4/.test(line(p, 'cp1')), 'cp1 at 2/4');

    await sim.runToEnd();
    const end = await waitForPane((p) => p.includes('EXIT='), 'the command exiting');
    expect(end).toContain('EXIT=0');
    expect(end).toMatch(/rollout done · hosts 4\/4 done/);
    expect(line(end, 'cp1')).toMatch(/█+\s+4\/4\s+done/);
    expect(line(end, 'cp1')).not.toContain('░');

    // cp1's bar, as the terminal showed it: empty, half, full.
    const widths = [start, half, end].map((p) => filled(line(p, 'cp1')));
    expect(widths[0]).toBe(0);
    expect(widths[1]).toBeGreaterThan(0);
    expect(widths[2]).toBeGreaterThan(widths[1]!);
    console.log(['── first frame ──', start, '── cp1 at 2/4 ──', half, '── end ──', end].join('\n'));
  }, 60_000);
});
