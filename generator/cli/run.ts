/** Binds the CLI to the real process: stdout, stderr, env. */
import { main } from './main.ts';

export function runCli(argv: string[]): Promise<number> {
  return main(argv, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env: process.env,
    cwd: process.cwd(),
    isTTY: Boolean(process.stdout.isTTY),
  });
}
