/**
 * `kubeseed backups [--state DIR] [-o json|yaml]`: the etcd snapshots the coordinator keeps
 * (spec.etcd.backup; server/backup/vault.ts), from their metadata alone. `kubeseed backups export
 * ID --out FILE`: one of them decrypted with KUBESEED_PASSPHRASE to a plain snapshot file for
 * `etcdutl snapshot restore` (`etcdctl snapshot restore` with etcd 3.4), checked on the way (the
 * seal, etcd's own hash) and by `snapshot status` where this machine has etcdutl or etcdctl.
 * Needs no running coordinator. docs/day2.md, "Backing up and restoring etcd".
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { BACKUPS_DIR, BackupRefused, BackupVault, listBackups } from '../server/backup/vault.ts';
import { UsageError } from './args.ts';
import { DEFAULT_STATE_DIR, type Io, parseCommand } from './commands.ts';
import { InputError } from './exit-codes.ts';
import { printData } from './output.ts';
import { formatTable } from './table.ts';

const run = promisify(execFile);

/** The executable `tool` in the directories of `path` (the PATH this command was given), if any. */
function onPath(tool: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(':').filter(Boolean)) {
    const file = join(dir, tool);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

/** `snapshot status` of a plain snapshot file by whichever of etcdutl (3.5+) and etcdctl (3.4) this machine has. */
async function statusHere(
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<{ tool: string; revision: number; totalKey: number } | { tool: null; note: string }> {
  for (const tool of ['etcdutl', 'etcdctl']) {
    const path = onPath(tool, env.PATH);
    if (!path) continue;
    try {
      const { stdout } = await run(path, ['snapshot', 'status', file, '-w', 'json'], {
        env: { ...process.env, ETCDCTL_API: '3' },
        timeout: 300_000,
      });
      const v = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { revision: number; totalKey: number };
      return { tool, revision: v.revision, totalKey: v.totalKey };
    } catch (error) {
      throw new InputError(
        `${tool} snapshot status ${file} failed: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`,
      );
    }
  }
  return {
    tool: null,
    note: 'neither etcdutl nor etcdctl on this machine: `snapshot status` not run (the seal and etcd’s hash were checked)',
  };
}

export async function cmdBackups(argv: string[], io: Io): Promise<number> {
  const { flags, positional, output } = parseCommand('backups', argv);
  const stateArg = (flags.state as string | undefined) ?? DEFAULT_STATE_DIR;
  const stateDir = isAbsolute(stateArg) ? stateArg : join(io.cwd, stateArg);
  const dir = join(stateDir, BACKUPS_DIR);
  const [action, id] = positional;
  if (action === undefined) {
    const backups = existsSync(dir) ? await listBackups(dir) : [];
    printData(io, output, { stateDir, backups }, () => {
      if (backups.length === 0) {
        io.stdout(`no etcd snapshots in ${dir} (spec.etcd.backup sets how often the coordinator takes them)\n`);
        return;
      }
      io.stdout(
        formatTable([
          ['ID', 'HOST', 'TAKEN', 'SIZE', 'REVISION', 'KEYS', 'VERIFIED'],
          ...backups.map((b) => [
            b.id,
            b.host,
            b.takenAt,
            `${(b.bytes / 1024 ** 2).toFixed(1)} MiB`,
            b.status ? String(b.status.revision) : '-',
            b.status ? String(b.status.totalKey) : '-',
            b.verified ? `hash${b.status ? ` + ${b.status.tool} status` : ''}` : 'no',
          ]),
        ]),
      );
    });
    return 0;
  }
  if (action !== 'export') throw new UsageError(`kubeseed backups ${action}: the action is export (kubeseed backups export ID --out FILE)`);
  if (!id) throw new UsageError('kubeseed backups export needs the snapshot ID (`kubeseed backups` lists them)');
  const outArg = flags.out as string | undefined;
  if (!outArg) throw new UsageError('kubeseed backups export needs --out FILE (the plain snapshot is written there, 0600)');
  const out = isAbsolute(outArg) ? outArg : join(io.cwd, outArg);
  if (existsSync(out) && !flags.force) throw new UsageError(`${out} exists; pass --force to overwrite it`);
  if (!existsSync(dir)) throw new InputError(`no etcd snapshots in ${stateDir}: ${dir} does not exist`);
  let record: Awaited<ReturnType<BackupVault['export']>>;
  try {
    const vault = await BackupVault.open(stateDir, io.env.KUBESEED_PASSPHRASE || undefined);
    record = await vault.export(id, out);
  } catch (error) {
    // A StoreRefusal (no or a wrong passphrase) exits 2 through the exit-code table.
    if (error instanceof BackupRefused) throw new InputError(error.message);
    throw error;
  }
  const status = await statusHere(out, io.env);
  printData(
    io,
    output,
    { id: record.id, host: record.host, takenAt: record.takenAt, file: out, bytes: record.bytes, sha256: record.sha256, status },
    () => {
      io.stdout(`wrote ${out} (${record.bytes} bytes, sha256 ${record.sha256}), taken on ${record.host} at ${record.takenAt}\n`);
      io.stdout(
        `${'note' in status ? status.note : `${status.tool} snapshot status: revision ${status.revision}, ${status.totalKey} keys`}\n`,
      );
      io.stdout('restore: docs/day2.md, "Backing up and restoring etcd"\n');
    },
  );
  return 0;
}
