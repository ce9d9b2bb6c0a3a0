/**
 * Shell completion scripts for bash, zsh and fish, generated from the command table: commands,
 * each command's flags, and the choices of flags that have them. Files complete where a command
 * takes SPEC or a flag takes FILE/DIR.
 */
import type { FlagSpec } from './args.ts';
import { COMMANDS } from './commands.ts';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const names = () => Object.keys(COMMANDS);
const flagWords = (flags: readonly FlagSpec[]) => [...flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]), '--help'];
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(): string {
  const cases = names()
    .filter((n) => n !== 'help' && n !== 'completion')
    .map((n) => `    ${n}) flags=${quote(flagWords(COMMANDS[n]!.flags).join(' '))} ;;`)
    .join('\n');
  const choices = names()
    .flatMap((n) =>
      COMMANDS[n]!.flags.filter((f) => f.choices).map(
        (f) =>
          `    ${n}:--${f.name}${f.short ? `|${n}:-${f.short}` : ''}) COMPREPLY=($(compgen -W ${quote(f.choices!.join(' '))} -- "$cur")); return ;;`,
      ),
    )
    .join('\n');
  const values = [...new Set(names().flatMap((n) => COMMANDS[n]!.flags.filter((f) => f.value && !f.choices).map((f) => `--${f.name}`)))];
  return `# kubeseed bash completion: source <(kubeseed completion bash)
_kubeseed() {
  local cur prev cmd flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${quote(names().join(' '))} -- "$cur"))
    return
  fi
  cmd="\${COMP_WORDS[1]}"
  case "$cmd:$prev" in
${choices}
  esac
  case "$prev" in
    ${values.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  case "$cmd" in
    help) COMPREPLY=($(compgen -W ${quote(names().join(' '))} -- "$cur")); return ;;
    completion) COMPREPLY=($(compgen -W ${quote(SHELLS.join(' '))} -- "$cur")); return ;;
${cases}
    *) flags='' ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _kubeseed kubeseed
`;
}

const zshText = (s: string) => s.replace(/'/g, `'\\''`).replace(/\[/g, '\\[').replace(/\]/g, '\\]').replace(/:/g, '\\:');

function zsh(): string {
  const commands = names()
    .map((n) => `    '${n}:${zshText(COMMANDS[n]!.summary)}'`)
    .join('\n');
  const cases = names()
    .map((n) => {
      const specs = COMMANDS[n]!.flags.map((f) => {
        const action = f.choices ? `:${f.value}:(${f.choices.join(' ')})` : f.value ? `:${f.value}:_files` : '';
        const names = f.short ? `{-${f.short},--${f.name}}` : `--${f.name}`;
        return `'${f.short ? '(-' + f.short + ' --' + f.name + ')' : ''}'${names}'[${zshText(f.help)}]${action}'`;
      });
      const arg =
        n === 'help'
          ? "'1:command:(" + names().join(' ') + ")'"
          : n === 'completion'
            ? "'1:shell:(bash zsh fish)'"
            : COMMANDS[n]!.args.length
              ? "'*:file:_files'"
              : '';
      return `    ${n}) _arguments ${[...specs, arg].filter(Boolean).join(' ')} ;;`;
    })
    .join('\n');
  return `#compdef kubeseed
# kubeseed zsh completion: kubeseed completion zsh > "\${fpath[1]}/_kubeseed"
_kubeseed() {
  local -a commands
  commands=(
${commands}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=\${words[2]}
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases}
  esac
}
if [ "$funcstack[1]" = "_kubeseed" ]; then _kubeseed "$@"; else compdef _kubeseed kubeseed; fi
`;
}

const fishText = (s: string) => s.replace(/'/g, "\\'");

function fish(): string {
  const lines = [
    '# kubeseed fish completion: kubeseed completion fish | source',
    'complete -c kubeseed -f',
    ...names().map((n) => `complete -c kubeseed -n '__fish_use_subcommand' -a ${n} -d '${fishText(COMMANDS[n]!.summary)}'`),
  ];
  for (const n of names()) {
    for (const f of COMMANDS[n]!.flags) {
      const parts = [`complete -c kubeseed -n '__fish_seen_subcommand_from ${n}' -l ${f.name}`];
      if (f.short) parts.push(`-s ${f.short}`);
      if (f.choices) parts.push(`-x -a '${f.choices.join(' ')}'`);
      else if (f.value) parts.push('-r -F');
      parts.push(`-d '${fishText(f.help)}'`);
      lines.push(parts.join(' '));
    }
    if (COMMANDS[n]!.args.some((a) => a.name === 'SPEC')) lines.push(`complete -c kubeseed -n '__fish_seen_subcommand_from ${n}' -F`);
  }
  lines.push(`complete -c kubeseed -n '__fish_seen_subcommand_from help' -a '${names().join(' ')}'`);
  lines.push(`complete -c kubeseed -n '__fish_seen_subcommand_from completion' -a '${SHELLS.join(' ')}'`);
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell): string {
  switch (shell) {
    case 'bash':
      return bash();
    case 'zsh':
      return zsh();
    case 'fish':
      return fish();
  }
}
