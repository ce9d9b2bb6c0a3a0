/**
 * The e2e test host itself (harness/host.ts), where it stands in for a real machine's init: its
 * PID 1 reaps the processes orphaned to it, as systemd does. A host whose PID 1 did not (it was
 * `exec sleep infinity`) kept every such process a zombie with its PID taken, so `kill(pid, 0)` found
 * a SIGKILLed coordinator still there (faults.test.ts once failed on it, before the state lock
 * learned to tell a zombie from its holder: generator/state/lock.ts).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { runCleanup } from './harness/cleanup.ts';
import { sleep } from './harness/exec.ts';
import { TestHost } from './harness/host.ts';
import { TestNetwork } from './harness/network.ts';

describe.skipIf(skipUnless('e2e', { root: true, commands: ['ip', 'unshare', 'nsenter', 'chroot'] }))('e2e test host', () => {
  let host: TestHost;
  let workDir: string;

  beforeAll(async () => {
    mkdirSync('/tmp/kubeseed-e2e', { recursive: true });
    // Under /tmp/kubeseed-e2e/ks-<pid>-: the harness's sweep of dead runs knows these names.
    workDir = mkdtempSync(`/tmp/kubeseed-e2e/ks-${process.pid}-host-`);
    const shared = join(workDir, 'shared');
    mkdirSync(shared);
    const net = await TestNetwork.create(`ks-${process.pid}-h-`);
    const { netns } = await net.addHost('h1', '10.231.99.2/24');
    host = await TestHost.create({ name: 'h1', netns, workDir, sharedDir: shared });
  });

  afterAll(async () => {
    const problems = await runCleanup();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    expect(problems).toEqual([]);
  });

  /** State letter of `pid` in the host's PID namespace (`R`, `S`, `Z`…), or null when it is gone (reaped). */
  async function stateOf(pid: number): Promise<string | null> {
    const r = await host.exec(['cat', `/proc/${pid}/stat`], { allowFail: true });
    if (r.code !== 0) return null;
    // comm may hold spaces and parentheses: the state follows the last ')'.
    return r.stdout.slice(r.stdout.lastIndexOf(')') + 2, r.stdout.lastIndexOf(')') + 3);
  }

  it('reaps a process orphaned to its PID 1 once it exits, as systemd does', async () => {
    // The parent exits at once; its background child is adopted by the host's PID 1, then exits.
    const r = await host.exec(['sh', '-c', 'sleep 0.3 >/dev/null 2>&1 & echo $!']);
    const orphan = Number(r.stdout.trim());
    expect(orphan).toBeGreaterThan(1);
    expect(await stateOf(orphan)).toMatch(/^[RS]$/);
    let state: string | null = 'S';
    for (let tries = 0; tries < 40 && state !== null; tries++) {
      await sleep(100);
      state = await stateOf(orphan);
    }
    // `Z` here: exited, never reaped.
    expect(state).toBeNull();
  });
});
