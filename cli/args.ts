/** A small argv parser: positional words, `--flag`, `--key value`, `--key=value`. Unknown flags are errors. */

export class UsageError extends Error {
  readonly code = 'USAGE';
}

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | boolean>;
}

export function parseArgs(argv: string[], known: { booleans: string[]; values: string[] }): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (known.booleans.includes(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
    } else if (known.values.includes(name)) {
      const value = eq !== -1 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
    } else {
      const all = [...known.booleans, ...known.values].map((f) => `--${f}`);
      throw new UsageError(`unknown option ${a}${all.length ? `; this command accepts ${all.join(', ')}` : ''}`);
    }
  }
  return { positional, flags };
}
