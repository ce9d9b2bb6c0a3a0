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

/** Server-side commands live in cli/coordinator-commands.ts, loaded only when one of them runs. */
const server = () => import('./coordinator-commands.ts');
const adminHelp =
  'Reads the operator token and the pinned CA from --state DIR (default out/coordinator); --url overrides spec.coordinator.url.';

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
  demo: {
    synopsis: '[--json] [--workers N]',
    summary: 'generate an example cluster and roll it out on loopback with simulated machines (no root needed)',
    help: 'Agents run the TEST DOUBLES of kubeadm, kubectl, containerd and kubelet from test/doubles; nothing on this machine is changed. --keep leaves the work directory for inspection.',
    run: async (a, io) => (await import('./demo.ts')).cmdDemo(a, io),
  },
  serve: {
    synopsis: '[--state DIR] [--listen HOST:PORT] [--dist DIR] [--max-connections-per-source N]',
    summary: 'the coordination server; prints the status page URL and the operator token; Ctrl-C is safe, a restart resumes',
    run: async (argv, io) => (await server()).cmdServe(argv, io),
  },
  status: {
    synopsis: '[--watch] [--json] [--state DIR] [--url URL] [--token T]',
    summary: 'rollout progress per host with progress bars; exit 0 done, 3 running, 4 failed, 1 unreachable',
    help: 'See docs/status.md.',
    run: async (a, io) => (await import('./status-command.ts')).cmdStatus(a, io),
  },
  hosts: {
    synopsis: '[--state DIR] [--json]',
    summary: 'list hosts and their rollout state',
    help: adminHelp,
    run: async (a, io) => (await server()).cmdHosts(a, io),
  },
  retry: {
    synopsis: 'HOST [--state DIR]',
    summary: 're-queue a failed host',
    help: adminHelp,
    run: async (a, io) => (await server()).cmdRetry(a, io),
  },
  approve: {
    synopsis: 'HOST [--key SHA256:…] [--state DIR]',
    summary: 'admit a fleet machine to its matched role (--key picks one of several candidates)',
    help: adminHelp,
    run: async (a, io) => (await server()).cmdApprove(a, io),
  },
  rebind: {
    synopsis: 'HOST [--state DIR]',
    summary: 'let a rebuilt machine enroll again with its user-data',
    help: adminHelp,
    run: async (a, io) => (await server()).cmdRebind(a, io),
  },
  remove: {
    synopsis: 'HOST [--state DIR]',
    summary: 'take a host out (Node object and etcd member included)',
    help: adminHelp,
    run: async (a, io) => (await server()).cmdRemove(a, io),
  },
};
