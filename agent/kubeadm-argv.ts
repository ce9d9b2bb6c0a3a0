/**
 * The one place kubeadm argv is built. kubeadm gets its secrets from a 0600 config file, never from
 * flags: only `--config`, `--upload-certs`, `--skip-token-print`, `--skip-certificate-key-print`,
 * `--ignore-preflight-errors`, `--v` (and `-f` for reset) may appear, next to a fixed set of
 * subcommands. Anything else throws, so a token on a command line (visible in `ps`, the journal
 * and shell history) cannot happen by accident.
 */

export const KUBEADM_COMMANDS = {
  init: ['init'],
  join: ['join'],
  reset: ['reset'],
  'etcd-local': ['init', 'phase', 'etcd', 'local'],
  'upload-certs': ['init', 'phase', 'upload-certs'],
  version: ['version'],
  // Day 2 (ADR 0039): a version or `all` is their only argument; never --force (kubeadm's skew policy stands).
  'upgrade-apply': ['upgrade', 'apply'],
  'upgrade-node': ['upgrade', 'node'],
  'certs-renew': ['certs', 'renew'],
} as const;
export type KubeadmCommand = keyof typeof KUBEADM_COMMANDS;

export interface KubeadmFlags {
  config?: string;
  uploadCerts?: boolean;
  skipTokenPrint?: boolean;
  skipCertificateKeyPrint?: boolean;
  ignorePreflightErrors?: readonly string[];
  verbosity?: number;
  /** reset only: `-f`. */
  force?: boolean;
  /** upgrade apply only: the target, `v1.37.2`. */
  version?: string;
  /** upgrade apply only: `--yes` (no confirmation prompt). */
  yes?: boolean;
  /** certs renew only: which certificates (`all`). */
  certificates?: 'all';
}

const VERSION_ARG = /^v\d+\.\d+\.\d+$/;

/** Which flags each subcommand accepts (what real kubeadm accepts, intersected with the allow-list). */
const FLAGS_BY_COMMAND: Record<KubeadmCommand, ReadonlySet<keyof KubeadmFlags>> = {
  init: new Set(['config', 'uploadCerts', 'skipTokenPrint', 'skipCertificateKeyPrint', 'ignorePreflightErrors', 'verbosity']),
  join: new Set(['config', 'ignorePreflightErrors', 'verbosity']),
  reset: new Set(['force', 'ignorePreflightErrors', 'verbosity']),
  'etcd-local': new Set(['config', 'verbosity']),
  'upload-certs': new Set(['config', 'uploadCerts', 'skipCertificateKeyPrint', 'verbosity']),
  version: new Set([]),
  'upgrade-apply': new Set(['version', 'yes', 'ignorePreflightErrors', 'verbosity']),
  'upgrade-node': new Set(['ignorePreflightErrors', 'verbosity']),
  'certs-renew': new Set(['certificates', 'verbosity']),
};

export class KubeadmArgvError extends Error {
  readonly code = 'KUBEADM_ARGV';
}

const PREFLIGHT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const CONFIG_PATH = /^\/[A-Za-z0-9_./-]+$/;

/** Returns ['kubeadm', ...subcommand, ...flags]; throws KubeadmArgvError on anything not allowed. */
export function buildKubeadmArgv(command: KubeadmCommand, flags: KubeadmFlags = {}): string[] {
  const words = KUBEADM_COMMANDS[command];
  if (!words) throw new KubeadmArgvError(`kubeadm subcommand not allowed: ${String(command)}`);
  const allowed = FLAGS_BY_COMMAND[command];
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    if (!allowed.has(key as keyof KubeadmFlags)) throw new KubeadmArgvError(`kubeadm ${words.join(' ')}: flag "${key}" not allowed`);
  }
  const argv: string[] = ['kubeadm', ...words];
  if (command === 'upgrade-apply') {
    if (!flags.version || !VERSION_ARG.test(flags.version))
      throw new KubeadmArgvError(`kubeadm upgrade apply needs a release version like v1.37.2, got ${flags.version ?? 'none'}`);
    argv.push(flags.version);
  }
  if (command === 'certs-renew') {
    if (flags.certificates !== 'all') throw new KubeadmArgvError('kubeadm certs renew: only `all` is allowed');
    argv.push('all');
  }
  if (flags.yes) argv.push('--yes');
  if (flags.config !== undefined) {
    if (!CONFIG_PATH.test(flags.config) || flags.config.includes('..'))
      throw new KubeadmArgvError(`kubeadm --config path not allowed: ${flags.config}`);
    argv.push('--config', flags.config);
  }
  if (flags.uploadCerts) argv.push('--upload-certs');
  if (flags.skipTokenPrint) argv.push('--skip-token-print');
  if (flags.skipCertificateKeyPrint) argv.push('--skip-certificate-key-print');
  if (flags.ignorePreflightErrors && flags.ignorePreflightErrors.length > 0) {
    for (const name of flags.ignorePreflightErrors) {
      if (!PREFLIGHT_NAME.test(name)) throw new KubeadmArgvError(`kubeadm --ignore-preflight-errors value not allowed: ${name}`);
    }
    argv.push(`--ignore-preflight-errors=${flags.ignorePreflightErrors.join(',')}`);
  }
  if (flags.verbosity !== undefined) {
    if (!Number.isInteger(flags.verbosity) || flags.verbosity < 0 || flags.verbosity > 10)
      throw new KubeadmArgvError(`kubeadm --v must be 0..10, got ${flags.verbosity}`);
    argv.push(`--v=${flags.verbosity}`);
  }
  if (flags.force) argv.push('-f');
  assertKubeadmArgv(argv);
  return argv;
}

const ALLOWED_FLAG =
  /^(--config|--upload-certs|--skip-token-print|--skip-certificate-key-print|--ignore-preflight-errors=[A-Za-z0-9_.,-]+|--v=\d+|-f|--yes)$/;

/** Checks a complete argv against the allow-list (also used by tests on recorded calls). */
export function assertKubeadmArgv(argv: readonly string[]): void {
  if (argv[0] !== 'kubeadm') throw new KubeadmArgvError(`not a kubeadm argv: ${argv[0] ?? ''}`);
  const known = Object.values(KUBEADM_COMMANDS).find(
    (words) => words.every((w, i) => argv[i + 1] === w) && !String(argv[words.length + 1] ?? '-').match(/^[a-z]/),
  );
  // The day-2 commands take one argument: a version (upgrade apply) or `all` (certs renew).
  const withArgument =
    argv[1] === 'upgrade' && argv[2] === 'apply' && VERSION_ARG.test(argv[3] ?? '')
      ? 4
      : argv[1] === 'certs' && argv[2] === 'renew' && argv[3] === 'all'
        ? 4
        : 0;
  if (!known && !withArgument) throw new KubeadmArgvError(`kubeadm subcommand not allowed: ${argv.slice(1).join(' ')}`);
  for (let i = withArgument || (known?.length ?? 0) + 1; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--config') {
      const path = argv[i + 1] ?? '';
      if (!CONFIG_PATH.test(path)) throw new KubeadmArgvError(`kubeadm --config needs an absolute path, got ${path}`);
      i++;
      continue;
    }
    if (!ALLOWED_FLAG.test(arg)) throw new KubeadmArgvError(`kubeadm argument not allowed: ${arg}`);
  }
}
