/**
 * Public surface of the coordinator's state directory: ensureState (generate), renewLeaves
 * (renew), loadState (serve, kubeconfig), SecretSource implementations, and passphrase encryption at rest.
 * No function here logs or prints; errors are StateError/PkiError without secret values.
 */
export { type EnsureStateResult, ensureState, RENEW_BEFORE_SECONDS } from './ensure.ts';
export { createFileCipher, ENVELOPE_MARKER, type Envelope, type FileCipher, isEnvelope } from './envelope.ts';
export { StateError, type StateErrorCode } from './errors.ts';
export { DIR_MODE, FILE_MODE } from './files.ts';
export {
  CREDENTIALS_DIR,
  CREDENTIALS_FILE,
  ENROLLMENT_FILE,
  isSecretFile,
  memberDir,
  OPERATOR_TOKEN_FILE,
  SECRETS_FILE,
  STATE_FILE,
} from './layout.ts';
export { loadState } from './load.ts';
export { ensureOperatorToken } from './operator-token.ts';
export { type RenewLeavesResult, renewLeaves } from './renew.ts';
export {
  clusterFactsOf,
  createPublicSecretSource,
  createSecretSource,
  isPrivatePkiFile,
  readPkiFile,
  STEP_KUBECONFIG_VALIDITY_SECONDS,
} from './secret-source.ts';
export {
  type BootstrapSecrets,
  type CoordinatorState,
  type EnrollmentRecords,
  FLEET_KEY,
  STATE_FORMAT,
  STATE_VERSION,
  type StateManifest,
} from './types.ts';
