/**
 * The coordinator's own TLS identity: a CA (pinned by the agent through user-data) and a server
 * certificate for the host of `spec.coordinator.url`, both ECDSA P-256 whatever the cluster's
 * keyAlgorithm (fast, and only kubeseed's agent and CLI ever verify them).
 */
import { X509Certificate } from 'node:crypto';
import { hostOfUrl } from '../util/ip.ts';
import { issueCertificate } from './certificate.ts';
import { type CertKeyPem, createCertificateAuthority, toSigningAuthority } from './cluster-pki.ts';
import { PkiError } from './errors.ts';
import { exportPrivateKeyPem, generateKeyPair, generateKeyPairs } from './keys.ts';
import { CA_COMMON_NAMES, serverProfile } from './subjects.ts';

export interface CoordinatorTls {
  ca: CertKeyPem;
  server: CertKeyPem;
}

/**
 * SANs of the server certificate: the host (DNS or IP) of the URL and of every other replica's URL
 * (spec.coordinator.replicaUrls: each replica serves with this one certificate), plus localhost,
 * 127.0.0.1 and ::1. The common name is the URL's host.
 */
export function coordinatorAltNames(
  url: string,
  replicaUrls: readonly string[] = [],
): { commonName: string; dnsNames: string[]; ipAddresses: string[] } {
  const hosts = [url, ...replicaUrls].map((u, i) => {
    try {
      return hostOfUrl(u);
    } catch {
      const field = i === 0 ? 'spec.coordinator.url' : `spec.coordinator.replicaUrls[${i - 1}]`;
      throw new PkiError('INVALID_URL', `${field}: ${JSON.stringify(u)} is not a URL; write it as https://HOST:PORT`);
    }
  });
  const dnsNames = [...new Set([...hosts.filter((h) => !h.isIp).map((h) => h.host), 'localhost'])];
  const ipAddresses = [...new Set([...hosts.filter((h) => h.isIp).map((h) => h.host), '127.0.0.1', '::1'])];
  return { commonName: hosts[0]!.host, dnsNames, ipAddresses };
}

/** A server certificate for `url` (and the other replicas' URLs), signed by the coordinator CA. */
export async function generateCoordinatorServerCertificate(options: {
  ca: CertKeyPem;
  url: string;
  replicaUrls?: readonly string[];
  now: Date;
}): Promise<CertKeyPem> {
  const keys = await generateKeyPair('ECDSA-P256');
  const cert = issueCertificate({
    profile: serverProfile({ ...coordinatorAltNames(options.url, options.replicaUrls), client: false, now: options.now }),
    publicKey: keys.publicKey,
    issuer: toSigningAuthority(options.ca, 'tls/ca'),
  });
  return { cert: cert.pem, key: exportPrivateKeyPem(keys.privateKey) };
}

export async function generateCoordinatorTls(options: {
  url: string;
  replicaUrls?: readonly string[];
  now: Date;
}): Promise<CoordinatorTls> {
  coordinatorAltNames(options.url, options.replicaUrls);
  const [caKeys] = await generateKeyPairs('ECDSA-P256', 1);
  const ca = createCertificateAuthority(CA_COMMON_NAMES.coordinatorCa, caKeys!, options.now);
  return { ca, server: await generateCoordinatorServerCertificate({ ca, ...options }) };
}

/** true when `certPem` names exactly these SANs (order-insensitive) — used to re-issue after a URL or address change. */
export function certificateMatchesAltNames(certPem: string, altNames: { dnsNames: string[]; ipAddresses: string[] }): boolean {
  const have = new Set(
    (new X509Certificate(certPem).subjectAltName ?? '')
      .split(', ')
      .filter(Boolean)
      .map((entry) => (entry.startsWith('IP Address:') ? `IP:${normalizeIp(entry.slice('IP Address:'.length))}` : entry)),
  );
  const want = new Set([...altNames.dnsNames.map((d) => `DNS:${d}`), ...altNames.ipAddresses.map((ip) => `IP:${normalizeIp(ip)}`)]);
  return have.size === want.size && [...want].every((w) => have.has(w));
}

/** One spelling per address: Node prints IPv6 SANs expanded and upper-case; the WHATWG URL parser compresses them. */
function normalizeIp(ip: string): string {
  return ip.includes(':') ? new URL(`http://[${ip}]/`).hostname : ip;
}
