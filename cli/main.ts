/**
 * The `kubeseed` command line: parses argv, runs one command, maps errors to exit codes
 * (0 ok, 1 runtime failure, 2 bad input). Each command lives in its own module; this file only
 * dispatches and formats errors. Edges only: commands may touch fs, env and the clock.
 */
import { PlanError, SpecError } from '../generator/errors.ts';
import { StateError } from '../generator/state/index.ts';
import { UsageError } from './args.ts';
import { COMMANDS, type Io } from './commands.ts';
import { commandHelp, usage } from './help.ts';
import { packageVersion, unknownCommand } from './meta-commands.ts';

export async function main(argv: string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (!first) {
    io.stderr(`${usage()}\n`);
    return 2;
  }
  let name = first;
  if (first === '--help' || first === '-h') name = 'help';
  if (first === '--version') {
    // The short form (like git's): just the number; `kubeseed version` tells commit, Node and the agents.
    io.stdout(`kubeseed ${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`kubeseed: ${unknownCommand(name)}\n`);
    return 2;
  }
  const dashDash = rest.indexOf('--');
  const options = dashDash === -1 ? rest : rest.slice(0, dashDash);
  if (options.includes('--help') || options.includes('-h')) {
    io.stdout(commandHelp(name));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof SpecError) {
      io.stderr(`${e.message}\n${e.issues.filter((i) => i.severity === 'error').length} error(s) in ${e.file}\n`);
      return 2;
    }
    if (e instanceof StateError) {
      // A wrong path, a missing or wrong passphrase, a changed key algorithm: the operator's input.
      const input = ['NO_STATE', 'PASSPHRASE_REQUIRED', 'WRONG_PASSPHRASE', 'KEY_ALGORITHM_CHANGED', 'INVALID_HOST_NAME'].includes(e.code);
      io.stderr(`kubeseed ${name}: ${e.message}\n`);
      return input ? 2 : 1;
    }
    if (e instanceof UsageError || e instanceof PlanError) {
      io.stderr(`kubeseed ${name}: ${e.message}\n`);
      return 2;
    }
    const err = e as Error & { code?: string; exitCode?: number };
    if (typeof err.exitCode === 'number') {
      io.stderr(`kubeseed ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr(`kubeseed ${name}: ${err.message ?? String(e)}\n`);
    if (io.env.KUBESEED_DEBUG) io.stderr(`${err.stack}\n`);
    return 1;
  }
}
