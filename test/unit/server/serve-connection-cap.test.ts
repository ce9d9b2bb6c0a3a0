/**
 * The per-source connection cap (issue 18) is an option of `kubeseed serve`: a coordinator that
 * agents reach through one NAT or reverse proxy — or the capacity bench's 5,000 agents on
 * 127.0.0.1 — needs more than the default, and an operator can also lower it.
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { cmdServe } from '../../../cli/coordinator-commands.ts';
import { runServe, type ServeHandle } from '../../../server/serve.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makePlan } from './fixtures.ts';
import { FakeKubernetes, makeInputs } from './support.ts';

const dirs: string[] = [];
const handles: ServeHandle[] = [];
afterAll(async () => {
  for (const h of handles) await h.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Opens a TLS connection and says whether the server kept it open for `holdMs`. */
function staysOpen(port: number, holdMs: number): Promise<{ open: boolean; close: () => void }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    let settled = false;
    const done = (open: boolean) => {
      if (settled) return;
      settled = true;
      resolve({ open, close: () => socket.destroy() });
    };
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
    socket.on('secureConnect', () => setTimeout(() => done(!socket.destroyed), holdMs));
  });
}

describe('kubeseed serve --max-connections-per-source', () => {
  it('runServe refuses a connection from one source beyond maxConnectionsPerSource', async () => {
    const stateDir = tempDir('ks-cap-');
    dirs.push(stateDir);
    const plan = makePlan({ workers: 1 });
    const handle = await runServe({
      stateDir,
      listen: '127.0.0.1:0',
      loadState: async () => ({ ...makeInputs(plan), kubernetes: new FakeKubernetes() }),
      print: () => {},
      handleSignals: false,
      logger: { level: 'silent' },
      maxConnectionsPerSource: 2,
    });
    handles.push(handle);
    const port = Number(new URL(handle.url).port);
    const held = [await staysOpen(port, 200), await staysOpen(port, 200)];
    const third = await staysOpen(port, 200);
    expect(held.map((c) => c.open)).toEqual([true, true]);
    expect(third.open).toBe(false);
    for (const c of [...held, third]) c.close();
  });

  it('refuses a value that is not a whole number of at least 1, naming the flag (exit 2)', async () => {
    const io = { stdout: () => {}, stderr: () => {}, env: {} } as unknown as Parameters<typeof cmdServe>[1];
    for (const bad of ['0', '-3', 'many', '1.5'])
      await expect(cmdServe(['--state', '/nonexistent', '--max-connections-per-source', bad], io)).rejects.toThrow(
        /--max-connections-per-source: .* a whole number of at least 1/,
      );
  });
});
