/**
 * Every certificate kubeseed generates, read back by the real `openssl`: subjects, SANs, key
 * usages, EKU, CA flags, validity and backdating, chains (`openssl verify -x509_strict`), key
 * files, and the discovery hash against the openssl pipeline kubeadm documents. Both key
 * algorithms.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { discoveryHash, mintAdminKubeconfig, signClientCertificate } from '../../../generator/pki/index.ts';
import { type EnsureStateResult, ensureState } from '../../../generator/state/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeSpec } from '../../unit/pki/fixtures.ts';

const skip = skipUnless('validators', { commands: ['openssl', 'sh', 'sha256sum'] });

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function text(file: string): string {
  return openssl(['x509', '-in', file, '-text', '-noout']);
}

/** The line after an extension's header in `openssl x509 -text`, trimmed. */
function extension(out: string, header: string): { critical: boolean; value: string } | undefined {
  const lines = out.split('\n');
  const i = lines.findIndex((l) => l.trim().startsWith(header));
  if (i < 0) return undefined;
  return { critical: lines[i]!.includes('critical'), value: lines[i + 1]!.trim() };
}

function dates(file: string): { notBefore: number; notAfter: number } {
  const out = openssl(['x509', '-in', file, '-noout', '-startdate', '-enddate']);
  const get = (key: string) => Date.parse(new RegExp(`${key}=(.*)`).exec(out)![1]!);
  return { notBefore: get('notBefore'), notAfter: get('notAfter') };
}

function verify(caFile: string, file: string): { ok: boolean; out: string } {
  const r = spawnSync('openssl', ['verify', '-x509_strict', '-CAfile', caFile, file], { encoding: 'utf8' });
  return { ok: r.status === 0 && r.stdout.trim() === `${file}: OK`, out: r.stdout + r.stderr };
}

const DAY = 86_400_000;
const CA_USAGE = 'Digital Signature, Key Encipherment, Certificate Sign';
const LEAF_USAGE = 'Digital Signature, Key Encipherment';
const SERVER_CLIENT = 'TLS Web Server Authentication, TLS Web Client Authentication';

describe.skipIf(skip).each(['RSA-2048', 'ECDSA-P256'] as const)('openssl reads the generated PKI (%s)', (keyAlgorithm) => {
  let out: string;
  let pki: string;
  let result: EnsureStateResult;
  let started: number;
  const f = (rel: string) => join(pki, rel);

  beforeAll(async () => {
    out = tempDir('ks-pki-openssl-');
    started = Date.now();
    result = await ensureState({ outDir: out, spec: makeSpec({ keyAlgorithm }), now: new Date() });
    pki = join(out, 'coordinator', 'pki');
  });
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it.each([
    ['ca.crt', 'kubernetes'],
    ['front-proxy-ca.crt', 'front-proxy-ca'],
    ['etcd/ca.crt', 'etcd-ca'],
  ])('%s is a kubeadm CA', (file, cn) => {
    const out = text(f(file));
    expect(out).toMatch(new RegExp(`Subject: CN ?= ?${cn}\\n`));
    expect(out).toMatch(new RegExp(`Issuer: CN ?= ?${cn}\\n`));
    expect(extension(out, 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:TRUE' });
    expect(extension(out, 'X509v3 Key Usage')).toEqual({ critical: true, value: CA_USAGE });
    expect(extension(out, 'X509v3 Subject Alternative Name')?.value).toBe(`DNS:${cn}`);
    expect(extension(out, 'X509v3 Extended Key Usage')).toBeUndefined();
    expect(extension(out, 'X509v3 Subject Key Identifier')).toBeDefined();
    expect(out).toContain(keyAlgorithm === 'RSA-2048' ? 'Public-Key: (2048 bit)' : 'NIST CURVE: P-256');
    expect(out).toContain(
      keyAlgorithm === 'RSA-2048' ? 'Signature Algorithm: sha256WithRSAEncryption' : 'Signature Algorithm: ecdsa-with-SHA256',
    );
    const { notBefore, notAfter } = dates(f(file));
    // Backdated one hour (UTCTime has second precision).
    expect(started - notBefore).toBeGreaterThanOrEqual(3600_000 - 1000);
    expect(started - notBefore).toBeLessThan(3600_000 + 60_000);
    expect(Math.round((notAfter - notBefore) / DAY)).toBe(3650);
    expect(verify(f(file), f(file)).ok).toBe(true);
  });

  it('etcd member server and peer certificates: CN = member, kubeadm SANs, server+client EKU, chain to etcd-ca', () => {
    for (const host of ['etcd1', 'etcd2', 'etcd3']) {
      const n = Number(host.slice(-1));
      for (const kind of ['server', 'peer']) {
        const file = f(`etcd/members/${host}/${kind}.crt`);
        const out = text(file);
        expect(out).toMatch(new RegExp(`Subject: CN ?= ?${host}\\n`));
        expect(out).toMatch(/Issuer: CN ?= ?etcd-ca\n/);
        expect(extension(out, 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:FALSE' });
        expect(extension(out, 'X509v3 Key Usage')).toEqual({ critical: true, value: LEAF_USAGE });
        expect(extension(out, 'X509v3 Extended Key Usage')?.value).toBe(SERVER_CLIENT);
        expect(extension(out, 'X509v3 Subject Alternative Name')?.value).toBe(
          `DNS:${host}, DNS:${host}.kloud.lan, DNS:localhost, IP Address:10.101.1.${20 + n}, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`,
        );
        expect(extension(out, 'X509v3 Authority Key Identifier')).toBeDefined();
        const { notBefore, notAfter } = dates(file);
        expect(started - notBefore).toBeGreaterThanOrEqual(3600_000 - 1000);
        expect(started - notBefore).toBeLessThan(3600_000 + 60_000);
        expect(Math.round((notAfter - notBefore) / DAY)).toBe(365);
        const chain = verify(f('etcd/ca.crt'), file);
        expect(chain.ok, chain.out).toBe(true);
        // …and not by the cluster CA: the check can fail.
        expect(verify(f('ca.crt'), file).ok).toBe(false);
      }
    }
  });

  it('client certificates: healthcheck-client and apiserver-etcd-client without an organisation', () => {
    for (const [file, cn] of [
      ['etcd/members/etcd1/healthcheck-client.crt', 'kube-etcd-healthcheck-client'],
      ['apiserver-etcd-client.crt', 'kube-apiserver-etcd-client'],
    ] as const) {
      const out = text(f(file));
      expect(out).toMatch(new RegExp(`Subject: CN ?= ?${cn}\\n`));
      expect(out).not.toMatch(/Subject: .*O ?=/);
      expect(extension(out, 'X509v3 Extended Key Usage')?.value).toBe('TLS Web Client Authentication');
      expect(extension(out, 'X509v3 Key Usage')).toEqual({ critical: true, value: LEAF_USAGE });
      expect(extension(out, 'X509v3 Subject Alternative Name')).toBeUndefined();
      expect(verify(f('etcd/ca.crt'), f(file)).ok).toBe(true);
    }
  });

  it('every private key is readable and matches its certificate; sa.pub is sa.key’s public key', () => {
    const pairs = [
      'ca',
      'front-proxy-ca',
      'etcd/ca',
      'apiserver-etcd-client',
      ...['etcd1', 'etcd2', 'etcd3'].flatMap((h) => ['server', 'peer', 'healthcheck-client'].map((k) => `etcd/members/${h}/${k}`)),
    ];
    for (const base of pairs) {
      const fromKey = openssl(['pkey', '-in', f(`${base}.key`), '-pubout']);
      const fromCert = openssl(['x509', '-in', f(`${base}.crt`), '-noout', '-pubkey']);
      expect({ base, same: fromKey === fromCert }).toEqual({ base, same: true });
    }
    expect(openssl(['pkey', '-in', f('sa.key'), '-pubout'])).toBe(openssl(['pkey', '-pubin', '-in', f('sa.pub'), '-pubout']));
    const header = keyAlgorithm === 'RSA-2048' ? 'RSA PRIVATE KEY' : 'EC PRIVATE KEY';
    expect(result.state.pki.sa.key).toContain(`BEGIN ${header}`);
  });

  it('the discovery hash equals the openssl pipeline (x509 -pubkey | pkey -pubin -outform der | sha256sum)', () => {
    const pipeline = execFileSync(
      'sh',
      ['-c', 'openssl x509 -pubkey -noout -in "$1" | openssl pkey -pubin -outform der | sha256sum', 'sh', f('ca.crt')],
      {
        encoding: 'utf8',
      },
    );
    const hex = pipeline.split(' ')[0]!;
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(discoveryHash(result.state.pki.ca.cert)).toBe(`sha256:${hex}`);
    expect(discoveryHash(result.state.pki.etcdCa.cert)).not.toBe(`sha256:${hex}`);
  });

  it('coordinator TLS: ECDSA CA and server certificate for the URL host, verified for that IP', () => {
    const tls = join(out, 'coordinator', 'tls');
    const out1 = text(join(tls, 'server.crt'));
    expect(out1).toContain('NIST CURVE: P-256');
    expect(extension(out1, 'X509v3 Extended Key Usage')?.value).toBe('TLS Web Server Authentication');
    expect(extension(out1, 'X509v3 Subject Alternative Name')?.value).toBe(
      'DNS:localhost, IP Address:10.101.1.5, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(extension(text(join(tls, 'ca.crt')), 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:TRUE' });
    const ok = spawnSync(
      'openssl',
      [
        'verify',
        '-x509_strict',
        '-purpose',
        'sslserver',
        '-verify_ip',
        '10.101.1.5',
        '-CAfile',
        join(tls, 'ca.crt'),
        join(tls, 'server.crt'),
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    const wrongIp = spawnSync('openssl', ['verify', '-verify_ip', '10.101.1.6', '-CAfile', join(tls, 'ca.crt'), join(tls, 'server.crt')], {
      encoding: 'utf8',
    });
    expect(wrongIp.status).not.toBe(0);
  });

  it('client certificates and the admin kubeconfig chain to the cluster CA', async () => {
    const client = signClientCertificate({
      ca: result.state.pki.ca,
      commonName: 'kubeseed-coordinator',
      organizations: ['kubeadm:cluster-admins'],
      validitySeconds: 600,
      now: new Date(),
    });
    await writeFile(join(out, 'client.crt'), client.cert);
    const out1 = text(join(out, 'client.crt'));
    expect(out1).toMatch(/Subject: O ?= ?kubeadm:cluster-admins, CN ?= ?kubeseed-coordinator\n/);
    expect(verify(f('ca.crt'), join(out, 'client.crt')).ok).toBe(true);
    const kubeconfig = parse(mintAdminKubeconfig({ state: result.state, spec: makeSpec({ keyAlgorithm }), now: new Date() }));
    await writeFile(join(out, 'admin.crt'), Buffer.from(kubeconfig.users[0].user['client-certificate-data'], 'base64'));
    expect(text(join(out, 'admin.crt'))).toMatch(/Subject: O ?= ?kubeadm:cluster-admins, CN ?= ?kubernetes-admin\n/);
    expect(verify(f('ca.crt'), join(out, 'admin.crt')).ok).toBe(true);
  });
});
