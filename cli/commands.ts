/**
 * The command table: every command, its arguments, flags (with defaults and choices), help text
 * and examples. The parser (args.ts), the help pages, "did you mean" and the shell completions
 * (completion.ts) all read this one table, so none of them can drift from what a command accepts
 * (docs/adr/0024). Each command module is loaded only when it runs: generating user-data never
 * loads the server.
 */
import { type ArgSpec, type CommandShape, type FlagSpec, type ParsedArgs, parseArgs } from './args.ts';

export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  isTTY: boolean;
  /** Asks a yes/no question on the terminal (remove, rebind); absent where no terminal answers. */
  confirm?(question: string): Promise<boolean>;
}

export interface Command extends CommandShape {
  summary: string;
  help?: string;
  examples: string[];
  run(argv: string[], io: Io): Promise<number>;
}

export const DEFAULT_STATE_DIR = 'out/coordinator';

const OUTPUT: FlagSpec[] = [
  { name: 'output', short: 'o', value: 'FORMAT', choices: ['json', 'yaml'], help: 'print the result as JSON or YAML (default: text)' },
  { name: 'json', help: 'same as -o json' },
];
const STRICT: FlagSpec = { name: 'strict', help: 'treat warnings as errors (exit 2)' };
const SPEC: ArgSpec[] = [{ name: 'SPEC' }];
const HOST: ArgSpec[] = [{ name: 'HOST' }];
const STATE: FlagSpec = {
  name: 'state',
  value: 'DIR',
  default: DEFAULT_STATE_DIR,
  help: 'the state directory `generate` wrote (pinned CA, coordinator URL)',
};
/** Where serve and version find the agent executables (generate's --dist says what it does with them). */
const DIST: FlagSpec = { name: 'dist', value: 'DIR', default: 'the package dist/', help: 'where the agent executables are' };
/** How the operator commands find the coordinator (coordinator-target.ts reads them). */
const TARGET: FlagSpec[] = [
  STATE,
  { name: 'url', value: 'URL', default: "the state's coordinator URL", help: 'the coordinator, where it listens elsewhere' },
  {
    name: 'token',
    value: 'TOKEN',
    default: '$KUBESEED_OPERATOR_TOKEN, else DIR/operator-token',
    help: 'the operator token',
  },
];
const CHANGE: FlagSpec[] = [
  { name: 'yes', short: 'y', help: 'do it without asking (required when stdin is not a terminal)' },
  { name: 'dry-run', help: 'say what would happen and change nothing' },
];

/** TLS to etcd for an `etcd://` store (serve --store, store migrate --to, upgrade/renew --store). */
const ETCD_TLS: FlagSpec[] = [
  { name: 'etcd-ca', value: 'FILE', help: "the CA of etcd's server certificates (PEM): talk to etcd over TLS" },
  {
    name: 'etcd-cert',
    value: 'FILE',
    help: 'a client certificate for etcd (PEM; with --etcd-key) when etcd checks client certificates',
  },
  { name: 'etcd-key', value: 'FILE', help: "the client certificate's key (PEM)" },
];

/** Where upgrade/renew read the coordinator's records: the store serve runs on. */
const DAY2_STORE: FlagSpec[] = [
  {
    name: 'store',
    value: 'URL',
    default: 'journal:DIR/store',
    help: 'the store `serve --store` runs on (etcd://HOST:PORT[,…][?prefix=P]): its records are read; every replica must be stopped',
  },
  ...ETCD_TLS,
];

const admin = () => import('./coordinator-commands.ts');
const operatorHelp =
  'Exit codes: 0 done, 1 the coordinator is unreachable or failed, 2 bad input or refused (unknown host, wrong token, nothing to do).';

export const COMMANDS: Record<string, Command> = {
  init: {
    summary: 'write a commented starter spec',
    args: [],
    flags: [
      { name: 'topology', value: 'TOPOLOGY', choices: ['stacked', 'external-etcd'], default: 'stacked', help: 'where etcd runs' },
      { name: 'out', value: 'FILE', default: 'stdout', help: 'write the spec to FILE' },
      { name: 'force', help: 'overwrite FILE if it exists' },
    ],
    examples: ['kubeseed init --out cluster.yaml', 'kubeseed init --topology external-etcd > cluster.yaml'],
    run: async (a, io) => (await import('./spec-commands.ts')).cmdInit(a, io),
  },
  validate: {
    summary: 'check a spec; every problem as SPEC:line:col: path: message',
    args: SPEC,
    flags: [STRICT, ...OUTPUT],
    examples: ['kubeseed validate cluster.yaml', 'kubeseed validate --strict -o json cluster.yaml'],
    run: async (a, io) => (await import('./spec-commands.ts')).cmdValidate(a, io),
  },
  plan: {
    summary: 'print every step each host will run, in rollout order, with its documents',
    args: SPEC,
    flags: [
      { name: 'host', value: 'HOST', default: 'every host', help: "only this host's steps and documents" },
      {
        name: 'state',
        value: 'DIR',
        help: 'plan the upgrade from the version DIR runs to the one SPEC names instead (kubeseed upgrade --dry-run; serve stopped)',
      },
      STRICT,
      ...OUTPUT,
    ],
    examples: [
      'kubeseed plan cluster.yaml',
      'kubeseed plan cluster.yaml --host master1',
      'kubeseed plan cluster.yaml -o json | jq .steps',
      'kubeseed plan cluster.yaml --state out/coordinator',
    ],
    run: async (a, io) => (await import('./spec-commands.ts')).cmdPlan(a, io),
  },
  generate: {
    summary: 'write per-host user-data, plans, and the coordinator state',
    args: SPEC,
    flags: [
      { name: 'out', value: 'DIR', required: true, help: 'where hosts/, plan/ and coordinator/ are written' },
      { name: 'rotate', help: 'replace the PKI and every enrollment credential (all user-data must be re-delivered)' },
      {
        name: 'dist',
        value: 'DIR',
        default: 'the package dist/',
        help: 'the agent executables whose SHA-256 Ignition configs carry (serve the same build)',
      },
      STRICT,
      ...OUTPUT,
    ],
    help: 'Re-running keeps the PKI and every enrollment credential already issued; --rotate replaces them.\nKUBESEED_PASSPHRASE encrypts the private keys in the state directory. A running `kubeseed serve` must be restarted to see the new state.\nIgnition configs carry the SHA-256 of the agent executables in --dist DIR (built by `npm run build`); serve the same build.',
    examples: ['kubeseed generate cluster.yaml --out out', 'KUBESEED_PASSPHRASE=… kubeseed generate cluster.yaml --out out -o json'],
    run: async (a, io) => (await import('./generate.ts')).cmdGenerate(a, io),
  },
  kubeconfig: {
    summary: 'an admin kubeconfig minted from the cluster CA (stdout, or --out FILE with mode 0600)',
    args: [],
    flags: [
      STATE,
      { name: 'out', value: 'FILE', default: 'stdout', help: 'write the kubeconfig to FILE (0600)' },
      { name: 'validity', value: 'DURATION', default: '24h', help: 'how long the client certificate is valid (1m to 8784h)' },
      { name: 'force', help: 'overwrite FILE if it exists' },
    ],
    examples: ['kubeseed kubeconfig --state out/coordinator --out admin.conf'],
    run: async (a, io) => (await import('./kubeconfig.ts')).cmdKubeconfig(a, io),
  },
  certs: {
    summary:
      'every certificate the coordinator issued or serves and every one kubeadm keeps on the control planes: subject, hosts, expiry and days left',
    args: [],
    flags: [
      STATE,
      {
        name: 'store',
        value: 'URL',
        default: 'journal:DIR/store',
        help: "the store `serve --store` runs on (etcd://HOST:PORT[,…][?prefix=P]): kubeadm's certificates are read from its records, which are not changed (serve may be running)",
      },
      ...ETCD_TLS,
      ...OUTPUT,
    ],
    help: "Reads the state directory and the coordinator's records; needs no running coordinator and changes nothing. KUBESEED_PASSPHRASE opens an encrypted state.\nkubeadm's own certificates (apiserver, apiserver-kubelet-client, front-proxy-client, stacked etcd's, the kubeconfigs' client certificates) are listed as HOST:PATH, as the control plane's agent read them after kubeadm init/join, a renewal or an upgrade. Warns below 30 days, as status, hosts and the page do.",
    examples: [
      'kubeseed certs --state out/coordinator',
      "kubeseed certs -o json | jq '.certificates[] | select(.daysLeft < 60)'",
      'kubeseed certs --state out/coordinator --store etcd://10.0.0.11:2379 --etcd-ca ca.crt --etcd-cert client.crt --etcd-key client.key',
    ],
    run: async (a, io) => (await import('./certs.ts')).cmdCerts(a, io),
  },
  backups: {
    summary: 'the etcd snapshots the coordinator keeps (spec.etcd.backup); `export ID` decrypts one for a restore',
    args: [
      { name: 'export', optional: true },
      { name: 'ID', optional: true },
    ],
    flags: [
      STATE,
      { name: 'out', value: 'FILE', help: 'export: where to write the plain snapshot (0600)' },
      { name: 'force', help: 'export: overwrite FILE if it exists' },
      ...OUTPUT,
    ],
    help: 'Reads the state directory; needs no running coordinator. Listing needs no passphrase; export needs KUBESEED_PASSPHRASE.\nexport checks the seal and etcd’s own hash, then runs `snapshot status` with etcdutl or etcdctl where this machine has one.\nRestore the file with `etcdutl snapshot restore` (etcd 3.4: `etcdctl snapshot restore`): docs/day2.md, "Backing up and restoring etcd".',
    examples: [
      'kubeseed backups --state out/coordinator',
      'KUBESEED_PASSPHRASE=… kubeseed backups export 20261206T050000Z-cp1 --out snapshot.db',
    ],
    run: async (a, io) => (await import('./backups.ts')).cmdBackups(a, io),
  },
  demo: {
    summary: 'generate an example cluster and roll it out on loopback with simulated machines (no root needed)',
    args: [],
    flags: [
      { name: 'workers', value: 'N', default: '4', help: 'worker hosts to simulate (0 to 50)' },
      { name: 'keep', help: 'leave the work directory for inspection' },
      {
        name: 'ha',
        help: 'two coordinator replicas on a real etcd (the etcd binary: apt-get install etcd-server); the leader is killed mid-rollout and the standby finishes',
      },
      {
        name: 'upgrade',
        help: 'after the rollout, `kubeseed upgrade` to the next patch (v1.37.1) run by the idle agents: one kubeadm upgrade apply, control planes one at a time, then workers',
      },
      ...OUTPUT,
    ],
    help: 'Agents run the TEST DOUBLES of kubeadm, kubectl, containerd and kubelet from doubles; nothing on this machine is changed.',
    examples: ['kubeseed demo', 'kubeseed demo --workers 10 --keep', 'kubeseed demo --ha --json', 'kubeseed demo --upgrade --json'],
    run: async (a, io) => (await import('./demo.ts')).cmdDemo(a, io),
  },
  serve: {
    summary: 'the coordination server; prints the status page URL and where the operator token is; Ctrl-C is safe, a restart resumes',
    args: [],
    flags: [
      STATE,
      { name: 'listen', value: 'HOST:PORT', default: 'spec.coordinator.listen', help: 'the HTTPS listen address' },
      DIST,
      { name: 'max-connections-per-source', value: 'N', default: 'a quarter of the process limit', help: 'per source address' },
      { name: 'assets', value: 'DIR', help: 'serve DIR read-only at /assets/ on the plain-HTTP listener (PXE kernels, initrds, ISOs)' },
      {
        name: 'store',
        value: 'URL',
        default: 'journal:DIR/store',
        help: 'where the rollout state lives: journal:DIR, or etcd://HOST:PORT[,HOST:PORT…][?prefix=P] (default prefix kubeseed/<cluster>/)',
      },
      {
        name: 'advertise',
        value: 'URL',
        help: 'with --store etcd://: the URL of this replica that standbys give agents as the leader (default spec.coordinator.url)',
      },
      {
        name: 'lease',
        value: 'SECONDS',
        default: '10',
        help: 'with --store etcd://: the leader lease TTL (2 to 120); a dead leader is replaced within it',
      },
      ...ETCD_TLS,
      {
        name: 'log-format',
        value: 'FORMAT',
        choices: ['text', 'json'],
        default: 'text',
        help: 'log lines for people, or JSON for machines',
      },
      {
        name: 'log-level',
        value: 'LEVEL',
        choices: ['debug', 'info', 'warn', 'error'],
        default: 'info',
        help: 'the least severe level logged',
      },
    ],
    help: 'Takes a lock on the state directory: a second `serve` on it refuses, naming the PID. KUBESEED_PASSPHRASE opens an encrypted state.',
    examples: [
      'kubeseed serve --state out/coordinator',
      'kubeseed serve --listen 0.0.0.0:9443 --log-format json',
      'kubeseed serve --store etcd://10.0.0.11:2379,10.0.0.12:2379 --etcd-ca ca.crt --etcd-cert client.crt --etcd-key client.key',
    ],
    run: async (a, io) => (await admin()).cmdServe(a, io),
  },
  store: {
    summary: "move a rollout's records from the journal in the state directory into etcd (the coordinator stopped)",
    args: [{ name: 'migrate' }],
    flags: [
      STATE,
      {
        name: 'to',
        value: 'URL',
        required: true,
        help: 'etcd://HOST:PORT[,HOST:PORT…][?prefix=P], an unused prefix (default prefix kubeseed/<cluster>/)',
      },
      ...ETCD_TLS,
      ...OUTPUT,
    ],
    help: 'Stop `kubeseed serve` first (migrate takes its lock on the state directory). Every record is copied, read back and compared;\nthen the journal is marked moved (DIR/store/moved.json) and `serve` refuses it: continue with `kubeseed serve --store URL`.\nKUBESEED_PASSPHRASE opens an encrypted journal and seals the secret records in etcd. See docs/coordinator.md "Moving to etcd".\nExit codes: 0 moved and verified, 1 etcd unreachable, the copy failed (the journal stays the store) or a coordinator runs on DIR, 2 bad input or refused.',
    examples: [
      'kubeseed store migrate --state out/coordinator --to etcd://10.0.0.11:2379,10.0.0.12:2379 --etcd-ca ca.crt --etcd-cert client.crt --etcd-key client.key',
      "kubeseed store migrate --to 'etcd://127.0.0.1:2379?prefix=kubeseed/lab/' -o json",
    ],
    run: async (a, io) => (await import('./store-commands.ts')).cmdStore(a, io),
  },
  status: {
    summary: 'rollout progress per host with progress bars; exit 0 done, 3 running, 4 failed, 1 unreachable',
    args: [],
    flags: [{ name: 'watch', short: 'w', help: 'redraw on every change until done or failed (Ctrl-C ends)' }, ...TARGET, ...OUTPUT],
    help: 'See docs/status.md. Exit codes: 0 done, 3 still running, 4 a host failed, 1 unreachable, 2 bad input.',
    examples: ['kubeseed status --watch', 'kubeseed status -o json | jq .counts'],
    run: async (a, io) => (await import('./status-command.ts')).cmdStatus(a, io),
  },
  hosts: {
    summary: 'list hosts and their rollout state',
    args: [],
    flags: [...TARGET, ...OUTPUT],
    help: operatorHelp,
    examples: ['kubeseed hosts', 'kubeseed hosts -o yaml'],
    run: async (a, io) => (await admin()).cmdHosts(a, io),
  },
  audit: {
    summary: 'every secret hand-out: when, which host, step and attempt, which kinds of secret (never a value); etcd snapshots received',
    args: [],
    flags: [{ name: 'host', value: 'HOST', help: "only this host's hand-outs" }, ...TARGET, ...OUTPUT],
    help: `The trail lives in the coordinator's store (the journal, or etcd shared by replicas); each entry is durable before the secret leaves. ${operatorHelp}`,
    examples: ['kubeseed audit', 'kubeseed audit --host cp1 -o json'],
    run: async (a, io) => (await admin()).cmdAudit(a, io),
  },
  upgrade: {
    summary: 'plan an ordered Kubernetes upgrade to the version SPEC names; the next serve runs it',
    args: SPEC,
    flags: [STATE, CHANGE[1] as FlagSpec, ...DAY2_STORE, ...OUTPUT],
    help: "Raise spec.kubernetesVersion (one minor at most), then run this with serve stopped: it checks the coordinator records (every host done, none failed), writes DIR/day2.json and keeps SPEC as the state spec. Start `kubeseed serve` and the idle agents run, in order: external etcd members one at a time if their version changes, `kubeadm upgrade apply` on the first control plane, `kubeadm upgrade node` on the others one at a time (drain, kubelet and kubectl, uncordon each), then workers in batches of workerParallelism. A failed step stops there; `kubeseed retry HOST` resumes. Replicas on etcd: stop every replica, pass serve's --store and --etcd-* flags, then copy day2.json and cluster.yaml to each replica's state directory. docs/day2.md",
    examples: [
      'kubeseed upgrade cluster.yaml --state out/coordinator --dry-run',
      'kubeseed upgrade cluster.yaml --state out/coordinator',
      'kubeseed upgrade cluster.yaml --state out/coordinator --store etcd://10.0.0.11:2379 --etcd-ca ca.crt --etcd-cert client.crt --etcd-key client.key',
    ],
    run: async (a, io) => (await import('./day2-commands.ts')).cmdUpgrade(a, io),
  },
  renew: {
    summary: 'roll the certificates out again in order: etcd members one at a time, then each control plane',
    args: [],
    flags: [STATE, CHANGE[1] as FlagSpec, ...DAY2_STORE, ...OUTPUT],
    help: "With serve stopped: re-issues, from the CAs kept in DIR and whatever their expiry, every coordinator-held leaf (external etcd members, apiserver-etcd-client, the coordinator TLS certificate; KUBESEED_PASSPHRASE for an encrypted state) and writes DIR/day2.json; --dry-run only prints the steps. Start `kubeseed serve` to run it. Each external etcd member gets its new certificates and restarts, healthy with quorum before the next; then each control plane gets apiserver-etcd-client, runs `kubeadm certs renew all` and restarts its static Pods. Replicas on etcd: stop every replica, pass serve's --store and --etcd-* flags, then copy the state directory (its new certificates and day2.json) to each replica. docs/day2.md",
    examples: [
      'kubeseed renew --state out/coordinator --dry-run',
      'kubeseed renew --state out/coordinator --store etcd://10.0.0.11:2379 --etcd-ca ca.crt --etcd-cert client.crt --etcd-key client.key',
    ],
    run: async (a, io) => (await import('./day2-commands.ts')).cmdRenew(a, io),
  },
  retry: {
    summary: 're-queue the failed steps of a host',
    args: HOST,
    flags: [...TARGET, ...OUTPUT],
    help: `Refused (exit 2) when the host has no failed step. ${operatorHelp}`,
    examples: ['kubeseed retry worker3'],
    run: async (a, io) => (await admin()).cmdRetry(a, io),
  },
  approve: {
    summary: 'admit a fleet machine to its matched role (--key picks one of several candidates)',
    args: HOST,
    flags: [
      { name: 'key', value: 'SHA256:…', help: 'the key fingerprint `kubeseed hosts` shows, when several machines wait' },
      ...TARGET,
      ...OUTPUT,
    ],
    help: `Refused (exit 2) when no machine waits for approval of HOST. ${operatorHelp}`,
    examples: ['kubeseed approve master2', 'kubeseed approve master2 --key SHA256:3q2+7w…'],
    run: async (a, io) => (await admin()).cmdApprove(a, io),
  },
  rebind: {
    summary: 'let a rebuilt machine enroll again with its user-data (its steps start over)',
    args: HOST,
    flags: [...CHANGE, ...TARGET, ...OUTPUT],
    help: `Asks for confirmation on a terminal; elsewhere --yes is required. ${operatorHelp}`,
    examples: ['kubeseed rebind worker3 --dry-run', 'kubeseed rebind worker3 --yes'],
    run: async (a, io) => (await admin()).cmdRebind(a, io),
  },
  remove: {
    summary: 'take a host out (Node object and etcd member included)',
    args: HOST,
    flags: [...CHANGE, ...TARGET, ...OUTPUT],
    help: `Asks for confirmation on a terminal; elsewhere --yes is required. ${operatorHelp}`,
    examples: ['kubeseed remove worker3 --dry-run', 'kubeseed remove worker3 --yes'],
    run: async (a, io) => (await admin()).cmdRemove(a, io),
  },
  version: {
    summary: 'the version, commit, Node and the agent executables (versions and digests)',
    args: [],
    flags: [DIST, ...OUTPUT],
    examples: ['kubeseed version', 'kubeseed version -o json'],
    run: async (a, io) => (await import('./meta-commands.ts')).cmdVersion(a, io),
  },
  completion: {
    summary: 'a shell completion script for bash, zsh or fish',
    args: [{ name: 'SHELL' }],
    flags: [],
    help: 'SHELL is bash, zsh or fish.',
    examples: [
      'source <(kubeseed completion bash)',
      'kubeseed completion zsh > ~/.zfunc/_kubeseed   # with fpath+=(~/.zfunc) in ~/.zshrc',
      'kubeseed completion fish | source',
    ],
    run: async (a, io) => (await import('./meta-commands.ts')).cmdCompletion(a, io),
  },
  help: {
    summary: 'the commands, or one command with every flag, its default and examples',
    args: [{ name: 'COMMAND', optional: true }],
    flags: [],
    examples: ['kubeseed help generate'],
    run: async (a, io) => (await import('./meta-commands.ts')).cmdHelp(a, io),
  },
};

/** Parses a command's argv against its table entry. */
export function parseCommand(name: string, argv: string[]): ParsedArgs {
  const command = COMMANDS[name];
  if (!command) throw new Error(`no command ${name} in the table`);
  return parseArgs(argv, command, name);
}
