/**
 * The coordinator's CLI commands: `kubeseed serve` and the operator commands that talk to a
 * running coordinator (`hosts`, `audit`, `retry`, `approve`, `rebind`, `remove`). The command table in
 * cli/commands.ts loads this module lazily, so generating user-data never loads the server.
 * Admin commands need the state directory: the operator token and the pinned CA live there.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { acquireStateLock, SERVE_LOCK_FILE } from '../generator/state/lock.ts';
import {
  type AdminConnection,
  AdminError,
  approveHost,
  closeAdminClients,
  fetchAudit,
  type HostListing,
  listHosts,
  rebindHost,
  removeHost,
  retryHost,
} from '../server/admin-client.ts';
import { defaultDistDir } from '../server/agent-binaries.ts';
import { startBootListener } from '../server/boot-listener.ts';
import { hostNoteLines } from '../server/host-notes.ts';
import { loadCoordinatorState } from '../server/load-state.ts';
import { certificateWarning, expiryDate } from '../server/model.ts';
import { isPxeInstalled } from '../server/pxe-state.ts';
import { type LoadedState, parseListen, runServe } from '../server/serve.ts';
import { statusPagePlugin } from '../server/status-page/index.ts';
import { UsageError } from './args.ts';
import { DEFAULT_STATE_DIR, type Io, parseCommand } from './commands.ts';
import { resolveTarget } from './coordinator-target.ts';
import { CoordinatorError, InputError } from './exit-codes.ts';
import { humanLogStream } from './log-format.ts';
import { printData } from './output.ts';
import { terminalSafe } from './status.ts';
import { etcdTlsOf } from './store-flags.ts';
import { formatTable } from './table.ts';

export async function cmdServe(argv: string[], io: Io): Promise<number> {
  const { flags } = parseCommand('serve', argv);
  const perSource = flags['max-connections-per-source'] as string | undefined;
  if (perSource !== undefined && !/^[1-9][0-9]*$/.test(perSource))
    throw new UsageError(
      `--max-connections-per-source: "${perSource}" is not a whole number of at least 1; e.g. 4096 where every agent comes through one NAT or reverse proxy`,
    );
  const lease = flags.lease as string | undefined;
  if (lease !== undefined && !(/^[0-9]{1,3}$/.test(lease) && Number(lease) >= 2 && Number(lease) <= 120))
    throw new UsageError(`--lease: "${lease}" is not a whole number of seconds from 2 to 120; 10 suits most networks`);
  if (flags.advertise !== undefined && !/^https:\/\/[^/\s]+$/.test(String(flags.advertise)))
    throw new UsageError(`--advertise: "${String(flags.advertise)}" is not an https://HOST:PORT URL (no path); e.g. https://10.0.0.5:9443`);
  if ((lease !== undefined || flags.advertise !== undefined) && !String(flags.store ?? '').startsWith('etcd://'))
    throw new UsageError('--lease and --advertise go with --store etcd://HOST:PORT[,…] (replicas elect a leader only on etcd)');
  if (typeof flags.listen === 'string') {
    try {
      parseListen(flags.listen);
    } catch (e) {
      throw new UsageError(`--listen: ${(e as Error).message}`);
    }
  }
  const stateDir = (flags.state as string | undefined) ?? DEFAULT_STATE_DIR;
  const passphrase = io.env.KUBESEED_PASSPHRASE || undefined;
  // One coordinator per state directory: two would each hand out steps from their own copy of the store.
  const release = !existsSync(stateDir)
    ? async () => {} // runServe says the state is missing and how to make it
    : await acquireStateLock(stateDir, {
        file: SERVE_LOCK_FILE,
        holder: 'kubeseed serve',
        onStale: (pid) => io.stderr(`note: taking over ${join(stateDir, SERVE_LOCK_FILE)} from pid ${pid}, which is gone\n`),
      });
  try {
    return await serveLocked(stateDir, flags, passphrase, perSource, io);
  } finally {
    await release();
  }
}

async function serveLocked(
  stateDir: string,
  flags: Record<string, string | boolean>,
  passphrase: string | undefined,
  perSource: string | undefined,
  io: Io,
): Promise<number> {
  let loaded: LoadedState | undefined;
  const handle = await runServe({
    stateDir,
    ...(flags.listen ? { listen: flags.listen as string } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(perSource ? { maxConnectionsPerSource: Number(perSource) } : {}),
    ...(flags.store ? { store: flags.store as string } : {}),
    ...(flags.advertise ? { advertiseUrl: flags.advertise as string } : {}),
    ...(flags.lease ? { leaseSeconds: Number(flags.lease) } : {}),
    ...(await etcdTlsOf(flags)),
    distDir: (flags.dist as string | undefined) ?? defaultDistDir(),
    loadState: async (dir, options) => {
      loaded = await loadCoordinatorState(dir, options);
      return loaded;
    },
    print: (line) => io.stdout(`${line}\n`),
    logger: {
      level: (flags['log-level'] as string | undefined) ?? 'info',
      ...(flags['log-format'] === 'json' ? {} : { stream: humanLogStream((line) => io.stdout(line)) }),
    },
    // The status page at `/` (its shell holds no data; the page reads /v1/status with the operator token).
    extend: (app) => void app.register(statusPagePlugin),
  });
  const spec = loaded!.plan.spec;
  // The boot route asks the store whether a machine is installed (ADR 0022).
  const installed = (mac: string, host: string | null) => isPxeInstalled(handle.app.coordinator.hostRecords(), mac, host);
  const assetsDir = flags.assets as string | undefined;
  const http = spec.coordinator.httpListen
    ? await startBootListener(spec, stateDir, spec.coordinator.httpListen, { installed, ...(assetsDir ? { assetsDir } : {}) })
    : undefined;
  if (http)
    io.stdout(
      `boot content (no secrets) on http://${spec.coordinator.httpListen}: /boot.ipxe, /ipxe?mac=…, /nocloud/<name>/, /ignition/<name>.ign (docs/pxe.md)\n`,
    );
  const reason = await handle.stopped;
  await http?.close();
  // A replica that lost the lead exits non-zero so its service manager (Restart=on-failure) starts it again as a standby.
  return reason === 'lost-lead' ? 1 : 0;
}

async function adminConnection(flags: Record<string, string | boolean>, io: Io): Promise<AdminConnection> {
  const target = await resolveTarget(flags, io);
  return { url: target.url, ca: target.ca, operatorToken: target.token };
}

export async function cmdHosts(argv: string[], io: Io): Promise<number> {
  const { flags, output } = parseCommand('hosts', argv);
  return withAdminErrors(async () => {
    const hosts = await listHosts(await adminConnection(flags, io));
    if (output !== 'text') {
      printData(io, output, hosts, () => {});
      return 0;
    }
    const rows = [
      ['HOST', 'ROLE', 'STATE', 'STEP', 'WAITING FOR', 'CERTS EXPIRE'],
      ...hosts.map((h) => [
        h.name,
        h.role,
        h.removed
          ? 'removed'
          : h.failed
            ? 'failed'
            : h.done
              ? 'done'
              : h.awaitingApproval
                ? 'awaiting-approval'
                : h.enrolled
                  ? 'enrolled'
                  : 'not-enrolled',
        h.currentStep ?? h.failure ?? '-',
        h.waitingFor ?? '-',
        h.certificateExpiry ? expiryDate(h.certificateExpiry.notAfter) : '-',
      ]),
    ];
    // Remote strings (waiting-for text, machine facts) may carry escape sequences: printed escaped.
    io.stdout(formatTable(rows.map((row) => row.map((cell) => terminalSafe(String(cell))))));
    // Below 30 days of validity: one line per host (the status page and `kubeseed status` say it too).
    const now = Date.now();
    for (const h of hosts) {
      const warning = certificateWarning(h.certificateExpiry, now);
      if (warning && !h.removed) io.stdout(`WARNING: ${h.name}: ${warning}\n`);
    }
    printCandidates(hosts, io);
    // Install failures (with their log) and cloud-init's own errors, one host at a time.
    for (const h of hosts) for (const line of hostNoteLines(h, 5)) if (!h.removed) io.stdout(`${terminalSafe(line)}\n`);
    return 0;
  });
}

/** `kubeseed audit [--host H]`: the secret hand-outs, oldest first (server/rollout/audit.ts). */
export async function cmdAudit(argv: string[], io: Io): Promise<number> {
  const { flags, output } = parseCommand('audit', argv);
  const host = flags.host as string | undefined;
  const entries = await withAdminErrors(async () => fetchAudit(await adminConnection(flags, io), host));
  printData(io, output, { entries }, () => {
    if (entries.length === 0) {
      io.stdout(`no secret handed out yet${host ? ` to ${host}` : ''}\n`);
      return;
    }
    const rows = [
      ['AT', 'HOST', 'STEP', 'ATTEMPT', 'SECRETS'],
      ...entries.map((e) => [
        e.at,
        e.host,
        e.step,
        String(e.attempt),
        e.backup
          ? `etcd snapshot ${e.backup.id} received${e.backup.pruned.length ? ` (deleted by retention: ${e.backup.pruned.join(', ')})` : ''}`
          : e.secrets.join(','),
      ]),
    ];
    io.stdout(formatTable(rows.map((row) => row.map((cell) => terminalSafe(cell)))));
  });
  return 0;
}

/** 4xx from the coordinator is the operator's input (unknown host, wrong token): exit 2; the rest stays a runtime failure. */
async function withAdminErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AdminError && e.statusCode >= 400 && e.statusCode < 500) throw new InputError(e.message);
    if (e instanceof Error && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|other side closed/.test(e.message)) {
      throw new CoordinatorError(
        `cannot reach the coordinator (${e.message}); is \`kubeseed serve\` running? pass --url https://HOST:PORT if it listens elsewhere`,
      );
    }
    throw e;
  } finally {
    await closeAdminClients();
  }
}

export async function cmdRetry(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('retry', argv);
  const host = positional[0]!;
  const result = await withAdminErrors(async () => retryHost(await adminConnection(flags, io), host));
  printData(io, output, result, () =>
    io.stdout(
      `${host}: re-queued ${result.requeued.length} failed step(s): ${result.requeued.join(', ')}; \`kubeseed status --watch\` follows them\n`,
    ),
  );
  return 0;
}

/**
 * `kubeseed approve HOST [--key SHA256:…]`: with one machine waiting, approves it; with several,
 * `--key` names the one to bind (the others are rejected) — without it the coordinator answers
 * 409 listing the candidates and this exits 2 with that list. Nothing waiting: 409, exit 2.
 */
export async function cmdApprove(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('approve', argv);
  const host = positional[0]!;
  const key = flags.key as string | undefined;
  if (key !== undefined && !/^SHA256:[A-Za-z0-9+/]{16,43}$/.test(key)) {
    throw new UsageError(`--key ${JSON.stringify(key)} is not a key fingerprint; copy the SHA256:… shown by \`kubeseed hosts\``);
  }
  const result = await withAdminErrors(async () => approveHost(await adminConnection(flags, io), host, key));
  printData(io, output, result, () => {
    const rejected = result.rejected ? `; ${result.rejected} other machine(s) claiming ${host} were rejected` : '';
    io.stdout(`${host}: approved${result.key ? ` the machine with key ${result.key}` : ''}; it now runs its steps${rejected}\n`);
  });
  return 0;
}

/** Asks on a terminal, or requires --yes: remove and rebind change what the cluster is made of. */
async function confirmChange(flags: Record<string, string | boolean>, io: Io, question: string, verb: string): Promise<boolean> {
  if (flags.yes || flags['dry-run']) return true;
  if (!io.confirm) {
    throw new UsageError(
      `${verb} changes the cluster: pass --yes to confirm (no terminal to ask on), or --dry-run to see what it would do`,
    );
  }
  return io.confirm(`${question} [y/N] `);
}

export async function cmdRebind(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('rebind', argv);
  const host = positional[0]!;
  const dryRun = Boolean(flags['dry-run']);
  if (
    !(await confirmChange(
      flags,
      io,
      `Rebind ${host}: forget its machine so a rebuilt one enrolls with its user-data, and start its steps over?`,
      'rebind',
    ))
  ) {
    io.stderr(`${host}: not rebound; nothing changed\n`);
    return 1;
  }
  const result = await withAdminErrors(async () => rebindHost(await adminConnection(flags, io), host, { dryRun }));
  printData(io, output, result, () =>
    io.stdout(
      dryRun
        ? `dry run: rebind ${host} would forget its machine and start ${result.restarts?.length ?? 0} step(s) over (${result.restarts?.join(', ') || 'none'}); nothing changed\n`
        : `${host}: rebound; a rebuilt machine may now enroll once with ${host}'s user-data, and its steps start over\n`,
    ),
  );
  return 0;
}

export async function cmdRemove(argv: string[], io: Io): Promise<number> {
  const { positional, flags, output } = parseCommand('remove', argv);
  const host = positional[0]!;
  const dryRun = Boolean(flags['dry-run']);
  if (!(await confirmChange(flags, io, `Remove ${host} from the cluster (its Node object and etcd member are deleted)?`, 'remove'))) {
    io.stderr(`${host}: not removed; nothing changed\n`);
    return 1;
  }
  const result = await withAdminErrors(async () => removeHost(await adminConnection(flags, io), host, { dryRun }));
  const cleanup = result.cleanup.length ? `cleanup step(s) ${result.cleanup.join(', ')}` : 'no cleanup (it never joined)';
  printData(io, output, result, () =>
    io.stdout(
      dryRun
        ? `dry run: remove ${host} would cancel ${result.cancels?.length ?? 0} step(s) and run ${cleanup}; nothing changed\n`
        : `${host}: removed; its remaining steps are cancelled and the coordinator runs ${cleanup}\n`,
    ),
  );
  return 0;
}

/** Machines waiting for approval, one line each, below the hosts table: what the operator compares. */
function printCandidates(hosts: HostListing[], io: Io): void {
  for (const h of hosts) {
    if (!h.candidates?.length) continue;
    io.stdout(
      `\n${terminalSafe(h.name)}: ${h.candidates.length} machine(s) wait for approval (kubeseed approve ${terminalSafe(h.name)} --key FINGERPRINT):\n`,
    );
    for (const c of h.candidates) {
      const line = `  ${c.keyFingerprint}  machine-id ${c.machineId || '-'}  MACs ${c.macs.join(',') || '-'}  UUID ${c.smbiosUuid || '-'}  from ${c.sourceAddress}  matched by ${c.matchedBy}${c.fleetCredential ? '' : ' (no credential)'}  first seen ${new Date(c.firstSeen).toISOString()}`;
      io.stdout(`${terminalSafe(line)}\n`);
    }
  }
}
