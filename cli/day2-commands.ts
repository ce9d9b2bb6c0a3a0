/**
 * `kubeseed upgrade SPEC --state DIR` and `kubeseed renew --state DIR` (issue 22, ADR 0033/0039):
 * plan a day-2 operation from the state directory — the spec kept there, the coordinator's records —
 * refuse it with every reason (a skipped minor, a downgrade, a host failed or not done), or write
 * it as DIR/day2.json for the next `kubeseed serve`, which releases its steps to the idle agents in
 * order. `--dry-run` prints the steps and writes nothing. serve must be stopped (its lock is taken;
 * with `--store etcd://…` every replica: refused while one holds the leader lease).
 *
 * upgrade also keeps SPEC as the state's spec (DIR/cluster.yaml): its kubernetesVersion is the
 * target every step builder reads. Only versions may change between the two specs: hosts are added
 * with `generate` first.
 *
 * renew first re-issues every coordinator-held leaf from the kept CAs (generator/state/renew.ts),
 * once the plan stands: a refusal writes nothing.
 */
import { existsSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { DRAIN_TIMEOUT_SECONDS } from '../generator/plan/build-step.ts';
import { planRollout } from '../generator/plan/plan.ts';
import { upgradeIssues } from '../generator/plan/upgrade-issues.ts';
import { parseSpec } from '../generator/spec/parse.ts';
import type { ClusterSpec } from '../generator/spec/types.ts';
import { renewLeaves, StateError } from '../generator/state/index.ts';
import { acquireStateLock, SERVE_LOCK_FILE } from '../generator/state/lock.ts';
import { type Day2Operation, type RecordStore, readDay2Operation, readRolloutHosts, writeDay2Operation } from '../server/day2/operation.ts';
import { type Day2Plan, Day2Refusal, planRenewal, planUpgrade } from '../server/day2/order.ts';
import type { OutputFormat } from './args.ts';
import { DEFAULT_STATE_DIR, type Io, parseCommand } from './commands.ts';
import { InputError } from './exit-codes.ts';
import { printData } from './output.ts';
import { recordStoreOf } from './store-flags.ts';

function stateDirOf(flags: Record<string, unknown>, io: Io): string {
  const arg = (flags.state as string | undefined) ?? DEFAULT_STATE_DIR;
  const dir = isAbsolute(arg) ? arg : join(io.cwd, arg);
  if (!existsSync(join(dir, 'cluster.yaml')))
    throw new InputError(
      `no state directory with a spec at ${dir}: pass --state, the OUT/coordinator that \`kubeseed generate --out OUT\` wrote`,
    );
  return dir;
}

async function keptSpec(stateDir: string): Promise<ClusterSpec> {
  const file = join(stateDir, 'cluster.yaml');
  return parseSpec(await readFile(file), file).spec;
}

/** Runs `work` holding serve's lock: the coordinator must not run while its records are read and its plan changes. */
async function withServeStopped<T>(stateDir: string, io: Io, work: () => Promise<T>): Promise<T> {
  const release = await acquireStateLock(stateDir, {
    file: SERVE_LOCK_FILE,
    holder: 'kubeseed serve',
    onStale: (pid) => io.stderr(`note: taking over ${join(stateDir, SERVE_LOCK_FILE)} from pid ${pid}, which is gone\n`),
  }).catch((e: unknown) => {
    if (e instanceof StateError && e.code === 'LOCKED') throw new StateError('LOCKED', `stop the coordinator first: ${e.message}`, e.file);
    throw e;
  });
  try {
    return await work();
  } finally {
    await release();
  }
}

/** With replicas the state directory is copied to each: say that the new files must be too. */
function replicaNote(stateDir: string, records: RecordStore | undefined, files: string): string | undefined {
  if (!records?.url.startsWith('etcd://')) return undefined;
  return `${files} changed in ${stateDir} only: copy them to the state directory of every replica before starting the replicas again`;
}

/** An operation still open in DIR/day2.json must finish (or be removed) before the next starts. */
async function refuseOpenOperation(stateDir: string, plan: ReturnType<typeof planRollout>, io: Io, records?: RecordStore): Promise<void> {
  const open = await readDay2Operation(stateDir);
  if (!open) return;
  const hosts = await readRolloutHosts(
    stateDir,
    { ...plan, steps: open.steps.map((s) => ({ ...s, kind: s.kind as never, secrets: [] })) },
    io.env.KUBESEED_PASSPHRASE || undefined,
    records,
  );
  if (hosts.every((h) => h.ready || !open.steps.some((s) => s.host === h.name))) return;
  throw new InputError(
    `${join(stateDir, 'day2.json')}: ${open.id} has not finished; start \`kubeseed serve\` to finish it (or \`kubeseed retry HOST\` a failed step)`,
  );
}

function report(
  plan: Day2Plan,
  op: Day2Operation,
  dryRun: boolean,
  output: OutputFormat,
  io: Io,
  header: string,
  extra: { note?: string | undefined; renewed?: string[] | undefined } = {},
): number {
  const note = extra.note && !dryRun ? extra.note : undefined;
  const { renewed } = extra;
  printData(io, output, { operation: op.id, dryRun, ...(renewed ? { renewed } : {}), steps: plan.steps, ...(note ? { note } : {}) }, () => {
    if (renewed?.length) io.stdout(`# re-issued from the kept CAs in the state directory: ${renewed.join(', ')}\n`);
    io.stdout(`# ${header} (${plan.steps.length} steps, one host each, released in this order by \`kubeseed serve\`)\n`);
    for (const [i, s] of plan.steps.entries()) io.stdout(`${String(i + 1).padStart(3)}. ${s.id}  [after: ${s.after.join(', ') || '—'}]\n`);
    io.stdout(dryRun ? '# --dry-run: nothing written\n' : '# written to day2.json; start `kubeseed serve --state …` to run it\n');
    if (note) io.stdout(`# ${note}\n`);
  });
  return 0;
}

function refusal(e: unknown): never {
  if (e instanceof Day2Refusal) throw new InputError(e.message);
  throw e;
}

export async function cmdUpgrade(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('upgrade', argv);
  const stateDir = stateDirOf(flags, io);
  const specFile = isAbsolute(positional[0] as string) ? (positional[0] as string) : join(io.cwd, positional[0] as string);
  const target = parseSpec(await readFile(specFile), specFile).spec;
  const dryRun = flags['dry-run'] === true;
  const records = await recordStoreOf(flags);
  return withServeStopped(stateDir, io, async () => {
    const current = await keptSpec(stateDir);
    const hostsOf = (s: ClusterSpec) => s.hosts.map((h) => `${h.name}:${h.role}`).join(',');
    if (hostsOf(current) !== hostsOf(target))
      throw new InputError(
        `${specFile}: its hosts differ from the state's; add or remove hosts with \`kubeseed generate\` first, then upgrade`,
      );
    const plan = planRollout(current, []);
    await refuseOpenOperation(stateDir, plan, io, records);
    const id = `upgrade-${target.kubernetesVersion}`;
    let day2: Day2Plan;
    try {
      day2 = planUpgrade({
        operationId: id,
        currentVersion: current.kubernetesVersion,
        targetVersion: target.kubernetesVersion,
        ...(current.topology === 'stacked' ? {} : { etcd: { currentVersion: current.etcd.version, targetVersion: target.etcd.version } }),
        hosts: await readRolloutHosts(stateDir, plan, io.env.KUBESEED_PASSPHRASE || undefined, records),
        workerParallelism: target.rollout.workerParallelism,
        drainTimeoutSeconds: DRAIN_TIMEOUT_SECONDS,
      });
    } catch (e) {
      refusal(e);
    }
    // A new etcd executable only from a pinned tarball; packages only where a step can change them (ADR 0043).
    const issues = upgradeIssues(
      current,
      target,
      day2.steps.some((s) => s.kind === 'etcd-member-upgrade'),
    );
    if (issues.length > 0) throw new InputError(`${specFile}: ${issues.join('; ')}`);
    const op: Day2Operation = { id, operation: 'upgrade', steps: day2.steps };
    if (!dryRun) {
      await writeDay2Operation(stateDir, op);
      await copyFile(specFile, join(stateDir, 'cluster.yaml'));
    }
    const note = replicaNote(stateDir, records, 'day2.json and cluster.yaml');
    return report(day2, op, dryRun, output, io, `Upgrade ${current.kubernetesVersion} → ${target.kubernetesVersion}`, { note });
  });
}

export async function cmdRenew(argv: string[], io: Io): Promise<number> {
  const { flags, output } = parseCommand('renew', argv);
  const stateDir = stateDirOf(flags, io);
  const dryRun = flags['dry-run'] === true;
  const records = await recordStoreOf(flags);
  return withServeStopped(stateDir, io, async () => {
    const spec = await keptSpec(stateDir);
    const plan = planRollout(spec, []);
    await refuseOpenOperation(stateDir, plan, io, records);
    const id = `renew-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;
    let day2: Day2Plan;
    try {
      day2 = planRenewal({
        operationId: id,
        topology: spec.topology === 'stacked' ? 'stacked' : 'external-etcd',
        hosts: await readRolloutHosts(stateDir, plan, io.env.KUBESEED_PASSPHRASE || undefined, records),
      });
    } catch (e) {
      refusal(e);
    }
    const op: Day2Operation = { id, operation: 'renew', steps: day2.steps };
    // Re-issued only once the plan stands: a refusal above writes nothing.
    const renewed = dryRun
      ? undefined
      : (await renewLeaves({ stateDir, spec, ...(io.env.KUBESEED_PASSPHRASE ? { passphrase: io.env.KUBESEED_PASSPHRASE } : {}) })).renewed;
    if (!dryRun) await writeDay2Operation(stateDir, op);
    const note = replicaNote(stateDir, records, 'the re-issued certificates and day2.json');
    return report(day2, op, dryRun, output, io, 'Certificate renewal', { note, renewed });
  });
}
