/**
 * A state directory from before the audit trail moved into the store (ADR 0035): `kubeseed serve`
 * imports its `audit.log` once, ahead of what it records afterwards, keeps the file as
 * `audit.log.imported`, says so (naming lines it could not read), and does nothing the next start.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCoordinatorState } from '../../../server/load-state.ts';
import { runServe } from '../../../server/serve.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from '../cli/run-main.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
let dir = '';
let state = '';

beforeAll(async () => {
  dir = tempDir('ks-legacy-audit-');
  const r = await runMain(['generate', join(ROOT, 'examples/ha-stacked.yaml'), '--out', join(dir, 'out')], { cwd: ROOT });
  expect(r.code, r.err).toBe(0);
  state = join(dir, 'out', 'coordinator');
}, 60_000);

async function serveOnce(): Promise<{ printed: string[]; trail: { host: string; step: string }[] }> {
  const printed: string[] = [];
  const handle = await runServe({
    stateDir: state,
    listen: '127.0.0.1:0',
    loadState: loadCoordinatorState,
    print: (line) => printed.push(line),
    handleSignals: false,
    logger: false,
  });
  try {
    return { printed, trail: handle.app.coordinator.auditTrail() };
  } finally {
    await handle.close();
  }
}

describe('an audit.log from an older kubeseed', () => {
  it('is imported once into the store, kept as audit.log.imported, with unreadable lines named', async () => {
    const old = [
      { at: '2026-11-01T10:00:00.000Z', host: 'k8s1master1', step: 'k8s1master1/kubeadm-init', attempt: 1, secrets: ['bootstrap-token'] },
      {
        at: '2026-11-01T10:05:00.000Z',
        host: 'k8s1worker1',
        step: 'k8s1worker1/kubeadm-join-worker',
        attempt: 1,
        secrets: ['bootstrap-token'],
      },
    ];
    const text = `${old.map((e) => JSON.stringify(e)).join('\n')}\n{"at":"2026-11-01T10:06`;
    writeFileSync(join(state, 'audit.log'), text, { mode: 0o600 });

    const first = await serveOnce();
    expect(first.trail).toEqual(old);
    expect(first.printed.join('\n')).toContain(
      `note: imported 2 audit entries from ${join(state, 'audit.log')} into the store (file kept as audit.log.imported); lines 3 are not entries and were not imported`,
    );
    expect(existsSync(join(state, 'audit.log'))).toBe(false);
    expect(readFileSync(join(state, 'audit.log.imported'), 'utf8')).toBe(text);

    const second = await serveOnce();
    expect(second.trail).toEqual(old);
    expect(second.printed.join('\n')).not.toMatch(/note: .*audit/);
  });
});
