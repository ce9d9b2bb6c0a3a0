/**
 * The kubeadm shared PKI (ca, sa, front-proxy-ca, etcd/ca) and, for external etcd, the member
 * and client certificates that kubeadm's HA-etcd procedure would otherwise make on host0
 * (kubeadm.md §3, §4.1). Every key of one call is generated concurrently across the cores.
 * Values are PEM strings: plain data, serialized by generator/state.
 */
import type { ClusterSpec, HostSpec, KeyAlgorithm } from '../spec/types.ts';
import { certificateDerOf, issueCertificate, type SigningAuthority } from './certificate.ts';
import { exportPrivateKeyPem, exportPublicKeyPem, generateKeyPair, generateKeyPairs, type KeyPair, parsePrivateKeyPem } from './keys.ts';
import { CA_COMMON_NAMES, caProfile, clientProfile, clientSubjectsFor, serverProfile } from './subjects.ts';

/** A certificate and its private key, both PEM. */
export interface CertKeyPem {
  cert: string;
  key: string;
}

export interface EtcdMemberPki {
  server: CertKeyPem;
  peer: CertKeyPem;
  healthcheckClient: CertKeyPem;
}

export interface ClusterPki {
  keyAlgorithm: KeyAlgorithm;
  ca: CertKeyPem;
  frontProxyCa: CertKeyPem;
  etcdCa: CertKeyPem;
  /** The service-account signing key pair: `sa.key` (private key PEM), `sa.pub` (PUBLIC KEY PEM). */
  sa: { key: string; pub: string };
  /** External etcd only. */
  apiserverEtcdClient?: CertKeyPem;
  /** External etcd only: host name → its member certificates. */
  etcdMembers: Record<string, EtcdMemberPki>;
}

/** The hosts that get etcd member certificates: the `etcd` hosts of an external-etcd spec. */
export function listEtcdMembers(spec: Pick<ClusterSpec, 'topology' | 'hosts'>): HostSpec[] {
  return spec.topology === 'external-etcd' ? spec.hosts.filter((h) => h.role === 'etcd') : [];
}

/** kubeadm's etcd server/peer SANs: name, FQDN, `localhost`; the member's address, 127.0.0.1, ::1. */
export function etcdMemberAltNames(host: Pick<HostSpec, 'name' | 'fqdn' | 'address'>): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames = unique([host.name, host.fqdn, 'localhost']);
  const ipAddresses = unique([host.address?.ip, '127.0.0.1', '::1']);
  return { dnsNames, ipAddresses };
}

/** The signing side of a CA from its PEMs. */
export function toSigningAuthority(ca: CertKeyPem, what: string): SigningAuthority {
  return { certificateDer: certificateDerOf(ca.cert, `${what} certificate`), privateKey: parsePrivateKeyPem(ca.key, `${what} key`) };
}

/** A self-signed CA as kubeadm makes it (see `caProfile`). */
export function createCertificateAuthority(commonName: string, keys: KeyPair, now: Date): CertKeyPem {
  const cert = issueCertificate({ profile: caProfile(commonName, now), publicKey: keys.publicKey, selfSigningKey: keys.privateKey });
  return { cert: cert.pem, key: exportPrivateKeyPem(keys.privateKey) };
}

export async function generateCertificateAuthority(commonName: string, algorithm: KeyAlgorithm, now: Date): Promise<CertKeyPem> {
  return createCertificateAuthority(commonName, await generateKeyPair(algorithm), now);
}

/** The member's server, peer and healthcheck-client certificates from three fresh key pairs. */
export function createEtcdMemberPki(options: {
  etcdCa: CertKeyPem;
  host: Pick<HostSpec, 'name' | 'fqdn' | 'address'>;
  kubernetesMinor: number;
  keys: [KeyPair, KeyPair, KeyPair];
  now: Date;
}): EtcdMemberPki {
  const { host, now, keys } = options;
  const issuer = toSigningAuthority(options.etcdCa, 'etcd/ca');
  const altNames = etcdMemberAltNames(host);
  const serving = (client: KeyPair): CertKeyPem => ({
    cert: issueCertificate({
      profile: serverProfile({ commonName: host.name, ...altNames, client: true, now }),
      publicKey: client.publicKey,
      issuer,
    }).pem,
    key: exportPrivateKeyPem(client.privateKey),
  });
  const healthcheck = clientSubjectsFor(options.kubernetesMinor).etcdHealthcheckClient;
  return {
    server: serving(keys[0]),
    peer: serving(keys[1]),
    healthcheckClient: {
      cert: issueCertificate({ profile: clientProfile(healthcheck, now), publicKey: keys[2].publicKey, issuer }).pem,
      key: exportPrivateKeyPem(keys[2].privateKey),
    },
  };
}

export async function generateEtcdMemberPki(options: {
  etcdCa: CertKeyPem;
  host: Pick<HostSpec, 'name' | 'fqdn' | 'address'>;
  kubernetesMinor: number;
  keyAlgorithm: KeyAlgorithm;
  now: Date;
}): Promise<EtcdMemberPki> {
  const [a, b, c] = await generateKeyPairs(options.keyAlgorithm, 3);
  return createEtcdMemberPki({ ...options, keys: [a!, b!, c!] });
}

/** `apiserver-etcd-client`: what control planes present to external etcd (no O since 1.29). */
export function createApiserverEtcdClient(etcdCa: CertKeyPem, kubernetesMinor: number, keys: KeyPair, now: Date): CertKeyPem {
  const subject = clientSubjectsFor(kubernetesMinor).apiserverEtcdClient;
  return {
    cert: issueCertificate({
      profile: clientProfile(subject, now),
      publicKey: keys.publicKey,
      issuer: toSigningAuthority(etcdCa, 'etcd/ca'),
    }).pem,
    key: exportPrivateKeyPem(keys.privateKey),
  };
}

export async function generateApiserverEtcdClient(
  etcdCa: CertKeyPem,
  kubernetesMinor: number,
  algorithm: KeyAlgorithm,
  now: Date,
): Promise<CertKeyPem> {
  return createApiserverEtcdClient(etcdCa, kubernetesMinor, await generateKeyPair(algorithm), now);
}

/** The service-account key pair. */
export function createServiceAccountKeys(keys: KeyPair): { key: string; pub: string } {
  return { key: exportPrivateKeyPem(keys.privateKey), pub: exportPublicKeyPem(keys.publicKey) };
}

/**
 * The whole cluster PKI for a spec, with `spec.certificates.keyAlgorithm`. All keys are
 * generated at once (the slow part), then every certificate is signed natively.
 */
export async function generateClusterPki(options: {
  spec: Pick<ClusterSpec, 'topology' | 'hosts' | 'kubernetesMinor' | 'certificates'>;
  now: Date;
}): Promise<ClusterPki> {
  const { spec, now } = options;
  const algorithm = spec.certificates.keyAlgorithm;
  const members = listEtcdMembers(spec);
  const external = spec.topology === 'external-etcd';
  const keys = await generateKeyPairs(algorithm, 4 + (external ? 1 + 3 * members.length : 0));
  const take = (): KeyPair => keys.shift()!;

  const ca = createCertificateAuthority(CA_COMMON_NAMES.ca, take(), now);
  const frontProxyCa = createCertificateAuthority(CA_COMMON_NAMES.frontProxyCa, take(), now);
  const etcdCa = createCertificateAuthority(CA_COMMON_NAMES.etcdCa, take(), now);
  const sa = createServiceAccountKeys(take());
  const pki: ClusterPki = { keyAlgorithm: algorithm, ca, frontProxyCa, etcdCa, sa, etcdMembers: {} };
  if (external) {
    pki.apiserverEtcdClient = createApiserverEtcdClient(etcdCa, spec.kubernetesMinor, take(), now);
    for (const host of members) {
      pki.etcdMembers[host.name] = createEtcdMemberPki({
        etcdCa,
        host,
        kubernetesMinor: spec.kubernetesMinor,
        keys: [take(), take(), take()],
        now,
      });
    }
  }
  return pki;
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}
