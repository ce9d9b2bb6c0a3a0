/**
 * `kubeseed upgrade` and `kubeseed renew` on a coordinator whose records are in a real etcd
 * (Debian's 3.4, TLS with client certificates, 127.0.0.1), through the CLI entry: with serve's
 * `--store URL --etcd-*` flags they read the finished rollout from etcd and plan; without them
 * the journal in the state directory is empty and every host "not Ready"; while a replica holds
 * the leader lease (the key `<prefix>leader` a leading `kubeseed serve` keeps) they refuse,
 * naming it. The day-2 file is written to the state directory, and the output says to copy it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { planRollout } from '../../../generator/plan/plan.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { SECRET_RECORD_PREFIXES } from '../../../server/coordinator.ts';
import { createStepRecord } from '../../../server/model.ts';
import { EtcdClient } from '../../../server/store/etcd-client.ts';
import { openStore } from '../../../server/store/index.ts';
import { etcdTlsFlags } from '../../support/etcd-server.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from '../../unit/cli/run-main.ts';
import { etcdFileFixture } from '../../unit/server/child-server.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });
const { etcd: running } = etcdFileFixture(skip, 'ks-day2-etcd-');

const spec = readFileSync('examples/ha-stacked.yaml', 'utf8').replace('kubernetesVersion: v1.37.0', 'kubernetesVersion: v1.35.4');
const PREFIX = `kubeseed/day2-test-${process.pid}/`;
const tlsFlags = () => etcdTlsFlags(running());
const KUBEADM_APISERVER = {
  path: '/etc/kubernetes/pki/apiserver.crt',
  subject: 'CN=kube-apiserver',
  issuer: 'CN=kubernetes',
  serial: '5EED',
  notAfter: Date.now() + 200 * 86_400_000,
};
const storeUrl = () => `etcd://${new URL(running().clientUrl).host}?prefix=${PREFIX}`;

describe.skipIf(skip)('kubeseed upgrade / renew with the records in etcd', () => {
  let dir = '';
  let state = '';
  let target = '';

  beforeAll(async () => {
    dir = tempDir('ks-day2-etcd-state-');
    writeFileSync(join(dir, 'cluster.yaml'), spec);
    const generated = await runMain(['generate', join(dir, 'cluster.yaml'), '--out', join(dir, 'out')], { cwd: dir });
    expect(generated.code, generated.err).toBe(0);
    state = join(dir, 'out', 'coordinator');
    target = join(dir, 'cluster-v1.35.5.yaml');
    writeFileSync(target, spec.replace('kubernetesVersion: v1.35.4', 'kubernetesVersion: v1.35.5'));
    // A finished rollout, as the replicas left it in etcd: every host enrolled, every plan step succeeded.
    const plan = planRollout(parseSpec(spec, 'cluster.yaml').spec, []);
    const store = await openStore(storeUrl(), { etcd: running().clientTls(), sealedPrefixes: SECRET_RECORD_PREFIXES });
    try {
      const puts = plan.steps.map((s) => ({
        key: `step/${s.id}`,
        value: {
          ...createStepRecord(s.id, s.host, s.kind, 'plan', 0),
          state: 'succeeded',
          attempt: 1,
          finishedAt: 1_700_000_000_000,
          // What the control plane's agent reports after kubeadm init: the certificates kubeadm keeps there.
          ...(s.kind === 'kubeadm-init' ? { results: { kubeadmCertificates: [KUBEADM_APISERVER] } } : {}),
        },
      }));
      for (let i = 0; i < puts.length; i += 50) expect((await store.commit({ puts: puts.slice(i, i + 50) })).ok).toBe(true);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('without --store the journal in the state directory is read: empty, every host not Ready', async () => {
    const r = await runMain(['upgrade', target, '--state', state, '--dry-run'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/hosts not Ready/);
  });

  it('with --store etcd://… and the TLS flags: upgrade and renew plan from the records in etcd', async () => {
    const up = await runMain(['upgrade', target, '--state', state, '--store', storeUrl(), ...tlsFlags(), '--dry-run', '-o', 'json'], {
      cwd: dir,
    });
    expect(up.code, up.err).toBe(0);
    const planned = JSON.parse(up.out) as { dryRun: boolean; steps: { id: string; kind: string }[] };
    expect(planned.dryRun).toBe(true);
    expect(planned.steps.map((s) => s.kind)).toContain('kubeadm-upgrade-apply');
    expect(existsSync(join(state, 'day2.json'))).toBe(false);

    const renew = await runMain(['renew', '--state', state, '--store', storeUrl(), ...tlsFlags()], { cwd: dir });
    expect(renew.code, renew.err).toBe(0);
    expect(renew.out).toMatch(/control-plane-cert-renew/);
    // The day-2 file lives in the state directory, which each replica has its own copy of.
    expect(renew.out).toContain(`day2.json changed in ${state} only: copy them to the state directory of every replica`);
    expect(existsSync(join(state, 'day2.json'))).toBe(true);
  });

  it('refuses while a replica holds the leader lease, naming it; `kubeseed certs` reads the records all the same', async () => {
    const client = new EtcdClient({ endpoints: [running().clientUrl], tls: running().clientTls() });
    const key = `${PREFIX}leader`;
    try {
      await client.txn([], [{ put: { key, value: JSON.stringify({ id: 'cp-box-1-4242-ab12', url: 'https://10.0.0.5:9443' }) } }]);
      const r = await runMain(['upgrade', target, '--state', state, '--store', storeUrl(), ...tlsFlags(), '--dry-run'], { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.err).toContain(`replica cp-box-1-4242-ab12 (https://10.0.0.5:9443) holds the leader lease in etcd (key ${key})`);
      expect(r.err).toContain('stop every replica first');
      // certs only reads: kubeadm's certificates as the init host's agent reported them, from etcd.
      const before = (await client.rangePrefix(PREFIX)).kvs;
      const certs = await runMain(['certs', '--state', state, '--store', storeUrl(), ...tlsFlags(), '-o', 'json'], { cwd: dir });
      expect(certs.code, certs.err).toBe(0);
      const rows = (JSON.parse(certs.out) as { certificates: { file: string; source: string; daysLeft: number }[] }).certificates;
      const init = planRollout(parseSpec(spec, 'cluster.yaml').spec, []).steps.find((s) => s.kind === 'kubeadm-init')!.host;
      expect(rows.find((c) => c.source === 'kubeadm')).toMatchObject({ file: `${init}:/etc/kubernetes/pki/apiserver.crt`, daysLeft: 199 });
      expect((await client.rangePrefix(PREFIX)).kvs).toEqual(before);
    } finally {
      await client.txn([], [{ delete: { key } }]);
      client.close();
    }
  });
});
