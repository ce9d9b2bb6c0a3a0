/**
 * Client certificates the coordinator signs on demand from the cluster CA: its own short-lived
 * identity for API calls, and admin kubeconfigs (`kubeseed kubeconfig`, steps that run kubectl).
 * Client keys are ECDSA P-256 whatever the CA's algorithm: they are minted synchronously on a
 * serving coordinator, where an RSA keygen would block the event loop for ~0.3 s, and the API
 * server accepts either type from any CA.
 */
import type { ClusterSpec } from '../spec/types.ts';
import { toYaml } from '../util/yaml.ts';
import { issueCertificate } from './certificate.ts';
import { type CertKeyPem, toSigningAuthority } from './cluster-pki.ts';
import { exportPrivateKeyPem, generateKeyPairNow } from './keys.ts';
import { clientProfile, clientSubjectsFor } from './subjects.ts';

/** admin.conf's lifetime in kubeadm (one year). */
export const ADMIN_KUBECONFIG_VALIDITY_SECONDS = 365 * 24 * 3600;

/** A client certificate (EKU clientAuth, NotBefore backdated 1 h) with a fresh ECDSA P-256 key. */
export function signClientCertificate(options: {
  ca: CertKeyPem;
  commonName: string;
  organizations?: string[];
  validitySeconds: number;
  now: Date;
}): CertKeyPem {
  const keys = generateKeyPairNow('ECDSA-P256');
  const subject = { commonName: options.commonName, organizations: options.organizations ?? [] };
  const cert = issueCertificate({
    profile: clientProfile(subject, options.now, options.validitySeconds),
    publicKey: keys.publicKey,
    issuer: toSigningAuthority(options.ca, 'pki/ca'),
  });
  return { cert: cert.pem, key: exportPrivateKeyPem(keys.privateKey) };
}

/** What mintAdminKubeconfig needs of the spec (the state's manifest carries the same fields). */
export type KubeconfigClusterFacts = Pick<ClusterSpec, 'name' | 'controlPlaneEndpoint' | 'kubernetesMinor'>;

/**
 * An admin kubeconfig like kubeadm's admin.conf: CN `kubernetes-admin`, the organisation the
 * target version expects, server `https://<controlPlaneEndpoint>`, cluster name = spec name, the
 * cluster CA embedded.
 */
export function mintAdminKubeconfig(options: {
  state: { pki: { ca: CertKeyPem } };
  spec: KubeconfigClusterFacts;
  now: Date;
  validitySeconds?: number;
}): string {
  const { spec } = options;
  const subject = clientSubjectsFor(spec.kubernetesMinor).admin;
  const client = signClientCertificate({
    ca: options.state.pki.ca,
    commonName: subject.commonName,
    organizations: subject.organizations,
    validitySeconds: options.validitySeconds ?? ADMIN_KUBECONFIG_VALIDITY_SECONDS,
    now: options.now,
  });
  const host = spec.controlPlaneEndpoint.host.includes(':') ? `[${spec.controlPlaneEndpoint.host}]` : spec.controlPlaneEndpoint.host;
  const user = subject.commonName;
  const context = `${user}@${spec.name}`;
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: spec.name,
        cluster: {
          'certificate-authority-data': b64(options.state.pki.ca.cert),
          server: `https://${host}:${spec.controlPlaneEndpoint.port}`,
        },
      },
    ],
    contexts: [{ name: context, context: { cluster: spec.name, user } }],
    'current-context': context,
    preferences: {},
    users: [{ name: user, user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } }],
  });
}
