/** kubeseed-agent entry point (bundled into dist/kubeseed-agent.cjs and the single executables). */
import { main } from './cli.ts';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${JSON.stringify({ level: 'error', event: 'crash', message: String((error as Error)?.message ?? error) })}\n`);
    process.exitCode = 1;
  },
);
