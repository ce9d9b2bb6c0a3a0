/**
 * Certificate subjects and profiles that depend on the target Kubernetes version, in one place
 * (kubeadm.md §0.9, §3.3, §3.4). Pure.
 */
import { versionsFor } from '../versions.ts';
import { BACKDATE_SECONDS, type CertificateProfile, validityFrom } from './certificate.ts';

export { BACKDATE_SECONDS };

/** kubeadm's CertificateValidityPeriod (leaves) and CACertificateValidityPeriod. */
export const LEAF_VALIDITY_SECONDS = 365 * 24 * 3600;
export const CA_VALIDITY_SECONDS = 10 * LEAF_VALIDITY_SECONDS;

export interface Subject {
  commonName: string;
  organizations: string[];
}

/** CNs of the shared CAs: kubeadm's defaults (certlist.go). */
export const CA_COMMON_NAMES = {
  ca: 'kubernetes',
  frontProxyCa: 'front-proxy-ca',
  etcdCa: 'etcd-ca',
  coordinatorCa: 'kubeseed-coordinator-ca',
} as const;

/**
 * Subjects of the client identities kubeseed issues itself, for a Kubernetes minor version: the
 * organizations come from the minor's row in generator/versions.ts (`adminGroup`,
 * `etcdClientGroups`; super-admin.conf, which kubeadm writes itself, keeps `system:masters`).
 */
export function clientSubjectsFor(kubernetesMinor: number): {
  etcdHealthcheckClient: Subject;
  apiserverEtcdClient: Subject;
  admin: Subject;
  /** The coordinator's own short-lived identity for API calls (tokens, labels, node removal): admin rights, its own name in audit logs. */
  coordinator: Subject;
} {
  const { adminGroup, etcdClientGroups } = versionsFor(kubernetesMinor);
  return {
    etcdHealthcheckClient: { commonName: 'kube-etcd-healthcheck-client', organizations: [...etcdClientGroups] },
    apiserverEtcdClient: { commonName: 'kube-apiserver-etcd-client', organizations: [...etcdClientGroups] },
    admin: { commonName: 'kubernetes-admin', organizations: [adminGroup] },
    coordinator: { commonName: 'kubeseed-coordinator', organizations: [adminGroup] },
  };
}

/** kubeadm's NewSelfSignedCACert: CA:TRUE, digitalSignature+keyEncipherment+keyCertSign, SAN DNS = CN, 10 years. */
export function caProfile(commonName: string, now: Date): CertificateProfile {
  return {
    commonName,
    isCa: true,
    keyUsage: { digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    dnsNames: [commonName],
    ...validityFrom(now, CA_VALIDITY_SECONDS),
  };
}

/** A client certificate (EKU clientAuth), like kubeadm's leaves: digitalSignature+keyEncipherment. */
export function clientProfile(subject: Subject, now: Date, validitySeconds = LEAF_VALIDITY_SECONDS): CertificateProfile {
  return {
    commonName: subject.commonName,
    organizations: subject.organizations,
    isCa: false,
    keyUsage: { digitalSignature: true, keyEncipherment: true },
    extendedKeyUsage: ['clientAuth'],
    ...validityFrom(now, validitySeconds),
  };
}

/** A server (and, with `client`, also client) certificate with the given SANs. */
export function serverProfile(options: {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  client: boolean;
  now: Date;
  validitySeconds?: number;
}): CertificateProfile {
  return {
    commonName: options.commonName,
    isCa: false,
    keyUsage: { digitalSignature: true, keyEncipherment: true },
    extendedKeyUsage: options.client ? ['serverAuth', 'clientAuth'] : ['serverAuth'],
    dnsNames: options.dnsNames,
    ipAddresses: options.ipAddresses,
    ...validityFrom(options.now, options.validitySeconds ?? LEAF_VALIDITY_SECONDS),
  };
}
