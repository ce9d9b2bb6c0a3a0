/**
 * The one table from errors to exit codes (README "Exit codes", docs/status.md "Exit codes").
 * Commands throw; `main()` prints the message and exits with the code of the row whose class the
 * error is. An error no row names is a runtime failure (1), printed with its stack under
 * KUBESEED_DEBUG. `kubeseed status` returns 0/3/4 itself: they are results, not errors.
 */
import { PlanError, SpecError } from '../generator/errors.ts';
import { StateError, type StateErrorCode } from '../generator/state/index.ts';
import { StoreRefusal } from '../server/store/types.ts';
import { UsageError } from './args.ts';

export const EXIT = { ok: 0, failure: 1, badInput: 2, running: 3, failed: 4, interrupted: 130 } as const;

/** The operator's input is refused: a missing file, an existing --out, an unknown host, a token or action the coordinator refused. */
export class InputError extends Error {
  override name = 'InputError';
}

/** The coordinator cannot be reached, does not prove it is this coordinator, or failed to answer. */
export class CoordinatorError extends Error {
  override name = 'CoordinatorError';
}

/** Ctrl-C during `generate`: what was written is complete, the rest is not. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

/** State errors caused by what the operator passed (a wrong path or passphrase), not by the files. */
const STATE_INPUT: ReadonlySet<StateErrorCode> = new Set([
  'NO_STATE',
  'PASSPHRASE_REQUIRED',
  'WRONG_PASSPHRASE',
  'KEY_ALGORITHM_CHANGED',
  'INVALID_HOST_NAME',
]);

interface ExitRow {
  error: abstract new (...args: never[]) => Error;
  code: (error: Error) => number;
}

/** A row: the error class, and its exit code (or how its code depends on the error). */
function row<E extends Error>(error: abstract new (...args: never[]) => E, code: number | ((error: E) => number)): ExitRow {
  return { error, code: (e) => (typeof code === 'number' ? code : code(e as E)) };
}

export const EXIT_CODES: readonly ExitRow[] = [
  row(SpecError, EXIT.badInput),
  row(PlanError, EXIT.badInput),
  row(UsageError, EXIT.badInput),
  row(InputError, EXIT.badInput),
  row(StateError, (e) => (STATE_INPUT.has(e.code) ? EXIT.badInput : EXIT.failure)),
  // The store refuses what the operator asked: no or a wrong passphrase, a moved journal, a target in use.
  row(StoreRefusal, EXIT.badInput),
  row(CoordinatorError, EXIT.failure),
  row(InterruptedError, EXIT.interrupted),
];

/** The exit code of a known error, or undefined for one no row names (a runtime failure, exit 1). */
export function exitCodeFor(error: unknown): number | undefined {
  for (const r of EXIT_CODES) if (error instanceof r.error) return r.code(error);
  return undefined;
}
