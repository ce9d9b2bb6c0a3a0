/**
 * `kubeseed certs` (issue 22): every certificate file the state directory holds is listed once,
 * with the notAfter the file itself carries, its subject and issuer, the hosts that receive it and
 * the days left; below 30 days it warns as status/hosts/the page do; an encrypted state needs
 * KUBESEED_PASSPHRASE; a missing state directory is a clear error.
 */
import { X509Certificate } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createStepRecord } from '../../../server/model.ts';
import { JournalStore } from '../../../server/store/journal-store.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from './run-main.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
let dir = '';
let state = '';

interface Row {
  file: string;
  subject: string;
  issuer: string;
  hosts: string[] | '*';
  notAfter: string;
  daysLeft: number;
}

/** Every .crt under the state directory, relative to it. */
function certificateFiles(base: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.crt')) out.push(relative(base, join(d, e.name)));
    }
  };
  walk(base);
  return out.sort();
}

beforeAll(async () => {
  dir = tempDir('ks-certs-');
  const r = await runMain(['generate', join(ROOT, 'examples/ha-external-etcd.yaml'), '--out', join(dir, 'out')], { cwd: ROOT });
  expect(r.code, r.err).toBe(0);
  state = join(dir, 'out', 'coordinator');
}, 60_000);

afterAll(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe('kubeseed certs', () => {
  it('lists every certificate file of the state once, with the expiry the file carries', async () => {
    const r = await runMain(['certs', '--state', state, '-o', 'json'], { cwd: ROOT });
    expect(r.code, r.err).toBe(0);
    const { certificates, warnings } = JSON.parse(r.out) as { certificates: Row[]; warnings: string[] };
    expect(certificates.map((c) => c.file).sort()).toEqual(certificateFiles(state));
    for (const c of certificates) {
      const x509 = new X509Certificate(readFileSync(join(state, c.file)));
      expect(Date.parse(c.notAfter), c.file).toBe(Date.parse(x509.validTo));
      expect(c.subject, c.file).toBe(x509.subject.trim().split('\n').join(', '));
      expect(c.issuer, c.file).toBe(x509.issuer.trim().split('\n').join(', '));
      expect(c.daysLeft, c.file).toBe(Math.floor((Date.parse(x509.validTo) - Date.now()) / 86_400_000));
    }
    const byFile = new Map(certificates.map((c) => [c.file, c]));
    expect(byFile.get('tls/server.crt')!.hosts).toBe('*');
    expect(byFile.get('pki/etcd/members/k8s2etcd2/peer.crt')!.hosts).toEqual(['k8s2etcd2']);
    expect(byFile.get('pki/etcd/ca.crt')!.hosts).toEqual(['k8s2etcd1', 'k8s2etcd2', 'k8s2etcd3', 'k8s2master1']);
    expect(byFile.get('pki/apiserver-etcd-client.crt')!.issuer).toBe('CN=etcd-ca');
    expect(warnings).toEqual([]);
  });

  it('prints a table for people (soonest first) and says what it does not list; -o yaml is the same data', async () => {
    const text = await runMain(['certs', '--state', state], { cwd: ROOT });
    expect(text.code).toBe(0);
    const lines = text.out.split('\n');
    expect(lines[0]).toMatch(/^FILE +SUBJECT +HOSTS +NOT AFTER +DAYS LEFT$/);
    expect(text.out).toMatch(/^tls\/server\.crt +CN=\S+ +\(every agent\) +\d{4}-\d\d-\d\d +36[45]$/m);
    expect(text.out).toContain('kubeadm certificates: none reported yet');
    expect(text.out).toContain('not listed: the kubelet client certificates');
    const yaml = await runMain(['certs', '--state', state, '-o', 'yaml'], { cwd: ROOT });
    const json = await runMain(['certs', '--state', state, '--json'], { cwd: ROOT });
    expect(parseYaml(yaml.out)).toEqual(JSON.parse(json.out));
  });

  it('warns below 30 days, naming the file and the runbook', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 350 * 86_400_000);
    try {
      const r = await runMain(['certs', '--state', state], { cwd: ROOT });
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^WARNING: certificate tls\/server\.crt expires on \d{4}-\d\d-\d\d \(in 1[45] days\): renew it/m);
      expect(r.out).toMatch(/^WARNING: certificate pki\/etcd\/members\/k8s2etcd1\/peer\.crt expires/m);
      expect(r.out).not.toMatch(/WARNING: certificate pki\/ca\.crt/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('lists the certificates kubeadm keeps on the control planes, as their agents reported them, reading the journal without changing it', async () => {
    // A copy of the state whose journal holds a succeeded kubeadm init reporting them (what serve records).
    const copy = join(dir, 'with-records');
    cpSync(state, copy, { recursive: true });
    const journal = new JournalStore(join(copy, 'store'));
    await journal.open();
    const step = createStepRecord('k8s2master1/kubeadm-init', 'k8s2master1', 'kubeadm-init', 'plan', 1);
    const soon = Date.now() + 10.5 * 86_400_000;
    const reported = [
      { path: '/etc/kubernetes/pki/apiserver.crt', subject: 'CN=kube-apiserver', issuer: 'CN=kubernetes', serial: '1F', notAfter: soon },
      {
        path: '/etc/kubernetes/admin.conf',
        subject: 'O=kubeadm:cluster-admins, CN=kubernetes-admin',
        issuer: 'CN=kubernetes',
        serial: '20',
        notAfter: soon + 300 * 86_400_000,
      },
    ];
    // k8s2master2 joined, reported, then was removed (`kubeseed remove`): its certificates went with it.
    const gone = createStepRecord('k8s2master2/kubeadm-join-control-plane', 'k8s2master2', 'kubeadm-join-control-plane', 'plan', 2);
    await journal.commit({
      puts: [
        {
          key: `step/${step.id}`,
          value: { ...step, state: 'succeeded', attempt: 1, finishedAt: 1_700_000_000_000, results: { kubeadmCertificates: reported } },
        },
        {
          key: `step/${gone.id}`,
          value: { ...gone, state: 'succeeded', attempt: 1, finishedAt: 1_700_000_000_000, results: { kubeadmCertificates: reported } },
        },
        {
          key: 'host/k8s2master2',
          value: {
            name: 'k8s2master2',
            role: 'control-plane',
            credentialSpent: true,
            rebindAllowed: false,
            removed: true,
            awaitingApproval: false,
          },
        },
      ],
    });
    await journal.close();
    // A torn tail, as a serve killed mid-write leaves it: the reader must leave it to serve.
    const journalFile = join(copy, 'store', readdirSync(join(copy, 'store')).find((f) => f.startsWith('journal'))!);
    appendFileSync(journalFile, Buffer.from([0, 0, 0, 9, 1, 2]));
    const before = readdirSync(join(copy, 'store')).map((f) => [f, readFileSync(join(copy, 'store', f)).toString('base64')]);

    const r = await runMain(['certs', '--state', copy, '-o', 'json'], { cwd: ROOT });
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as {
      certificates: (Row & { source: string; readAt?: string })[];
      warnings: string[];
      notReported?: string;
    };
    const apiserver = out.certificates.find((c) => c.file === 'k8s2master1:/etc/kubernetes/pki/apiserver.crt');
    expect(apiserver).toMatchObject({
      source: 'kubeadm',
      subject: 'CN=kube-apiserver',
      hosts: ['k8s2master1'],
      notAfter: new Date(soon).toISOString(),
      daysLeft: 10,
      readAt: new Date(1_700_000_000_000).toISOString(),
    });
    // Soonest first: kubeadm's apiserver certificate before every state file.
    expect(out.certificates[0]?.file).toBe('k8s2master1:/etc/kubernetes/pki/apiserver.crt');
    expect(
      out.certificates
        .filter((c) => c.source === 'state')
        .map((c) => c.file)
        .sort(),
    ).toEqual(certificateFiles(state));
    expect(out.warnings).toEqual([
      expect.stringMatching(/^certificate k8s2master1:\/etc\/kubernetes\/pki\/apiserver\.crt expires on .* \(in 10 days\)/),
    ]);
    expect(out.notReported).toBeUndefined();
    expect(out.certificates.filter((c) => c.file.startsWith('k8s2master2:'))).toEqual([]);
    // Read only: every file of the store is as it was (torn tail included), no key file appeared.
    expect(readdirSync(join(copy, 'store')).map((f) => [f, readFileSync(join(copy, 'store', f)).toString('base64')])).toEqual(before);

    const text = await runMain(['certs', '--state', copy], { cwd: ROOT });
    expect(text.out).toMatch(
      /^k8s2master1:\/etc\/kubernetes\/admin\.conf +O=kubeadm:cluster-admins, CN=kubernetes-admin +k8s2master1 +\d{4}-\d\d-\d\d +310$/m,
    );
    expect(text.out).not.toContain('none reported yet');
  });

  it('an explicit --store journal directory that does not exist is refused (exit 2) and not created', async () => {
    const nowhere = join(dir, 'no-such-store');
    const r = await runMain(['certs', '--state', state, '--store', `journal:${nowhere}`], { cwd: ROOT });
    expect(r.code, r.out).toBe(2);
    expect(r.err).toContain(nowhere);
    expect(r.err).toMatch(/--store/);
    expect(existsSync(nowhere)).toBe(false);
  });

  it('a missing state directory is an error naming it', async () => {
    const r = await runMain(['certs', '--state', join(dir, 'nope')], { cwd: ROOT });
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(join(dir, 'nope'));
  });
});
