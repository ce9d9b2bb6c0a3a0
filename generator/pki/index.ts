/**
 * Public surface of the cluster PKI: key generation (native, parallel), certificate building
 * (node-forge structure, native signing), the kubeadm shared PKI and external-etcd certificates,
 * the coordinator's TLS identity, bootstrap secrets, enrollment credentials and client
 * certificates. No function here logs, prints or touches the disk.
 */
export {
  BACKDATE_SECONDS,
  type CertificateProfile,
  derToPem,
  type ExtendedKeyUsage,
  issueCertificate,
  validityFrom,
} from './certificate.ts';
export {
  ADMIN_KUBECONFIG_VALIDITY_SECONDS,
  type KubeconfigClusterFacts,
  mintAdminKubeconfig,
  signClientCertificate,
} from './client-certificates.ts';
export {
  type CertKeyPem,
  type ClusterPki,
  type EtcdMemberPki,
  etcdMemberAltNames,
  generateApiserverEtcdClient,
  generateCertificateAuthority,
  generateClusterPki,
  generateEtcdMemberPki,
  listEtcdMembers,
} from './cluster-pki.ts';
export {
  type CoordinatorTls,
  certificateMatchesAltNames,
  coordinatorAltNames,
  generateCoordinatorServerCertificate,
  generateCoordinatorTls,
} from './coordinator-tls.ts';
export { discoveryHash } from './discovery.ts';
export { PkiError, type PkiErrorCode } from './errors.ts';
export { exportPrivateKeyPem, exportPublicKeyPem, generateKeyPair, generateKeyPairs, type KeyPair, keyAlgorithmOf } from './keys.ts';
export {
  BOOTSTRAP_TOKEN_PATTERN,
  CERTIFICATE_KEY_PATTERN,
  ENROLLMENT_CREDENTIAL_PATTERN,
  type EnrollmentRecord,
  FLEET_CREDENTIAL_PREFIX,
  generateBootstrapToken,
  generateCertificateKey,
  generateEnrollmentCredential,
  HOST_CREDENTIAL_PREFIX,
  hashEnrollmentCredential,
  type RandomSource,
  randomString,
  verifyEnrollmentCredential,
} from './secrets.ts';
export { CA_COMMON_NAMES, CA_VALIDITY_SECONDS, clientSubjectsFor, LEAF_VALIDITY_SECONDS } from './subjects.ts';
