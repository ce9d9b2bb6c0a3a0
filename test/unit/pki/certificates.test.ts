import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import {
  type ClusterPki,
  certificateMatchesAltNames,
  clientSubjectsFor,
  coordinatorAltNames,
  discoveryHash,
  generateClusterPki,
  generateCoordinatorTls,
  mintAdminKubeconfig,
  signClientCertificate,
} from '../../../generator/pki/index.ts';
import { withVersionRow } from '../../support/version-row.ts';
import { makeSpec } from './fixtures.ts';

const NOW = new Date('2026-11-22T08:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;

function x509(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

function checkChain(leafPem: string, caPem: string): void {
  const leaf = x509(leafPem);
  const ca = x509(caPem);
  expect(leaf.checkIssued(ca)).toBe(true);
  expect(leaf.verify(ca.publicKey)).toBe(true);
}

function keyMatches(certPem: string, keyPem: string): boolean {
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  return Buffer.compare(fromKey, x509(certPem).publicKey.export({ type: 'spki', format: 'der' })) === 0;
}

describe.each(['ECDSA-P256', 'RSA-2048'] as const)('cluster PKI (%s)', (keyAlgorithm) => {
  let pki: ClusterPki;
  beforeAll(async () => {
    pki = await generateClusterPki({ spec: makeSpec({ keyAlgorithm }), now: NOW });
  });

  it('has the four shared CAs/keys with kubeadm’s CA profile, backdated one hour, 10 years', () => {
    for (const [pair, cn] of [
      [pki.ca, 'kubernetes'],
      [pki.frontProxyCa, 'front-proxy-ca'],
      [pki.etcdCa, 'etcd-ca'],
    ] as const) {
      const cert = x509(pair.cert);
      expect(cert.subject).toBe(`CN=${cn}`);
      expect(cert.issuer).toBe(`CN=${cn}`);
      expect(cert.ca).toBe(true);
      expect(cert.subjectAltName).toBe(`DNS:${cn}`);
      expect(cert.keyUsage ?? []).toEqual([]); // Node lists EKU here: CAs carry none
      expect(cert.verify(cert.publicKey)).toBe(true);
      expect(new Date(cert.validFrom).getTime()).toBe(NOW.getTime() - HOUR);
      expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + 3650 * DAY);
      expect(keyMatches(pair.cert, pair.key)).toBe(true);
      expect(cert.publicKey.asymmetricKeyType).toBe(keyAlgorithm === 'RSA-2048' ? 'rsa' : 'ec');
    }
  });

  it('writes keys the way kubeadm does: PKCS#1 / SEC1 private keys, PKIX sa.pub', () => {
    const header = keyAlgorithm === 'RSA-2048' ? '-----BEGIN RSA PRIVATE KEY-----' : '-----BEGIN EC PRIVATE KEY-----';
    expect(pki.ca.key.startsWith(header)).toBe(true);
    expect(pki.sa.key.startsWith(header)).toBe(true);
    expect(pki.sa.pub.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
    const derived = createPublicKey(createPrivateKey(pki.sa.key)).export({ type: 'spki', format: 'pem' }).toString();
    expect(derived).toBe(pki.sa.pub);
    if (keyAlgorithm === 'RSA-2048') expect(createPrivateKey(pki.ca.key).asymmetricKeyDetails?.modulusLength).toBe(2048);
    else expect(createPrivateKey(pki.ca.key).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('issues per-member etcd server/peer/healthcheck certificates with kubeadm’s SANs, signed by etcd-ca', () => {
    expect(Object.keys(pki.etcdMembers)).toEqual(['etcd1', 'etcd2', 'etcd3']);
    const member = pki.etcdMembers.etcd2!;
    for (const pair of [member.server, member.peer]) {
      const cert = x509(pair.cert);
      expect(cert.subject).toBe('CN=etcd2');
      expect(cert.issuer).toBe('CN=etcd-ca');
      expect(cert.ca).toBe(false);
      expect(cert.subjectAltName).toBe(
        'DNS:etcd2, DNS:etcd2.kloud.lan, DNS:localhost, IP Address:10.101.1.22, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
      );
      expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      expect(new Date(cert.validFrom).getTime()).toBe(NOW.getTime() - HOUR);
      expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + 365 * DAY);
      checkChain(pair.cert, pki.etcdCa.cert);
      expect(keyMatches(pair.cert, pair.key)).toBe(true);
    }
    const health = x509(member.healthcheckClient.cert);
    expect(health.subject).toBe('CN=kube-etcd-healthcheck-client');
    expect(health.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(health.subjectAltName).toBeUndefined();
    checkChain(member.healthcheckClient.cert, pki.etcdCa.cert);
    // Each member has its own keys.
    expect(pki.etcdMembers.etcd1!.server.key).not.toBe(member.server.key);
    expect(member.server.key).not.toBe(member.peer.key);
  });

  it('issues apiserver-etcd-client without an organisation on 1.29+', () => {
    const client = x509(pki.apiserverEtcdClient!.cert);
    expect(client.subject).toBe('CN=kube-apiserver-etcd-client');
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    checkChain(pki.apiserverEtcdClient!.cert, pki.etcdCa.cert);
  });

  it('gives every certificate a distinct positive random serial', () => {
    const certs = [
      pki.ca,
      pki.frontProxyCa,
      pki.etcdCa,
      pki.apiserverEtcdClient!,
      ...Object.values(pki.etcdMembers).flatMap((m) => [m.server, m.peer, m.healthcheckClient]),
    ];
    const serials = certs.map((p) => x509(p.cert).serialNumber);
    expect(new Set(serials).size).toBe(serials.length);
    for (const s of serials) {
      expect(s).toMatch(/^[0-9A-F]{32}$/);
      expect(Number.parseInt(s.slice(0, 2), 16)).toBeGreaterThanOrEqual(0x40);
      expect(Number.parseInt(s.slice(0, 2), 16)).toBeLessThan(0x80);
    }
  });

  it('computes the discovery hash over the CA’s DER SubjectPublicKeyInfo', () => {
    const spki = x509(pki.ca.cert).publicKey.export({ type: 'spki', format: 'der' });
    expect(discoveryHash(pki.ca.cert)).toBe(`sha256:${createHash('sha256').update(spki).digest('hex')}`);
    expect(discoveryHash(pki.ca.cert)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(discoveryHash(pki.etcdCa.cert)).not.toBe(discoveryHash(pki.ca.cert));
  });
});

describe('topology and version dependence', () => {
  it('stacked topology has no etcd member or apiserver-etcd-client certificates', async () => {
    const pki = await generateClusterPki({ spec: makeSpec({ topology: 'stacked' }), now: NOW });
    expect(pki.etcdMembers).toEqual({});
    expect(pki.apiserverEtcdClient).toBeUndefined();
    expect(x509(pki.etcdCa.cert).subject).toBe('CN=etcd-ca');
  });

  it('takes the client subjects from the version table', async () => {
    expect(clientSubjectsFor(37).apiserverEtcdClient.organizations).toEqual([]);
    expect(clientSubjectsFor(37).etcdHealthcheckClient.organizations).toEqual([]);
    expect(clientSubjectsFor(37).admin).toEqual({ commonName: 'kubernetes-admin', organizations: ['kubeadm:cluster-admins'] });
    expect(clientSubjectsFor(37).coordinator).toEqual({ commonName: 'kubeseed-coordinator', organizations: ['kubeadm:cluster-admins'] });
    // A row with kubeadm's subjects before 1.29 (etcd clients and admins in system:masters) changes the certificates.
    const old = await withVersionRow(37, { adminGroup: 'system:masters', etcdClientGroups: ['system:masters'] }, async () => {
      expect(clientSubjectsFor(37).coordinator.organizations).toEqual(['system:masters']);
      return generateClusterPki({ spec: makeSpec({ kubernetesMinor: 37 }), now: NOW });
    });
    expect(x509(old.apiserverEtcdClient!.cert).subject).toBe('O=system:masters\nCN=kube-apiserver-etcd-client');
    expect(x509(old.etcdMembers.etcd1!.healthcheckClient.cert).subject).toBe('O=system:masters\nCN=kube-etcd-healthcheck-client');
  });

  it('member SANs leave out what the host does not have', async () => {
    const spec = makeSpec();
    spec.hosts[0] = { ...spec.hosts[0]!, fqdn: undefined };
    const pki = await generateClusterPki({ spec, now: NOW });
    expect(x509(pki.etcdMembers.etcd1!.server.cert).subjectAltName).toBe(
      'DNS:etcd1, DNS:localhost, IP Address:10.101.1.21, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
  });
});

describe('coordinator TLS', () => {
  it('covers an IP URL plus loopback, ECDSA P-256, signed by its own CA', async () => {
    const tls = await generateCoordinatorTls({ url: 'https://10.101.1.5:9443', now: NOW });
    const server = x509(tls.server.cert);
    expect(server.subjectAltName).toBe('DNS:localhost, IP Address:10.101.1.5, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x509(tls.ca.cert).subject).toBe('CN=kubeseed-coordinator-ca');
    expect(x509(tls.ca.cert).ca).toBe(true);
    checkChain(tls.server.cert, tls.ca.cert);
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('10.101.1.5')).toBe('10.101.1.5');
  });

  it('names every replica of the coordinator (spec.coordinator.replicaUrls): one certificate serves them all', async () => {
    const replicas = ['https://10.101.1.6:9443', 'https://seed-3.kloud.lan:9443'];
    const tls = await generateCoordinatorTls({ url: 'https://10.101.1.5:9443', replicaUrls: replicas, now: NOW });
    const server = x509(tls.server.cert);
    expect(server.subject).toBe('CN=10.101.1.5');
    for (const ip of ['10.101.1.5', '10.101.1.6']) expect(server.checkIP(ip)).toBe(ip);
    expect(server.checkHost('seed-3.kloud.lan')).toBe('seed-3.kloud.lan');
    // A replica added later does not match the old certificate: `generate` re-issues it.
    expect(certificateMatchesAltNames(tls.server.cert, coordinatorAltNames('https://10.101.1.5:9443', replicas))).toBe(true);
    expect(
      certificateMatchesAltNames(tls.server.cert, coordinatorAltNames('https://10.101.1.5:9443', [...replicas, 'https://10.101.1.7:9443'])),
    ).toBe(false);
    expect(() => coordinatorAltNames('https://10.101.1.5:9443', ['nope'])).toThrow('spec.coordinator.replicaUrls[0]: "nope" is not a URL');
  });

  it('recognises its own SANs in any IPv6 spelling, and a change', async () => {
    const tls = await generateCoordinatorTls({ url: 'https://[2001:db8:0:0:1::a]:9443', now: NOW });
    expect(certificateMatchesAltNames(tls.server.cert, coordinatorAltNames('https://[2001:DB8::1:0:0:a]:9443'))).toBe(true);
    expect(certificateMatchesAltNames(tls.server.cert, coordinatorAltNames('https://[2001:db8::1:0:0:b]:9443'))).toBe(false);
    expect(certificateMatchesAltNames(tls.server.cert, coordinatorAltNames('https://seed:9443'))).toBe(false);
  });

  it('covers a DNS name and an IPv6 literal', () => {
    expect(coordinatorAltNames('https://seed.kloud.lan:9443')).toEqual({
      commonName: 'seed.kloud.lan',
      dnsNames: ['seed.kloud.lan', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    expect(coordinatorAltNames('https://[fd00::5]:9443').ipAddresses).toEqual(['fd00::5', '127.0.0.1', '::1']);
    expect(() => coordinatorAltNames('not a url')).toThrow(/spec.coordinator.url/);
  });
});

describe('client certificates and the admin kubeconfig', () => {
  let pki: ClusterPki;
  beforeAll(async () => {
    pki = await generateClusterPki({ spec: makeSpec({ topology: 'stacked', keyAlgorithm: 'RSA-2048' }), now: NOW });
  });

  it('signs short-lived client certificates from the cluster CA', () => {
    const client = signClientCertificate({
      ca: pki.ca,
      commonName: 'kubeseed-coordinator',
      organizations: ['kubeadm:cluster-admins'],
      validitySeconds: 600,
      now: NOW,
    });
    const cert = x509(client.cert);
    expect(cert.subject).toBe('O=kubeadm:cluster-admins\nCN=kubeseed-coordinator');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + 600_000);
    expect(new Date(cert.validFrom).getTime()).toBe(NOW.getTime() - HOUR);
    checkChain(client.cert, pki.ca.cert);
    expect(keyMatches(client.cert, client.key)).toBe(true);
  });

  it('mints an admin kubeconfig with the version table’s organisation, the endpoint and the embedded CA', async () => {
    const spec = makeSpec({ topology: 'stacked' });
    const text = mintAdminKubeconfig({ state: { pki }, spec, now: NOW });
    const doc = parse(text);
    expect(doc.kind).toBe('Config');
    expect(doc.clusters[0].name).toBe('k8s1-cluster');
    expect(doc.clusters[0].cluster.server).toBe('https://k8s1api.kloud.lan:6443');
    expect(Buffer.from(doc.clusters[0].cluster['certificate-authority-data'], 'base64').toString()).toBe(pki.ca.cert);
    expect(doc['current-context']).toBe('kubernetes-admin@k8s1-cluster');
    expect(doc.contexts[0].context).toEqual({ cluster: 'k8s1-cluster', user: 'kubernetes-admin' });
    const certPem = Buffer.from(doc.users[0].user['client-certificate-data'], 'base64').toString();
    const keyPem = Buffer.from(doc.users[0].user['client-key-data'], 'base64').toString();
    expect(x509(certPem).subject).toBe('O=kubeadm:cluster-admins\nCN=kubernetes-admin');
    checkChain(certPem, pki.ca.cert);
    expect(keyMatches(certPem, keyPem)).toBe(true);
    const old = parse(
      await withVersionRow(37, { adminGroup: 'system:masters' }, () => mintAdminKubeconfig({ state: { pki }, spec, now: NOW })),
    );
    expect(x509(Buffer.from(old.users[0].user['client-certificate-data'], 'base64').toString()).subject).toBe(
      'O=system:masters\nCN=kubernetes-admin',
    );
  });
});

describe('key generation', () => {
  it('never uses node-forge to make or sign keys (its pure-JS paths take seconds)', async () => {
    const keygen = vi.spyOn(forge.pki.rsa, 'generateKeyPair');
    const sign = vi.spyOn(forge.pki, 'createCertificate');
    try {
      const pki = await generateClusterPki({ spec: makeSpec({ keyAlgorithm: 'RSA-2048' }), now: NOW });
      expect(x509(pki.ca.cert).verify(x509(pki.ca.cert).publicKey)).toBe(true);
      expect(keygen).not.toHaveBeenCalled();
      // forge only holds extensions for encoding; no forge certificate is ever signed.
      for (const result of sign.mock.results) expect((result.value as forge.pki.Certificate).signature ?? null).toBeNull();
    } finally {
      keygen.mockRestore();
      sign.mockRestore();
    }
    expect((forge as unknown as { options: { usePureJavaScript?: boolean } }).options.usePureJavaScript).toBeFalsy();
  });
});
