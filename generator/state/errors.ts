/**
 * The state directory's one error class. Each message names the file, what is wrong and the
 * fix; none carries a secret value. The CLI maps StateError to exit code 2 when the operator's input
 * is at fault (a wrong path or passphrase), else 1 (cli/exit-codes.ts).
 */

export type StateErrorCode =
  | 'NO_STATE'
  | 'INCOMPLETE_STATE'
  | 'CORRUPT_FILE'
  | 'PASSPHRASE_REQUIRED'
  | 'WRONG_PASSPHRASE'
  | 'KEY_ALGORITHM_CHANGED'
  | 'INVALID_HOST_NAME'
  | 'LOCKED'
  | 'UNSUPPORTED_VERSION';

export class StateError extends Error {
  constructor(
    readonly code: StateErrorCode,
    message: string,
    /** The file concerned, when there is one. */
    readonly file?: string,
  ) {
    super(message);
    this.name = 'StateError';
  }
}
