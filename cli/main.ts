/**
 * The `kubeseed` command line: parses argv, runs one command, maps errors to exit codes
 * (0 ok, 1 runtime failure, 2 bad input). Each command lives in its own module; this file only
 * dispatches and formats errors. Edges only: commands may touch fs, env and the clock.
 */
import { PlanError, SpecError } from '../generator/errors.ts';
import { StateError } from '../generator/state/index.ts';
import { UsageError } from './args.ts';
import { COMMANDS, type Io } from './commands.ts';

const VERSION = '0.1.0';

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${`${name} ${c.synopsis}`.padEnd(52)} ${c.summary}`);
  return [
    'Usage: kubeseed <command> [options]',
    '',
    'Commands:',
    ...rows,
    '',
    'Run `kubeseed <command> --help` for the options of one command.',
  ].join('\n');
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(`${usage()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    io.stdout(`kubeseed ${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`kubeseed: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`Usage: kubeseed ${name} ${command.synopsis}\n\n${command.summary}\n${command.help ?? ''}\n`);
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
