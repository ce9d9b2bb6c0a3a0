/**
 * `kubeseed store migrate --state DIR --to etcd://… [--etcd-ca F --etcd-cert F --etcd-key F]`:
 * moves a rollout's records from the journal in DIR/store into etcd (issue 20; docs/adr/0034).
 * The coordinator must be stopped: this takes the state directory's serve lock for the move.
 * Afterwards `kubeseed serve --state DIR --store URL …` continues the rollout from etcd, and the
 * journal, marked moved, is refused by a `serve` without --store.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parseSpec } from '../generator/spec/parse.ts';
import { StateError } from '../generator/state/index.ts';
import { acquireStateLock, SERVE_LOCK_FILE } from '../generator/state/lock.ts';
import { SECRET_RECORD_PREFIXES } from '../server/coordinator.ts';
import { EtcdUnavailableError } from '../server/store/etcd-client.ts';
import { assertJournalIn, migrateJournalToEtcd } from '../server/store/index.ts';
import { UsageError } from './args.ts';
import { DEFAULT_STATE_DIR, type Io, parseCommand } from './commands.ts';
import { InputError } from './exit-codes.ts';
import { printData } from './output.ts';
import { etcdTlsOf } from './store-flags.ts';

export async function cmdStore(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('store', argv);
  if (positional[0] !== 'migrate')
    throw new UsageError(
      `kubeseed store ${positional[0]}: the store action is migrate (kubeseed store migrate --state DIR --to etcd://HOST:PORT)`,
    );
  const to = flags.to as string;
  if (!/^etcd:\/\//i.test(to))
    throw new UsageError(
      `--to ${to}: store migrate moves a journal into etcd; give etcd://HOST:PORT[,HOST:PORT…][?prefix=P] (a journal directory moves with the state directory itself)`,
    );
  const tls = await etcdTlsOf(flags, 'to');
  const stateArg = (flags.state as string | undefined) ?? DEFAULT_STATE_DIR;
  const stateDir = isAbsolute(stateArg) ? stateArg : join(io.cwd, stateArg);
  if (!existsSync(stateDir))
    throw new InputError(
      `no state directory ${stateDir}: pass --state, the directory \`kubeseed serve --state\` runs on (OUT/coordinator of \`kubeseed generate --out OUT\`)`,
    );
  const journalDir = join(stateDir, 'store');
  try {
    assertJournalIn(journalDir);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
  const passphrase = io.env.KUBESEED_PASSPHRASE || undefined;
  const defaultPrefix = /[?&]prefix=/.test(to) ? undefined : `kubeseed/${await clusterName(stateDir)}/`;
  const release = await acquireStateLock(stateDir, {
    file: SERVE_LOCK_FILE,
    holder: 'kubeseed serve',
    onStale: (pid) => io.stderr(`note: taking over ${join(stateDir, SERVE_LOCK_FILE)} from pid ${pid}, which is gone\n`),
  }).catch((e: unknown) => {
    if (e instanceof StateError && e.code === 'LOCKED')
      throw new StateError('LOCKED', `stop the coordinator before moving its records: ${e.message}`, e.file);
    throw e;
  });
  let result: Awaited<ReturnType<typeof migrateJournalToEtcd>>;
  try {
    result = await migrateJournalToEtcd({
      journalDir,
      to,
      store: {
        ...(passphrase ? { passphrase } : {}),
        sealedPrefixes: SECRET_RECORD_PREFIXES,
        ...tls,
        ...(defaultPrefix ? { defaultPrefix } : {}),
      },
      now: new Date(),
    });
  } catch (e) {
    if (e instanceof EtcdUnavailableError) throw new Error(e.message);
    throw e;
  } finally {
    await release();
  }
  const next = nextCommand(stateArg, to, flags);
  printData(io, output, { ...result, next }, () => {
    io.stdout(
      `moved ${result.records} record(s) from ${result.from} to ${result.to} under ${result.prefix}${result.sealed ? ' (secret records sealed under KUBESEED_PASSPHRASE)' : ''}; read back and compared: equal\n`,
    );
    io.stdout(`the journal is kept as it was and marked moved (${result.marker}): \`kubeseed serve\` without --store refuses it now\n`);
    io.stdout(`continue the rollout with:\n  ${next}\n`);
  });
  return 0;
}

/** The cluster's name from DIR/cluster.yaml, as `serve` names its default etcd prefix. */
async function clusterName(stateDir: string): Promise<string> {
  const file = join(stateDir, 'cluster.yaml');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new InputError(
      `${file} is missing, so the default prefix kubeseed/<cluster>/ is unknown: give one in the URL (etcd://HOST:PORT?prefix=kubeseed/NAME/), or pass --state, the directory \`kubeseed generate\` wrote`,
    );
  });
  return parseSpec(text, file).spec.name;
}

/** `kubeseed serve` on the new store, with the flags this command was given (shell-quoted where needed). */
function nextCommand(stateArg: string, to: string, flags: Record<string, string | boolean>): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const words = ['kubeseed', 'serve', '--state', quote(stateArg), '--store', quote(to)];
  for (const flag of ['etcd-ca', 'etcd-cert', 'etcd-key'])
    if (typeof flags[flag] === 'string') words.push(`--${flag}`, quote(flags[flag] as string));
  return words.join(' ');
}
