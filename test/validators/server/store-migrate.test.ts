/**
 * `kubeseed store migrate` into a real etcd (issue 20; Debian's 3.4, TLS with client certificates,
 * 127.0.0.1), through the CLI entry:
 * - mid-rollout: a coordinator serves from its journal, is stopped part way, the journal moves
 *   to etcd, a `serve` on the journal is refused, and a coordinator on etcd finishes the rollout —
 *   every host done, `kubeadm init` once, no step handed out again after its success;
 * - a generated, encrypted state: the default prefix `kubeseed/<cluster>/`, secret records sealed
 *   in etcd, a second move refused (journal marked moved), a used prefix refused with the
 *   `etcdctl del --prefix` fix, which the real etcdctl then carries out.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { SECRET_RECORD_PREFIXES } from '../../../server/coordinator.ts';
import { EtcdClient } from '../../../server/store/etcd-client.ts';
import { openStore } from '../../../server/store/index.ts';
import { etcdTlsFlags } from '../../support/etcd-server.ts';
import { ROOT } from '../../support/fixtures.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from '../../unit/cli/run-main.ts';
import { expectRolloutCompleted, RolloutTracker, simulateFleet } from '../../unit/server/agent-sim.ts';
import { etcdFileFixture, freePort, prepareStateDir, startServer, waitFor } from '../../unit/server/child-server.ts';
import { makePlan } from '../../unit/server/fixtures.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });
const { dispatchers, etcd: running } = etcdFileFixture(skip, 'ks-store-migrate-');

const tlsFlags = () => etcdTlsFlags(running());
const etcdHost = () => new URL(running().clientUrl).host;
const etcdTls = () => running().clientTls();

async function etcdKeys(prefix: string): Promise<Map<string, string>> {
  const client = new EtcdClient({ endpoints: [running().clientUrl], tls: etcdTls() });
  try {
    return new Map((await client.rangePrefix(prefix)).kvs.map((kv) => [kv.key, kv.value]));
  } finally {
    client.close();
  }
}

describe.skipIf(skip)('kubeseed store migrate into etcd', () => {
  it('mid-rollout: stop the coordinator, move its journal, serve on etcd; the rollout completes once', async () => {
    const workers = 8;
    const plan = makePlan({ workers, workerParallelism: 3 });
    const state = tempDir('ks-migrate-state-');
    const { ca } = prepareStateDir(state);
    const port = await freePort();
    let child = await startServer(state, port, workers);
    const dispatcher = new Agent({ connect: { ca }, connections: 32 });
    dispatchers.push(dispatcher);
    const tracker = new RolloutTracker();
    const { agents, run } = simulateFleet(plan.hosts, { port, dispatcher, tracker, deadline: Date.now() + 90_000 });

    await waitFor(() => tracker.acknowledgedDone.size >= 5, 30_000);
    // Stopped as an operator stops it (systemctl stop: SIGTERM), mid-rollout.
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    const doneBefore = tracker.acknowledgedDone.size;
    expect(agents.every((a) => a.done)).toBe(false);
    const journal = join(state, 'store');
    const before = Object.fromEntries(readdirSync(journal).map((f) => [f, readFileSync(join(journal, f))]));

    const prefix = `kubeseed/migrate-test-${process.pid}/`;
    const to = `etcd://${etcdHost()}?prefix=${prefix}`;
    const moved = await runMain(['store', 'migrate', '--state', state, '--to', to, ...tlsFlags(), '-o', 'json'], { cwd: ROOT });
    expect(moved.code, moved.err).toBe(0);
    const result = JSON.parse(moved.out);
    expect(result).toMatchObject({ from: journal, to, prefix, sealed: false, marker: join(journal, 'moved.json') });
    expect(result.records).toBeGreaterThan(workers + 3);
    expect(result.next).toBe(`kubeseed serve --state ${state} --store '${to}' ${tlsFlags().join(' ')}`);
    // The journal is as it was, plus the mark.
    const after = Object.fromEntries(readdirSync(journal).map((f) => [f, readFileSync(join(journal, f))]));
    expect(Object.keys(after).sort()).toEqual([...Object.keys(before), 'moved.json'].sort());
    for (const [f, bytes] of Object.entries(before)) expect(after[f], f).toEqual(bytes);
    expect((await etcdKeys(`${prefix}kv/`)).size).toBe(result.records);

    // A coordinator on the journal is refused: it would fork the rollout.
    await expect(startServer(state, port, workers)).rejects.toThrow(/was moved to etcd:\/\/.* by `kubeseed store migrate`/);

    child = await startServer(state, port, workers, 'stacked', { KS_STORE: to, KS_ETCD_TLS_DIR: running().dir });
    await run;
    await expectRolloutCompleted(agents, tracker, { port, dispatcher, stateDir: state });
    expect(tracker.acknowledgedDone.size).toBeGreaterThan(doneBefore);
    // Nothing was written to the journal after the move.
    for (const [f, bytes] of Object.entries(before)) expect(readFileSync(join(journal, f)), f).toEqual(bytes);
    const stopped = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await stopped;
  }, 150_000);

  it('a generated, encrypted state: default prefix, sealed in etcd, a second move and a used prefix refused', async () => {
    const out = tempDir('ks-migrate-gen-');
    const env = { KUBESEED_PASSPHRASE: 'correct horse battery staple' };
    const generated = await runMain(['generate', join(ROOT, 'examples/ha-stacked.yaml'), '--out', out], { cwd: ROOT, env });
    expect(generated.code, generated.err).toBe(0);
    const state = join(out, 'coordinator');
    // What serve leaves in the journal (secret records sealed under the passphrase).
    const journal = await openStore(`journal:${join(state, 'store')}`, {
      passphrase: env.KUBESEED_PASSPHRASE,
      sealedPrefixes: SECRET_RECORD_PREFIXES,
    });
    await journal.commit({ puts: [{ key: 'lock/init', value: { holder: 'k8s1master1', succeeded: true } }] });
    await journal.commit({ puts: [{ key: 'step/k8s1master1/kubeadm-init', value: { state: 'succeeded', log: 'certificate-key abc' } }] });
    await journal.commit({ puts: [{ key: 'token/abcdef', value: { token: 'abcdef.0123456789abcdef' } }] });
    const records = journal.list('');
    const revision = journal.revision();
    await journal.close();
    const spare = join(out, 'spare');
    cpSync(state, spare, { recursive: true });

    const prefix = 'kubeseed/k8s1-cluster/';
    await runEtcdctl(['del', '--prefix', prefix]);
    const to = `etcd://${etcdHost()}`;
    const moved = await runMain(['store', 'migrate', '--state', state, '--to', to, ...tlsFlags()], { cwd: ROOT, env });
    expect(moved.code, moved.err).toBe(0);
    expect(moved.out).toContain(
      `moved 3 record(s) from ${join(state, 'store')} to ${to} under ${prefix} (secret records sealed under KUBESEED_PASSPHRASE)`,
    );
    expect(moved.out).toContain(`  kubeseed serve --state ${state} --store ${to} --etcd-ca`);

    const raw = await etcdKeys(prefix);
    expect(raw.has(`${prefix}key`)).toBe(true);
    expect(JSON.parse(raw.get(`${prefix}kv/step/k8s1master1/kubeadm-init`)!).value.$sealed).toBe(1);
    expect(JSON.parse(raw.get(`${prefix}kv/token/abcdef`)!).value.$sealed).toBe(1);
    expect(raw.get(`${prefix}kv/token/abcdef`)).not.toContain('0123456789abcdef');
    expect(JSON.parse(raw.get(`${prefix}kv/lock/init`)!).value).toEqual({ holder: 'k8s1master1', succeeded: true });
    const reread = await openStore(`${to}?prefix=${prefix}`, {
      passphrase: env.KUBESEED_PASSPHRASE,
      sealedPrefixes: SECRET_RECORD_PREFIXES,
      etcd: etcdTls(),
    });
    try {
      expect(reread.list('').map((r) => [r.key, r.value])).toEqual(records.map((r) => [r.key, r.value]));
      expect(reread.revision()).toBe(revision);
    } finally {
      await reread.close();
    }

    const again = await runMain(['store', 'migrate', '--state', state, '--to', to, ...tlsFlags()], { cwd: ROOT, env });
    expect(again.code).toBe(2);
    expect(again.err).toContain(`was moved to ${to} (prefix ${prefix})`);

    const used = await runMain(['store', 'migrate', '--state', spare, '--to', to, ...tlsFlags()], { cwd: ROOT, env });
    expect(used.code).toBe(2);
    expect(used.err).toContain(`${to} under ${prefix} already holds ${raw.size} key(s)`);
    expect(used.err).toContain(`\`etcdctl del --prefix ${prefix}\``);
    expect(existsSync(join(spare, 'store', 'moved.json'))).toBe(false);
    // The fix it names, carried out by the real etcdctl, lets the move through.
    await runEtcdctl(['del', '--prefix', prefix]);
    const retried = await runMain(['store', 'migrate', '--state', spare, '--to', to, ...tlsFlags(), '-o', 'json'], { cwd: ROOT, env });
    expect(retried.code, retried.err).toBe(0);
    expect(JSON.parse(retried.out)).toMatchObject({ records: 3, revision, prefix, sealed: true });
  }, 90_000);
});

async function runEtcdctl(args: string[]): Promise<string> {
  return execFileSync(
    'etcdctl',
    [
      `--endpoints=${running().clientUrl}`,
      `--cacert=${join(running().dir, 'ca.crt')}`,
      `--cert=${join(running().dir, 'healthcheck-client.crt')}`,
      `--key=${join(running().dir, 'healthcheck-client.key')}`,
      '--dial-timeout=2s',
      '--command-timeout=5s',
      ...args,
    ],
    { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 },
  );
}
