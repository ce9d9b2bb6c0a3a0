/**
 * The operator commands (retry, approve, rebind, remove, hosts, audit, status) through `main()` against a
 * real coordinator on 127.0.0.1: answers in sentences, no-ops refused with exit 2 and the reason,
 * remove/rebind confirmed on a terminal or by --yes, --dry-run changing nothing, -o json|yaml, and
 * KUBESEED_OPERATOR_TOKEN honoured by every one of them.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { appendAudit } from '../../../server/rollout/audit.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { OPERATOR_TOKEN, removeDir, type SimulatedRollout, startSimulation, writeStateDir } from '../status/rollout-sim.ts';
import { runMain } from './run-main.ts';

const run = (argv: string[], options: { env?: NodeJS.ProcessEnv; answer?: boolean } = {}) => runMain(argv, { cwd: '/', ...options });

describe('operator commands', () => {
  let sim: SimulatedRollout;
  let state: string;
  let tokenless: string;
  const removed = (host: string) => sim.status().hosts.find((h) => h.name === host)!.removed === true;
  beforeAll(async () => {
    sim = await startSimulation({ listen: true, workers: 3 });
    state = writeStateDir(sim.url);
    tokenless = writeStateDir(sim.url, { token: null });
  });
  afterAll(async () => {
    await sim.close();
    removeDir(state);
    removeDir(tokenless);
  });

  it('retry: refuses a host that has not failed (exit 2, the reason); re-queues a failed one in a sentence', async () => {
    const idle = await run(['retry', 'w1', '--state', state]);
    expect(idle.code).toBe(2);
    expect(idle.err).toMatch(/^kubeseed retry: w1 has no failed step, so there is nothing to retry/);
    await sim.enroll('lb1');
    await sim.runNext('lb1', 'failed', { permanent: true, reason: 'haproxy-exit-1' });
    const ok = await run(['retry', 'lb1', '--state', state]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toBe('lb1: re-queued 1 failed step(s): lb1/lb-check; `kubeseed status --watch` follows them\n');
  });

  it('approve: refused outside fleet mode with the reason', async () => {
    const r = await run(['approve', 'w1', '--state', state]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no machine waits for approval of w1: this cluster is not in fleet mode (spec.fleet.enabled)');
  });

  it('remove and rebind: --yes required without a terminal; a terminal is asked, "no" changes nothing', async () => {
    for (const verb of ['remove', 'rebind']) {
      const r = await run([verb, 'w2', '--state', state]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`${verb} changes the cluster: pass --yes to confirm`);
      const declined = await run([verb, 'w2', '--state', state], { answer: false });
      expect(declined.asked).toHaveLength(1);
      expect(declined.asked[0]).toMatch(new RegExp(`^${verb === 'remove' ? 'Remove' : 'Rebind'} w2`));
      expect(declined.code).toBe(1);
      expect(declined.err).toMatch(/nothing changed/);
    }
    expect(removed('w2')).toBe(false);
  });

  it('--dry-run says what would happen and changes nothing', async () => {
    const before = JSON.stringify(sim.status().hosts);
    const r = await run(['remove', 'w2', '--dry-run', '--state', state]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^dry run: remove w2 would cancel \d+ step\(s\) and run no cleanup \(it never joined\); nothing changed\n$/);
    const rebind = await run(['rebind', 'w2', '--dry-run', '--state', state, '-o', 'json']);
    expect(JSON.parse(rebind.out)).toMatchObject({ rebound: false, dryRun: true, restarts: ['w2/kubeadm-join-worker'] });
    expect(JSON.stringify(sim.status().hosts)).toBe(before);
  });

  it('remove --yes answers in a sentence; removing again is refused (exit 2)', async () => {
    const r = await run(['remove', 'w3', '--yes', '--state', state]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('w3: removed; its remaining steps are cancelled and the coordinator runs no cleanup (it never joined)\n');
    expect(removed('w3')).toBe(true);
    const confirmed = await run(['remove', 'w2', '--state', state], { answer: true });
    expect(confirmed.code, confirmed.err).toBe(0);
    expect(removed('w2')).toBe(true);
    const again = await run(['remove', 'w3', '-y', '--state', state]);
    expect(again.code).toBe(2);
    expect(again.err).toContain('w3 was already removed');
  });

  it('hosts -o yaml / -o json print the same data', async () => {
    const yaml = parseYaml((await run(['hosts', '--state', state, '-o', 'yaml'])).out);
    const json = JSON.parse((await run(['hosts', '--state', state, '--json'])).out);
    expect(yaml).toEqual(json);
    expect(json.map((h: { name: string }) => h.name)).toContain('cp1');
  });

  it('audit: nothing handed out yet says so; an unknown host is refused (exit 2) naming it', async () => {
    const empty = await run(['audit', '--host', 'w1', '--state', state]);
    expect(empty.code, empty.err).toBe(0);
    expect(empty.out).toBe('no secret handed out yet to w1\n');
    const unknown = await run(['audit', '--host', 'nope', '--state', state]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('host nope is not in the plan');
  });

  it('KUBESEED_OPERATOR_TOKEN is honoured by hosts, audit, status, retry, approve, rebind and remove alike', async () => {
    const env = { KUBESEED_OPERATOR_TOKEN: OPERATOR_TOKEN };
    const commands = [
      ['hosts'],
      ['audit'],
      ['status'],
      ['retry', 'cp1'],
      ['approve', 'cp1'],
      ['rebind', 'cp1', '--dry-run'],
      ['remove', 'cp1', '--dry-run'],
    ];
    for (const argv of commands) {
      const without = await run([...argv, '--state', tokenless]);
      expect(without.code, argv.join(' ')).toBe(2);
      expect(without.err, argv.join(' ')).toMatch(/no operator token: .* or set KUBESEED_OPERATOR_TOKEN/);
      const withEnv = await run([...argv, '--state', tokenless], { env });
      // Authenticated: an answer from the coordinator (success, running, or a refusal with a reason), never "no token".
      expect(withEnv.err, argv.join(' ')).not.toMatch(/no operator token|refused the operator token|401/);
      const wrong = await run([...argv, '--state', tokenless], { env: { KUBESEED_OPERATOR_TOKEN: 'not-the-token' } });
      expect(wrong.code, argv.join(' ')).toBe(2);
    }
  });
});

describe('kubeseed audit after a rollout', () => {
  let sim: SimulatedRollout;
  let state: string;
  const store = new MemoryStore();
  beforeAll(async () => {
    sim = await startSimulation({ listen: true, workers: 1, store });
    state = writeStateDir(sim.url);
  });
  afterAll(async () => {
    await sim.close();
    removeDir(state);
  });

  it('lists every hand-out in order, per host with --host, the same data in json and yaml, and no value', async () => {
    await sim.enroll(...sim.hosts);
    await sim.runToEnd();
    expect(sim.status().done).toBe(true);
    const json = JSON.parse((await run(['audit', '--state', state, '-o', 'json'])).out) as {
      entries: { at: string; host: string; step: string; attempt: number; secrets: string[] }[];
    };
    expect(parseYaml((await run(['audit', '--state', state, '-o', 'yaml'])).out)).toEqual(json);
    const steps = json.entries.map((e) => e.step);
    expect(steps).toContain('cp1/kubeadm-init');
    expect(steps).toContain('w1/kubeadm-join-worker');
    // In hand-out order: init before any join.
    expect(steps.indexOf('cp1/kubeadm-init')).toBeLessThan(steps.indexOf('w1/kubeadm-join-worker'));
    expect(json.entries.find((e) => e.step === 'cp1/kubeadm-init')!.secrets).toContain('bootstrap-token');
    const w1 = JSON.parse((await run(['audit', '--host', 'w1', '--state', state, '--json'])).out) as typeof json;
    expect(w1.entries.length).toBeGreaterThan(0);
    expect(w1.entries.every((e) => e.host === 'w1')).toBe(true);
    const text = await run(['audit', '--state', state]);
    expect(text.code, text.err).toBe(0);
    expect(text.out.split('\n')[0]).toMatch(/^AT\s+HOST\s+STEP\s+ATTEMPT\s+SECRETS$/);
    expect(text.out).toMatch(/cp1\s+cp1\/kubeadm-init\s+1\s+\S*bootstrap-token/);
    // Kinds only: no bootstrap token (abcdef.0123456789abcdef shape) and no key material.
    expect(JSON.stringify(json)).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}|BEGIN/);
  });

  it('an etcd snapshot received is listed with its id and what retention deleted', async () => {
    await appendAudit(store, {
      at: '2026-12-06T05:00:00.000Z',
      host: 'cp1',
      step: 'cp1/etcd-snapshot-1',
      attempt: 1,
      secrets: [],
      backup: { id: '20261206T050000Z-cp1', bytes: 4128, sha256: 'ab'.repeat(32), pruned: ['20261205T050000Z-cp1'] },
    });
    const json = JSON.parse((await run(['audit', '--host', 'cp1', '--state', state, '-o', 'json'])).out) as {
      entries: { backup?: { id: string; pruned: string[] } }[];
    };
    expect(json.entries.at(-1)!.backup).toEqual({
      id: '20261206T050000Z-cp1',
      bytes: 4128,
      sha256: 'ab'.repeat(32),
      pruned: ['20261205T050000Z-cp1'],
    });
    const text = await run(['audit', '--host', 'cp1', '--state', state]);
    expect(text.out).toMatch(
      /cp1\s+cp1\/etcd-snapshot-1\s+1\s+etcd snapshot 20261206T050000Z-cp1 received \(deleted by retention: 20261205T050000Z-cp1\)/,
    );
  });
});
