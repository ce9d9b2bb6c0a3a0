/**
 * Certificate expiry in the status projection: which certificates each host receives (from its
 * planned steps' secret kinds), their notAfter read once from real PEMs, the earliest per host
 * and overall in `Coordinator.status()`, and the warning text below 30 days.
 */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CertKeyPem, generateCertificateAuthority, signClientCertificate } from '../../../generator/pki/index.ts';
import type { PkiFileName } from '../../../generator/plan/types.ts';
import { reportedCertificates, summarizeExpiry, trackedCertificates } from '../../../server/certificates.ts';
import { Coordinator } from '../../../server/coordinator.ts';
import { certificateWarning } from '../../../server/model.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from '../server/fixtures.ts';
import { createAgent, enrollBody, FakeClock, FakeKubernetes, makeInputs } from '../server/support.ts';

const DAY = 86_400_000;
const NOW = new Date('2026-12-01T00:00:00Z');

let ca: CertKeyPem;
const pems = new Map<string, string>();
/** A real certificate valid for `days` from NOW (whole seconds, as the generator writes them). */
function cert(days: number): string {
  return signClientCertificate({ ca, commonName: `c${days}`, validitySeconds: days * 86_400, now: NOW }).cert;
}
const at = (days: number) => NOW.getTime() + days * DAY;

beforeAll(async () => {
  ca = await generateCertificateAuthority('test-ca', 'ECDSA-P256', NOW);
  // Distinct lifetimes, so the test sees which file wins where.
  const days: Record<string, number> = {
    'ca.crt': 3650,
    'front-proxy-ca.crt': 3640,
    'etcd/ca.crt': 3630,
    'apiserver-etcd-client.crt': 300,
    'etcd/server.crt|etcd1': 200,
    'etcd/peer.crt|etcd1': 20,
    'etcd/healthcheck-client.crt|etcd1': 365,
    'etcd/server.crt|etcd2': 365,
    'etcd/peer.crt|etcd2': 365,
    'etcd/healthcheck-client.crt|etcd2': 365,
    'etcd/server.crt|etcd3': 365,
    'etcd/peer.crt|etcd3': 365,
    'etcd/healthcheck-client.crt|etcd3': 100,
    'tls/server.crt': 250,
    'tls/ca.crt': 3650,
  };
  for (const [k, d] of Object.entries(days)) pems.set(k, cert(d));
});

const pkiFile = (name: PkiFileName, host?: string) => {
  const pem = pems.get(host ? `${name}|${host}` : name);
  if (!pem) throw new Error(`no ${name} for ${host ?? 'the cluster'}`);
  return pem;
};
/** The serial node reads from the fixture's PEM (hex, as openssl prints it). */
const serialOf = (file: string) => new X509Certificate(pems.get(file)!).serialNumber;
const tls = () => ({ cert: pems.get('tls/server.crt')!, ca: pems.get('tls/ca.crt')! });

describe('trackedCertificates', () => {
  it('lists what each host receives, by its steps, and the coordinator TLS for everyone', () => {
    const plan = makePlan({ topology: 'external-etcd' });
    // The fixture's external plan gives control planes the shared PKI; the real plan adds apiserver-etcd-client.
    for (const s of plan.steps) if (s.secrets.includes('shared-pki')) s.secrets.push('apiserver-etcd-client');
    const certs = trackedCertificates(plan, pkiFile, tls());
    const byFile = new Map(certs.map((c) => [c.file, c]));
    expect(byFile.get('tls/server.crt')).toEqual({
      file: 'tls/server.crt',
      notAfter: at(250),
      hosts: '*',
      subject: 'CN=c250',
      issuer: 'CN=test-ca',
      serial: serialOf('tls/server.crt'),
    });
    expect(byFile.get('pki/ca.crt')!.hosts).toEqual(['cp1', 'cp2', 'cp3']);
    expect(byFile.get('pki/apiserver-etcd-client.crt')).toEqual({
      file: 'pki/apiserver-etcd-client.crt',
      notAfter: at(300),
      hosts: ['cp1', 'cp2', 'cp3'],
      subject: 'CN=c300',
      issuer: 'CN=test-ca',
      serial: serialOf('apiserver-etcd-client.crt'),
    });
    expect(byFile.get('pki/etcd/ca.crt')!.hosts).toEqual(['cp1', 'cp2', 'cp3', 'etcd1', 'etcd2', 'etcd3']);
    expect(byFile.get('pki/etcd/members/etcd1/peer.crt')).toEqual({
      file: 'pki/etcd/members/etcd1/peer.crt',
      notAfter: at(20),
      hosts: ['etcd1'],
      subject: 'CN=c20',
      issuer: 'CN=test-ca',
      serial: serialOf('etcd/peer.crt|etcd1'),
    });
    expect(byFile.get('pki/etcd/members/etcd3/healthcheck-client.crt')!.notAfter).toBe(at(100));
    // Workers and LB hosts receive no certificate; nothing lists them.
    expect(certs.some((c) => c.hosts !== '*' && c.hosts.some((h) => h.startsWith('w') || h.startsWith('lb')))).toBe(false);
  });

  it('names the file when a certificate cannot be read', () => {
    const plan = makePlan({ topology: 'stacked' });
    expect(() => trackedCertificates(plan, pkiFile, { ...tls(), cert: 'not a certificate' })).toThrow(
      /tls\/server\.crt .*re-run kubeseed generate/,
    );
  });
});

describe('summarizeExpiry', () => {
  it('gives the earliest per host among its own certificates, and overall with the coordinator TLS', () => {
    const plan = makePlan({ topology: 'external-etcd' });
    const { overall, byHost } = summarizeExpiry(trackedCertificates(plan, pkiFile, tls()));
    expect(overall).toEqual({ file: 'pki/etcd/members/etcd1/peer.crt', notAfter: at(20) });
    expect(byHost.get('etcd1')).toEqual({ file: 'pki/etcd/members/etcd1/peer.crt', notAfter: at(20) });
    expect(byHost.get('etcd3')).toEqual({ file: 'pki/etcd/members/etcd3/healthcheck-client.crt', notAfter: at(100) });
    // The fixture plan hands control planes only the shared PKI (CAs): the front-proxy CA ends first.
    expect(byHost.get('cp1')).toEqual({ file: 'pki/front-proxy-ca.crt', notAfter: at(3640) });
    expect(byHost.has('w1')).toBe(false);
    expect(summarizeExpiry([])).toEqual({ overall: null, byHost: new Map() });
  });
});

describe('Coordinator.status() carries the expiry computed when it was built', () => {
  it('per host and overall; hosts without certificates carry none', () => {
    const plan = makePlan({ topology: 'external-etcd' });
    const certificates = trackedCertificates(plan, pkiFile, tls());
    const coordinator = new Coordinator(makeInputs(plan, { clock: new FakeClock(), certificates }), {
      store: new MemoryStore(),
    });
    const status = coordinator.status();
    expect(status.certificateExpiry).toEqual({ file: 'pki/etcd/members/etcd1/peer.crt', notAfter: at(20) });
    const host = (name: string) => status.hosts.find((h) => h.name === name)!;
    expect(host('etcd3').certificateExpiry).toEqual({ file: 'pki/etcd/members/etcd3/healthcheck-client.crt', notAfter: at(100) });
    expect(host('cp2').certificateExpiry).toEqual({ file: 'pki/front-proxy-ca.crt', notAfter: at(3640) });
    expect(host('w1').certificateExpiry).toBeUndefined();
    expect(JSON.parse(JSON.stringify(status)).certificateExpiry.notAfter).toBe(at(20));
  });

  it('without certificate facts (inputs built by hand) the projection says nothing about expiry', () => {
    const coordinator = new Coordinator(makeInputs(makePlan()), { store: new MemoryStore() });
    expect(coordinator.status().certificateExpiry).toBeUndefined();
  });
});

describe('the certificates kubeadm keeps on the control planes, as their agents reported them', () => {
  const kubeadmCert = (path: string, days: number) => ({
    path,
    subject: `CN=${path}`,
    issuer: 'CN=kubernetes',
    serial: '0A',
    notAfter: at(days),
  });

  it("join the state directory's in status(): the earliest per host and overall, named by host and path; a removed host's are gone", async () => {
    const plan = makePlan({ topology: 'external-etcd' });
    const certificates = trackedCertificates(plan, pkiFile, tls());
    const c = new Coordinator(makeInputs(plan, { clock: new FakeClock(NOW.getTime()), certificates }), {
      store: new MemoryStore(),
      kubernetes: new FakeKubernetes(),
    });
    await c.start();
    for (const [i, host] of ['cp1', 'lb1', 'lb2', 'etcd1', 'etcd2', 'etcd3'].entries())
      await c.enroll(enrollBody(createAgent(host, i)), '127.0.0.1');
    const results = { etcdVoter: true, nodeRegistered: true, apiServerReady: true, etcdHealthy: true, vipHeld: true, portOpen: true };
    // Run every released step until cp1's kubeadm init, which reports kubeadm's certificates.
    for (let round = 0; round < 20; round++) {
      let released = false;
      for (const host of ['lb1', 'lb2', 'etcd1', 'etcd2', 'etcd3', 'cp1']) {
        const step = (await c.next(host, 0))?.step;
        if (!step) continue;
        released = true;
        const init = step.kind === 'kubeadm-init';
        await c.report(host, {
          stepId: step.id,
          attempt: step.attempt,
          outcome: 'succeeded',
          logTail: '',
          startedAt: 0,
          results: init
            ? {
                ...results,
                kubeadmCertificates: [kubeadmCert('/etc/kubernetes/pki/apiserver.crt', 10), kubeadmCert('/etc/kubernetes/admin.conf', 365)],
              }
            : results,
        });
        if (init) round = 20;
      }
      if (!released) break;
    }
    const status = c.status();
    const cp1 = status.hosts.find((h) => h.name === 'cp1')!;
    expect(cp1.certificateExpiry).toEqual({ file: 'cp1:/etc/kubernetes/pki/apiserver.crt', notAfter: at(10) });
    // Sooner than the state directory's earliest (etcd1's peer certificate, 20 days).
    expect(status.certificateExpiry).toEqual({ file: 'cp1:/etc/kubernetes/pki/apiserver.crt', notAfter: at(10) });
    expect(status.hosts.find((h) => h.name === 'cp2')!.certificateExpiry).toEqual({ file: 'pki/front-proxy-ca.crt', notAfter: at(3640) });
    expect(certificateWarning(cp1.certificateExpiry, NOW.getTime())).toBe(
      'certificate cp1:/etc/kubernetes/pki/apiserver.crt expires on 2026-12-11 (in 10 days): renew it (docs/pki.md, "Renewing certificates")',
    );
    // `kubeseed remove cp1`: its certificates are gone with it.
    await c.remove('cp1');
    const after = c.status();
    expect(after.hosts.find((h) => h.name === 'cp1')!.certificateExpiry).toEqual({ file: 'pki/front-proxy-ca.crt', notAfter: at(3640) });
    expect(after.certificateExpiry).toEqual({ file: 'pki/etcd/members/etcd1/peer.crt', notAfter: at(20) });
    c.stop();
  });

  it("take each host's newest succeeded report; failed steps and steps without them say nothing", () => {
    const step = (host: string, state: 'succeeded' | 'failed', finishedAt: number, days?: number) => ({
      host,
      state,
      finishedAt,
      results: days === undefined ? {} : { kubeadmCertificates: [kubeadmCert('/etc/kubernetes/pki/apiserver.crt', days)] },
    });
    const rows = reportedCertificates([
      step('cp2', 'succeeded', 5, 300),
      step('cp1', 'succeeded', 1, 100),
      step('cp1', 'succeeded', 3, 365),
      step('cp1', 'failed', 4, 1),
      step('cp1', 'succeeded', 9),
    ]);
    expect(rows.map((r) => [r.file, r.hosts, r.notAfter, r.readAt])).toEqual([
      ['cp1:/etc/kubernetes/pki/apiserver.crt', ['cp1'], at(365), 3],
      ['cp2:/etc/kubernetes/pki/apiserver.crt', ['cp2'], at(300), 5],
    ]);
  });
});

describe('certificateWarning', () => {
  const e = { file: 'pki/etcd/members/etcd1/peer.crt', notAfter: at(20) };
  it('is silent with 30 days or more left', () => {
    expect(certificateWarning({ ...e, notAfter: at(30) }, NOW.getTime())).toBeNull();
    expect(certificateWarning(null, NOW.getTime())).toBeNull();
  });
  it('names the file, the date and the days left below 30 days', () => {
    expect(certificateWarning(e, NOW.getTime())).toBe(
      'certificate pki/etcd/members/etcd1/peer.crt expires on 2026-12-21 (in 20 days): renew it (docs/pki.md, "Renewing certificates")',
    );
    expect(certificateWarning({ ...e, notAfter: at(29.99) }, NOW.getTime())).toContain('(in 29 days)');
    expect(certificateWarning({ ...e, notAfter: at(0.5) }, NOW.getTime())).toContain('(within a day)');
  });
  it('says EXPIRED once past', () => {
    expect(certificateWarning({ ...e, notAfter: at(-1) }, NOW.getTime())).toBe(
      'certificate pki/etcd/members/etcd1/peer.crt EXPIRED on 2026-11-30: renew it now (docs/pki.md, "Renewing certificates")',
    );
  });
});
