/** The command table. Each command parses its own options and returns an exit code. */
import { cmdGenerate } from './generate.ts';
import { cmdKubeconfig } from './kubeconfig.ts';
import { cmdInit, cmdPlan, cmdValidate } from './spec-commands.ts';

export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  isTTY: boolean;
}

export interface Command {
  synopsis: string;
  summary: string;
  help?: string;
  run(argv: string[], io: Io): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  init: { synopsis: '[--topology stacked|external-etcd] [--out FILE]', summary: 'write a commented starter spec', run: cmdInit },
  validate: { synopsis: 'SPEC [--strict]', summary: 'check a spec; every problem as SPEC:line:col: path: message', run: cmdValidate },
  plan: {
    synopsis: 'SPEC [--host H] [--strict]',
    summary: 'print every step each host will run, in rollout order, with its documents',
    run: cmdPlan,
  },
  generate: {
    synopsis: 'SPEC --out DIR [--rotate] [--json] [--strict]',
    summary: 'write per-host user-data, plans, and the coordinator state',
    help: 'Re-running keeps the PKI and every enrollment credential already issued; --rotate replaces them.\nKUBESEED_PASSPHRASE encrypts the private keys in the state directory.',
    run: cmdGenerate,
  },
  kubeconfig: {
    synopsis: '[--state DIR] [--out FILE] [--validity 24h]',
    summary: 'an admin kubeconfig minted from the cluster CA (stdout, or --out FILE with mode 0600)',
    run: cmdKubeconfig,
  },
};
