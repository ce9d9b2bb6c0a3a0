/**
 * `kubeseed status [--watch] [-o json|yaml] [--state DIR] [--token T] [--url URL]`: draws the
 * status document once, or on every coordinator event with --watch (see status.ts for the header
 * contract and the exit codes).
 */
import { toYaml } from '../generator/util/yaml.ts';
import type { RolloutStatus } from '../server/status-page/client/view-model.ts';
import type { OutputFormat } from './args.ts';
import { parseCommand } from './commands.ts';
import { resolveTarget } from './coordinator-target.ts';
import { CoordinatorError, EXIT, exitCodeFor, InputError } from './exit-codes.ts';
import { exitCodeOf, renderFrame, StatusClient, type StatusIo, statusOutcome, terminalSafe, unreachable } from './status.ts';

interface Display {
  draw(status: RolloutStatus, fetchedAt: number): void;
}

function createDisplay(io: StatusIo, output: OutputFormat, watch: boolean): Display {
  const json = output === 'json';
  const tty = io.isTTY && output === 'text';
  const color = tty && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  const ascii = io.env.TERM === 'dumb';
  let last = '';
  return {
    draw(status, fetchedAt) {
      if (output !== 'text') {
        // --watch -o yaml: one YAML document per change, separated by `---`.
        const text = json ? (watch ? JSON.stringify(status) : JSON.stringify(status, null, 2)) : `---\n${toYaml(status).trimEnd()}`;
        const key = JSON.stringify({ ...status, serverTime: 0 });
        if (watch && key === last) return;
        last = key;
        io.stdout(`${text}\n`);
        return;
      }
      const now = status.serverTime + (Date.now() - fetchedAt);
      const columns = io.columns ?? (io.isTTY ? process.stdout.columns : undefined) ?? 100;
      const lines = renderFrame(status, { tty, color, columns, now, ascii });
      const frame = lines.join('\n');
      if (!watch) {
        io.stdout(`${frame}\n`);
        return;
      }
      if (tty) {
        // Home, clear below, redraw: robust in any terminal and tmux, like watch(1).
        io.stdout(`\x1b[H\x1b[J${frame}\n`);
        return;
      }
      const key = renderFrame(status, { tty: false, color: false, columns, now: 0 }).join('\n');
      if (key === last) return;
      last = key;
      io.stdout(`${frame}\n\n`);
    },
  };
}

const REFRESH_DEBOUNCE_MS = 100;
const GIVE_UP_AFTER_MS = 60_000;

async function watchRollout(client: StatusClient, display: Display, io: StatusIo, first: RolloutStatus): Promise<number> {
  const controller = new AbortController();
  let code = exitCodeOf(statusOutcome(first));
  let settle: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    settle = resolve;
  });
  let done = false;
  const finish = (exitCode: number, message?: string) => {
    if (done) return;
    done = true;
    if (message) io.stderr(`kubeseed status: ${terminalSafe(message)}\n`);
    controller.abort();
    settle(exitCode);
  };
  const onInterrupt = () => finish(code);
  const external = io.signal;
  if (external) external.addEventListener('abort', onInterrupt, { once: true });
  else process.once('SIGINT', onInterrupt);

  let status = first;
  let fetchedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let inFlight = false;
  let again = false;
  const refresh = async () => {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      status = await client.fetchStatus(controller.signal);
      fetchedAt = Date.now();
      code = exitCodeOf(statusOutcome(status));
      display.draw(status, fetchedAt);
      if (code !== EXIT.running) finish(code);
    } catch (error) {
      if (done) return;
      if (error instanceof InputError) finish(EXIT.badInput, error.message);
      // Unreachable for a moment: the stream's reconnect loop decides when to give up.
    } finally {
      inFlight = false;
      if (again && !done) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (timer || done) return;
    timer = setTimeout(() => {
      timer = undefined;
      void refresh();
    }, REFRESH_DEBOUNCE_MS);
  };
  // Elapsed times move between events in a terminal.
  const ticker = io.isTTY ? setInterval(() => !done && display.draw(status, fetchedAt), 1000) : undefined;

  const followLoop = async () => {
    let failures = 0;
    let downSince: number | undefined;
    const patience = io.giveUpAfterMs ?? GIVE_UP_AFTER_MS;
    while (!done) {
      let lastError: unknown = new Error(`the event stream of ${client.target.url} ended`);
      try {
        await client.follow(controller.signal, (event) => {
          if (event === 'hello') {
            failures = 0;
            downSince = undefined;
          }
          schedule();
        });
      } catch (error) {
        if (done) return;
        if (error instanceof InputError) {
          finish(EXIT.badInput, error.message);
          return;
        }
        lastError = error;
      }
      if (done) return;
      failures++;
      downSince ??= Date.now();
      if (Date.now() - downSince > patience) {
        const message = lastError instanceof CoordinatorError ? lastError.message : unreachable(client.target, lastError).message;
        finish(EXIT.failure, message);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** Math.min(failures, 5))));
      // Events may have been missed while the stream was down.
      void refresh();
    }
  };

  display.draw(first, fetchedAt);
  if (code !== EXIT.running) return code;
  void followLoop();
  try {
    return await finished;
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    if (external) external.removeEventListener('abort', onInterrupt);
    else process.off('SIGINT', onInterrupt);
  }
}

export async function cmdStatus(argv: string[], io: StatusIo): Promise<number> {
  let client: StatusClient | undefined;
  try {
    const { flags, output } = parseCommand('status', argv);
    const target = await resolveTarget(flags, io);
    client = new StatusClient(target);
    const display = createDisplay(io, output, Boolean(flags.watch));
    const first = await client.fetchStatus();
    if (!flags.watch) {
      display.draw(first, Date.now());
      return exitCodeOf(statusOutcome(first));
    }
    return await watchRollout(client, display, io, first);
  } catch (error) {
    // The coordinator's words reach the terminal: printed here, made safe, with the table's code.
    const code = exitCodeFor(error);
    if (code === undefined) throw error;
    io.stderr(`kubeseed status: ${terminalSafe((error as Error).message)}\n`);
    return code;
  } finally {
    await client?.close();
  }
}
