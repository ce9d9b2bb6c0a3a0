/**
 * The `kubeseed` command line: parses argv, runs one command, maps errors to exit codes through
 * the one table in exit-codes.ts (0 ok, 1 runtime failure, 2 bad input). Each command lives in its
 * own module; this file only dispatches and formats errors. Edges only: commands may touch fs, env
 * and the clock.
 */
import { SpecError } from '../generator/errors.ts';
import { COMMANDS, type Io } from './commands.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
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
    const code = exitCodeFor(e);
    if (e instanceof SpecError) io.stderr(`${e.message}\n${e.issues.filter((i) => i.severity === 'error').length} error(s) in ${e.file}\n`);
    else io.stderr(`kubeseed ${name}: ${(e as Error)?.message ?? String(e)}\n`);
    if (code === undefined && io.env.KUBESEED_DEBUG) io.stderr(`${(e as Error)?.stack}\n`);
    return code ?? EXIT.failure;
  }
}
