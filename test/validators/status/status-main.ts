/**
 * `kubeseed status` bound to this process's terminal, for the tmux test (the lead registers the
 * command in the CLI table; this runner does not depend on that).
 *   node --import tsx test/validators/status/status-main.ts --watch --state DIR
 */
import { cmdStatus } from '../../../cli/status-command.ts';

process.exitCode = await cmdStatus(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
  isTTY: Boolean(process.stdout.isTTY),
  ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
});
