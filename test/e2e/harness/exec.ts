/**
 * Running commands for the harness: `run` (bounded in time, output collected) and `spawnLogged`
 * (a long-running process whose output goes to a log file), both without a shell.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  /** Do not throw on a non-zero exit. */
  allowFail?: boolean;
}

/** Runs a command to completion; throws with its output on a non-zero exit unless allowFail. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      if (stdout.length < 4_000_000) stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4_000_000) stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !options.allowFail)
        reject(
          new Error(
            `${file} ${args.join(' ')} exited ${result.code}${signal ? ` (${signal})` : ''}: ${stderr.slice(-2000)}${stdout.slice(-1000)}`,
          ),
        );
      else resolve(result);
    });
    if (child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

export interface Spawned {
  child: ChildProcess;
  pid: number;
  exited: Promise<number>;
}

/** Starts a long-running process with stdout+stderr appended to `logFile`. */
export function spawnLogged(file: string, args: readonly string[], logFile: string, env?: Record<string, string>): Spawned {
  const fd = openSync(logFile, 'a');
  const child = spawn(file, args, { env: env ?? process.env, stdio: ['ignore', fd, fd] });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.on('error', () => resolve(127));
  });
  if (!child.pid) throw new Error(`cannot start ${file}`);
  return { child, pid: child.pid, exited };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` every `intervalMs` until it returns a value, or throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | null | undefined | false>,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
}
