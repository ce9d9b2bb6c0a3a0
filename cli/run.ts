/** Binds the CLI to the real process: stdout, stderr, env, and yes/no questions on a terminal. */
import { createInterface } from 'node:readline/promises';
import { main } from './main.ts';

/** A yes/no question on the terminal; only offered when stdin and stderr are one. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export function runCli(argv: string[]): Promise<number> {
  // `kubeseed plan … | head`: a closed pipe ends the output, not the process with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  return main(argv, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env: process.env,
    cwd: process.cwd(),
    isTTY: Boolean(process.stdout.isTTY),
    ...(process.stdin.isTTY && process.stderr.isTTY ? { confirm } : {}),
  });
}
