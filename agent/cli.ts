/**
 * The agent's command line: `kubeseed-agent [--config FILE] [--once] [--version]`. Wires the Node
 * implementations into the loop and logs one JSON line per event to stderr (journald).
 * KUBESEED_AGENT_ROOT (tests and the demo only) maps every host path below a directory.
 */
import { arch, hostname } from 'node:os';
import { AGENT_CONFIG_PATH } from '../protocol/host-paths.ts';
import { createPinnedHttp } from './http.ts';
import { createNodeExec, createNodeNet, createRootFs, cryptoRandom, systemClock } from './node-io.ts';
import { runAgent } from './run.ts';
import { AGENT_VERSION } from './version.ts';

const USAGE = `usage: kubeseed-agent [--config FILE] [--once] [--version]
  --config FILE  agent configuration (default ${AGENT_CONFIG_PATH})
  --once         stop after the first reported step (or when the host is done)
  --version      print the version and exit`;

export interface CliArgs {
  configPath: string;
  once: boolean;
  version: boolean;
  help: boolean;
}

export function parseCliArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { configPath: AGENT_CONFIG_PATH, once: false, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--once') args.once = true;
    else if (a === '--version' || a === '-v') args.version = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--config') {
      const value = argv[++i];
      if (!value) throw new Error('--config needs a file');
      args.configPath = value;
    } else if (a?.startsWith('--config=')) args.configPath = a.slice('--config='.length);
    else throw new Error(`unknown argument: ${a}`);
  }
  return args;
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 64;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`kubeseed-agent ${AGENT_VERSION} (node ${process.version}, ${process.platform}/${process.arch})\n`);
    return 0;
  }
  const root = process.env.KUBESEED_AGENT_ROOT || '/';
  const controller = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => controller.abort());
  const result = await runAgent(
    { configPath: args.configPath, once: args.once, logLevel: process.env.KUBESEED_AGENT_LOG === 'debug' ? 'debug' : 'info' },
    {
      fs: createRootFs(root),
      exec: createNodeExec(),
      net: createNodeNet(),
      clock: systemClock,
      random: cryptoRandom,
      createHttp: (config, ca) => createPinnedHttp([config.coordinatorUrl, ...config.replicaUrls], ca),
      system: { hostname: () => hostname(), arch: arch() },
      writeLine: (line) => process.stderr.write(`${line}\n`),
      signal: controller.signal,
    },
  );
  return result.exitCode;
}
