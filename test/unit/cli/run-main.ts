/** Runs the CLI through `main()` with its output captured: the one harness the CLI tests share. */
import type { Io } from '../../../cli/commands.ts';
import { main } from '../../../cli/main.ts';

export interface MainRun {
  code: number;
  out: string;
  err: string;
  /** The questions `remove`/`rebind` asked (only when `answer` offered a terminal). */
  asked: string[];
}

export interface MainOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Answers every yes/no question as if on a terminal; absent: no terminal to ask on. */
  answer?: boolean;
}

export async function runMain(argv: string[], options: MainOptions): Promise<MainRun> {
  const r: MainRun = { code: 0, out: '', err: '', asked: [] };
  const { answer } = options;
  const io: Io = {
    stdout: (s) => {
      r.out += s;
    },
    stderr: (s) => {
      r.err += s;
    },
    env: options.env ?? {},
    cwd: options.cwd,
    isTTY: false,
    ...(answer !== undefined
      ? {
          confirm: async (question: string) => {
            r.asked.push(question);
            return answer;
          },
        }
      : {}),
  };
  r.code = await main(argv, io);
  return r;
}
