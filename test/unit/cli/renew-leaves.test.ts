/**
 * `kubeseed renew --state DIR` re-issues every coordinator-held leaf from the kept CAs, whatever
 * its expiry (issue 22): each external etcd member's server/peer/healthcheck-client,
 * apiserver-etcd-client and the coordinator's TLS server certificate — seen through
 * `kubeseed certs -o json` (new serials, CAs unchanged). `--dry-run` and refusals write nothing;
 * an encrypted state stays encrypted and needs its passphrase.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRollout } from '../../../generator/plan/plan.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { isEnvelope, renewLeaves } from '../../../generator/state/index.ts';
import { SECRET_RECORD_PREFIXES } from '../../../server/rollout/repository.ts';
import { openStore } from '../../../server/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from './run-main.ts';

const PASSPHRASE = 'renew test passphrase';
let dir = '';

interface CertRow {
  file: string;
  serial: string;
  notAfter: string;
}

/** A generated external-etcd state whose journal says every rollout step succeeded (what serve leaves after a rollout). */
async function finishedState(name: string, passphrase?: string): Promise<string> {
  const work = join(dir, name);
  const specFile = join(work, 'cluster.yaml');
  await import('node:fs/promises').then((fs) => fs.mkdir(work, { recursive: true }));
  writeFileSync(specFile, readFileSync('examples/ha-external-etcd.yaml'));
  const env = passphrase ? { KUBESEED_PASSPHRASE: passphrase } : {};
  const g = await runMain(['generate', specFile, '--out', join(work, 'out')], { cwd: work, env });
  expect(g.code, g.err).toBe(0);
  const stateDir = join(work, 'out', 'coordinator');
  const plan = planRollout(parseSpec(readFileSync(specFile), specFile).spec, []);
  const store = await openStore(`journal:${join(stateDir, 'store')}`, {
    ...(passphrase ? { passphrase } : {}),
    sealedPrefixes: SECRET_RECORD_PREFIXES,
  });
  await store.commit({
    puts: plan.steps.map((s) => ({
      key: `step/${s.id}`,
      value: { id: s.id, host: s.host, kind: s.kind, origin: 'plan', state: 'succeeded', attempt: 1, failures: 0 },
    })),
  });
  await store.close();
  return stateDir;
}

async function certs(stateDir: string, env: NodeJS.ProcessEnv = {}): Promise<Map<string, CertRow>> {
  const r = await runMain(['certs', '--state', stateDir, '-o', 'json'], { cwd: dir, env });
  expect(r.code, r.err).toBe(0);
  return new Map((JSON.parse(r.out) as { certificates: CertRow[] }).certificates.map((c) => [c.file, c]));
}

/** Every file under the state directory but the journal, with its bytes and mtime. */
function snapshot(stateDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(stateDir, p)] = `${statSync(p).mtimeMs} ${readFileSync(p, 'base64')}`;
    }
  };
  walk(stateDir);
  return out;
}

const LEAVES = [
  'tls/server.crt',
  'pki/apiserver-etcd-client.crt',
  ...['k8s2etcd1', 'k8s2etcd2', 'k8s2etcd3'].flatMap((m) =>
    ['server', 'peer', 'healthcheck-client'].map((f) => `pki/etcd/members/${m}/${f}.crt`),
  ),
];
const CAS = ['tls/ca.crt', 'pki/ca.crt', 'pki/front-proxy-ca.crt', 'pki/etcd/ca.crt'];

beforeAll(() => {
  dir = tempDir('ks-renew-leaves-');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kubeseed renew re-issues the coordinator-held leaves', () => {
  it('--dry-run changes nothing; renew gives every leaf a new serial from the same CAs and writes day2.json', async () => {
    const stateDir = await finishedState('plain');
    const before = await certs(stateDir);
    expect([...before.keys()]).toEqual(expect.arrayContaining([...LEAVES, ...CAS]));
    const files = snapshot(stateDir);

    const dry = await runMain(['renew', '--state', stateDir, '--dry-run', '-o', 'json'], { cwd: dir });
    expect(dry.code, dry.err).toBe(0);
    expect(JSON.parse(dry.out).renewed).toBeUndefined();
    expect(snapshot(stateDir)).toEqual(files);

    const r = await runMain(['renew', '--state', stateDir, '-o', 'json'], { cwd: dir });
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).renewed).toEqual([
      'pki/apiserver-etcd-client',
      'pki/etcd/members/k8s2etcd1',
      'pki/etcd/members/k8s2etcd2',
      'pki/etcd/members/k8s2etcd3',
      'tls/server',
    ]);
    const after = await certs(stateDir);
    for (const file of LEAVES) {
      expect(after.get(file)!.serial, file).not.toBe(before.get(file)!.serial);
      expect(Date.parse(after.get(file)!.notAfter), file).toBeGreaterThanOrEqual(Date.parse(before.get(file)!.notAfter));
    }
    // The CAs are the same certificates (the day-2 steps only add hosts that receive them).
    const identity = (c: CertRow | undefined) => c && { serial: c.serial, notAfter: c.notAfter };
    for (const file of CAS) expect(identity(after.get(file)), file).toEqual(identity(before.get(file)));
    expect(readFileSync(join(stateDir, 'day2.json'), 'utf8')).toContain('etcd-cert-renew');
    // Nothing but the leaves, state.json and day2.json changed: credentials and secrets are kept.
    const changed = Object.keys(snapshot(stateDir)).filter((f) => snapshot(stateDir)[f] !== files[f] && !f.startsWith('store/'));
    expect(changed.filter((f) => !/^(pki\/apiserver-etcd-client|pki\/etcd\/members\/|tls\/server)/.test(f)).sort()).toEqual([
      'day2.json',
      'state.json',
    ]);

    const human = await runMain(['renew', '--state', stateDir], { cwd: dir });
    expect(human.code).toBe(2);
    expect(human.err).toMatch(/has not finished; start `kubeseed serve`/);
  }, 60_000);

  it('an encrypted state: without KUBESEED_PASSPHRASE renew is refused and writes nothing; with it, the new keys stay sealed', async () => {
    const stateDir = await finishedState('sealed', PASSPHRASE);
    const files = snapshot(stateDir);
    const refused = await runMain(['renew', '--state', stateDir], { cwd: dir });
    // The journal refuses first (server/store: input to fix, exit 2); renewLeaves' own check is the next test.
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toMatch(/set KUBESEED_PASSPHRASE to the passphrase the state was generated with/);
    expect(snapshot(stateDir)).toEqual(files);

    const before = await certs(stateDir, { KUBESEED_PASSPHRASE: PASSPHRASE });
    const r = await runMain(['renew', '--state', stateDir], { cwd: dir, env: { KUBESEED_PASSPHRASE: PASSPHRASE } });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/# re-issued from the kept CAs in the state directory: pki\/apiserver-etcd-client, .*tls\/server/);
    const after = await certs(stateDir, { KUBESEED_PASSPHRASE: PASSPHRASE });
    expect(after.get('pki/etcd/members/k8s2etcd2/peer.crt')!.serial).not.toBe(before.get('pki/etcd/members/k8s2etcd2/peer.crt')!.serial);
    for (const key of ['pki/etcd/members/k8s2etcd2/peer.key', 'tls/server.key', 'pki/apiserver-etcd-client.key'])
      expect(isEnvelope(readFileSync(join(stateDir, key), 'utf8')), key).toBe(true);
  }, 60_000);

  it('renewLeaves itself refuses an encrypted state without the passphrase before reading or writing a file', async () => {
    const stateDir = await finishedState('sealed-direct', PASSPHRASE);
    const spec = parseSpec(readFileSync(join(stateDir, 'cluster.yaml')), 'cluster.yaml').spec;
    const files = snapshot(stateDir);
    await expect(renewLeaves({ stateDir, spec })).rejects.toThrow(
      /state\.json: the state is encrypted and renew re-issues its keys sealed like the rest: set KUBESEED_PASSPHRASE/,
    );
    expect(snapshot(stateDir)).toEqual(files);
  }, 60_000);
});
