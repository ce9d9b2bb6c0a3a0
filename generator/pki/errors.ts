/**
 * The PKI module's one error class. Messages name the certificate or file and never carry a
 * secret value (keys, tokens, credentials): they may be printed by the CLI as they are.
 */

export type PkiErrorCode = 'INVALID_PEM' | 'UNKNOWN_PKI_FILE' | 'MISSING_HOST' | 'UNSUPPORTED_KEY' | 'INVALID_URL';

export class PkiError extends Error {
  constructor(
    readonly code: PkiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PkiError';
  }
}
