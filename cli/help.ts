/** Help pages, generated from the command table: the list of commands, and one command with every flag, its default and examples. */
import { synopsisOf } from './args.ts';
import { COMMANDS } from './commands.ts';

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return [
    'Usage: kubeseed <command> [arguments] [flags]',
    '',
    'Commands:',
    ...rows,
    '',
    'Run `kubeseed help <command>` (or `kubeseed <command> --help`) for its flags, defaults and examples.',
    'Exit codes: 0 success, 1 runtime failure, 2 usage error or refused input; `status` adds 3 running and 4 failed.',
  ].join('\n');
}

export function commandHelp(name: string): string {
  const c = COMMANDS[name]!;
  const flagName = (f: (typeof c.flags)[number]) =>
    `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.value ? ` ${f.choices ? f.choices.join('|') : f.value}` : ''}`;
  const width = Math.max(0, ...c.flags.map((f) => flagName(f).length)) + 2;
  const lines = [`Usage: kubeseed ${name} ${synopsisOf(c)}`.trimEnd(), '', c.summary];
  if (c.help) lines.push('', c.help);
  if (c.flags.length) {
    lines.push('', 'Flags:');
    for (const f of c.flags) lines.push(`  ${flagName(f).padEnd(width)}${f.help}${f.default ? ` (default: ${f.default})` : ''}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(width)}this help`);
  if (c.examples.length) lines.push('', 'Examples:', ...c.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}
