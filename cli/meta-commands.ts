/** `kubeseed help [COMMAND]`, `kubeseed version [-o json]` and `kubeseed completion SHELL`. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../generator/util/package-root.ts';
import { AGENT_ARCHES, type AgentArch, defaultDistDir, findAgentExecutable, readAgentExecutable } from '../server/agent-binaries.ts';
import { closest, UsageError } from './args.ts';
import { COMMANDS, type Io, parseCommand } from './commands.ts';
import { completionScript, SHELLS, type Shell } from './completion.ts';
import { commandHelp, usage } from './help.ts';
import { printData } from './output.ts';

export async function cmdHelp(argv: string[], io: Io): Promise<number> {
  const { positional } = parseCommand('help', argv);
  const name = positional[0];
  if (!name) {
    io.stdout(`${usage()}\n`);
    return 0;
  }
  if (!COMMANDS[name]) throw new UsageError(unknownCommand(name));
  io.stdout(commandHelp(name));
  return 0;
}

export function unknownCommand(name: string): string {
  const guess = closest(name, Object.keys(COMMANDS));
  return `unknown command "${name}"${guess ? `; did you mean "${guess}"?` : ''} (kubeseed help lists the commands)`;
}

export async function cmdCompletion(argv: string[], io: Io): Promise<number> {
  const { positional } = parseCommand('completion', argv);
  const shell = positional[0]!;
  if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion ${shell}: accepted shells are ${SHELLS.join(', ')}`);
  io.stdout(completionScript(shell as Shell));
  return 0;
}

interface AgentInfo {
  arch: string;
  file: string;
  built: boolean;
  version?: string;
  sha256?: string;
}

/** The commit: `git rev-parse` in a checkout, else the one the CLI bundle recorded when it was built. */
function commitOf(root: string): string | null {
  if (existsSync(join(root, '.git'))) {
    const git = spawnSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', timeout: 5_000 });
    if (git.status === 0) {
      const dirty = spawnSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', timeout: 5_000 });
      return `${git.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() ? '-dirty' : ''}`;
    }
  }
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'dist', 'cli', 'manifest.json'), 'utf8')) as { commit?: unknown };
    return typeof manifest.commit === 'string' ? manifest.commit : null;
  } catch {
    return null;
  }
}

/** Each agent executable as serve hands it out (server/agent-binaries.ts): digest of the file, version where it runs here. */
async function agentInfo(dist: string): Promise<AgentInfo[]> {
  const arches = Object.keys(AGENT_ARCHES) as AgentArch[];
  return Promise.all(
    arches.map(async (arch) => {
      const found = await findAgentExecutable(dist, arch);
      if (!found) return { arch, file: join(dist, AGENT_ARCHES[arch]), built: false };
      const { path } = found;
      const { sha256 } = await readAgentExecutable(found);
      const runsHere = process.platform === 'linux' && arch === `linux-${process.arch === 'x64' ? 'amd64' : process.arch}`;
      let version: string | undefined;
      if (runsHere) {
        const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
        version = r.status === 0 ? /kubeseed-agent (\S+)/.exec(r.stdout)?.[1] : undefined;
      }
      return { arch, file: path, built: true, ...(version ? { version } : {}), sha256 };
    }),
  );
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(import.meta.dirname), 'package.json'), 'utf8')) as { version: string }).version;
}

export async function cmdVersion(argv: string[], io: Io): Promise<number> {
  const { flags, output } = parseCommand('version', argv);
  const root = packageRoot(import.meta.dirname);
  const dist = (flags.dist as string | undefined) ?? defaultDistDir();
  const info = { version: packageVersion(), commit: commitOf(root), node: process.version, agents: await agentInfo(dist) };
  printData(io, output, info, () => {
    io.stdout(`kubeseed ${info.version} (commit ${info.commit ?? 'unknown'}, node ${info.node})\n`);
    for (const a of info.agents) {
      io.stdout(
        a.built
          ? `agent ${a.arch}: ${a.version ?? 'version not readable on this machine'} sha256:${a.sha256} (${a.file})\n`
          : `agent ${a.arch}: not built (${a.file} is missing; npm run build makes it)\n`,
      );
    }
  });
  return 0;
}
