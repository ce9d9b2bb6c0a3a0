/**
 * The argv parser, driven by a command's entry in the command table (commands.ts): positional
 * words, `--flag`, `--key value`, `--key=value`, `-o value`. Unknown flags, extra arguments, a
 * flag without its value and a value outside a flag's choices are usage errors (exit 2) that say
 * what is accepted, with a "did you mean" when a known name is close.
 */

export class UsageError extends Error {
  readonly code = 'USAGE';
}

/** One flag of a command: `value` names its argument (absent for a boolean flag). */
export interface FlagSpec {
  name: string;
  short?: string;
  value?: string;
  choices?: readonly string[];
  default?: string;
  /** A flag the command cannot run without (shown without brackets). */
  required?: boolean;
  help: string;
}

export interface ArgSpec {
  name: string;
  optional?: boolean;
}

/** What the parser needs of a command (the table entry has more: summary, examples, run). */
export interface CommandShape {
  args: readonly ArgSpec[];
  flags: readonly FlagSpec[];
}

export type OutputFormat = 'text' | 'json' | 'yaml';

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | boolean>;
  /** -o json|yaml, or --json; 'text' when neither was given. */
  output: OutputFormat;
}

/** Edit distance with adjacent transpositions counting one (optimal string alignment), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a third of the word's length (at least 1, at most 3 edits), or undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

export function parseArgs(argv: string[], command: CommandShape, name: string): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  const byName = new Map(command.flags.map((f) => [f.name, f]));
  const byShort = new Map(command.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    const long = a.startsWith('--');
    const eq = a.indexOf('=');
    const key = a.slice(long ? 2 : 1, eq === -1 ? undefined : eq);
    const flag = long ? byName.get(key) : byShort.get(key);
    if (!flag) {
      const guess = closest(key, long ? [...byName.keys()] : [...byShort.keys(), ...byName.keys()]);
      const accepted = command.flags.map((f) => `--${f.name}`).join(', ');
      throw new UsageError(
        `unknown option ${a}${guess ? `; did you mean --${guess}?` : ''}${accepted ? ` (kubeseed ${name} accepts ${accepted})` : ` (kubeseed ${name} takes no options)`}`,
      );
    }
    const shown = long ? `--${flag.name}` : `-${flag.short}`;
    if (flag.value === undefined) {
      if (eq !== -1) throw new UsageError(`${shown} takes no value`);
      flags[flag.name] = true;
      continue;
    }
    const value = eq !== -1 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || (eq === -1 && value.startsWith('--'))) {
      throw new UsageError(`${shown} needs a value: ${shown} ${flag.value}${flag.choices ? ` (${flag.choices.join('|')})` : ''}`);
    }
    if (flag.choices && !flag.choices.includes(value)) {
      throw new UsageError(`${shown} ${value}: accepted values are ${flag.choices.join(', ')}`);
    }
    flags[flag.name] = value;
  }
  const max = command.args.length;
  if (positional.length > max) {
    const expected = max === 0 ? 'takes no arguments' : `takes ${command.args.map((x) => x.name).join(' ')}`;
    throw new UsageError(`unexpected argument "${positional[max]}": kubeseed ${name} ${expected} (see kubeseed ${name} --help)`);
  }
  const absent = command.flags.find((f) => f.required && flags[f.name] === undefined);
  if (absent) throw new UsageError(`--${absent.name} ${absent.value} is required: ${absent.help}`);
  const missing = command.args.find((x, index) => !x.optional && positional[index] === undefined);
  if (missing) throw new UsageError(`missing ${missing.name}: usage: kubeseed ${name} ${synopsisOf(command)}`);
  if (flags.json && flags.output && flags.output !== 'json') throw new UsageError(`--json and -o ${flags.output} contradict each other`);
  const output: OutputFormat = flags.json ? 'json' : ((flags.output as OutputFormat | undefined) ?? 'text');
  return { positional, flags, output };
}

/** `SPEC [--host H] [--strict] [-o json|yaml]`: the arguments, then every flag. */
export function synopsisOf(command: CommandShape): string {
  const args = command.args.map((x) => (x.optional ? `[${x.name}]` : x.name));
  const flags = command.flags
    .filter((f) => f.name !== 'json')
    .map((f) => {
      const name = f.name === 'output' ? '-o' : `--${f.name}`;
      const text = `${name}${f.value ? ` ${f.choices ? f.choices.join('|') : f.value}` : ''}`;
      return f.required ? text : `[${text}]`;
    });
  return [...args, ...flags].join(' ');
}
