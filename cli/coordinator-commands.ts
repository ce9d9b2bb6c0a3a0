/**
 * The coordinator's CLI commands: `kubeseed serve` and the operator commands that talk to a
 * running coordinator (`hosts`, `retry`, `approve`, `rebind`, `remove`). The command table in
 * cli/commands.ts loads this module lazily, so generating user-data never loads the server.
 * Admin commands need the state directory: the operator token and the pinned CA live there.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../generator/util/package-root.ts';
import {
  type AdminConnection,
  AdminError,
  approveHost,
  closeAdminClients,
  type HostSummary,
  listHosts,
  rebindHost,
  removeHost,
  retryHost,
} from '../server/admin-client.ts';
import { startBootListener } from '../server/boot-listener.ts';
import { loadCoordinatorState } from '../server/load-state.ts';
import { certificateWarning, expiryDate } from '../server/model.ts';
import { type LoadedState, runServe } from '../server/serve.ts';
import { statusPagePlugin } from '../server/status-page/index.ts';
import { parseArgs, UsageError } from './args.ts';
import type { Io } from './commands.ts';
import { terminalSafe } from './status.ts';
import { formatTable } from './table.ts';

const DEFAULT_STATE = 'out/coordinator';

export async function cmdServe(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv, { booleans: [], values: ['state', 'listen', 'dist', 'max-connections-per-source'] });
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"; the state directory goes in --state`);
  const perSource = flags['max-connections-per-source'] as string | undefined;
  if (perSource !== undefined && !/^[1-9][0-9]*$/.test(perSource))
    throw new UsageError(
      `--max-connections-per-source: "${perSource}" is not a whole number of at least 1; e.g. 4096 where every agent comes through one NAT or reverse proxy`,
    );
  const stateDir = (flags.state as string | undefined) ?? DEFAULT_STATE;
  const passphrase = io.env.KUBESEED_PASSPHRASE || undefined;
  let loaded: LoadedState | undefined;
  const handle = await runServe({
    stateDir,
    ...(flags.listen ? { listen: flags.listen as string } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(perSource ? { maxConnectionsPerSource: Number(perSource) } : {}),
    distDir: (flags.dist as string | undefined) ?? join(packageRoot(import.meta.dirname), 'dist'),
    loadState: async (dir, options) => {
      loaded = await loadCoordinatorState(dir, options);
      return loaded;
    },
    print: (line) => io.stdout(`${line}\n`),
    // The status page at `/` (its shell holds no data; the page reads /v1/status with the operator token).
    extend: (app) => void app.register(statusPagePlugin),
  });
  const spec = loaded!.plan.spec;
  const http = spec.coordinator.httpListen ? await startBootListener(spec, stateDir, spec.coordinator.httpListen) : undefined;
  if (http)
    io.stdout(
      `boot content (no secrets) on http://${spec.coordinator.httpListen}: /boot.ipxe, /ipxe?mac=…, /nocloud/fleet/, /ignition/fleet.ign\n`,
    );
  await handle.stopped;
  await http?.close();
  return 0;
}

async function adminConnection(flags: Record<string, string | boolean>): Promise<AdminConnection> {
  const stateDir = (flags.state as string | undefined) ?? DEFAULT_STATE;
  const read = (file: string, what: string) =>
    readFile(join(stateDir, file), 'utf8').catch(() => {
      throw new UsageError(
        `${join(stateDir, file)} is missing (${what}); pass --state DIR/coordinator of a generated cluster${file === 'operator-token' ? ' whose coordinator has been started once' : ''}`,
      );
    });
  const token = (flags.token as string | undefined) ?? (await read('operator-token', 'the operator token `kubeseed serve` creates')).trim();
  const ca = await read('tls/ca.crt', 'the coordinator CA');
  let url = flags.url as string | undefined;
  if (!url) {
    const manifest = JSON.parse(await read('state.json', 'the state manifest')) as { cluster: { coordinatorUrl: string } };
    url = manifest.cluster.coordinatorUrl;
  }
  return { url, ca, operatorToken: token };
}

const ADMIN_FLAGS = { booleans: ['json'], values: ['state', 'url', 'token'] };

export async function cmdHosts(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv, ADMIN_FLAGS);
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  return withAdminErrors(async () => {
    const hosts = await listHosts(await adminConnection(flags));
    if (flags.json) {
      io.stdout(`${JSON.stringify(hosts, null, 2)}\n`);
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
        h.currentStep ?? '-',
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
    return 0;
  });
}

/** 4xx from the coordinator is the operator's input (unknown host, wrong token): exit 2; the rest stays a runtime failure. */
async function withAdminErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AdminError && e.statusCode >= 400 && e.statusCode < 500) throw Object.assign(new Error(e.message), { exitCode: 2 });
    if (e instanceof Error && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|other side closed/.test(e.message)) {
      throw Object.assign(
        new Error(
          `cannot reach the coordinator (${e.message}); is \`kubeseed serve\` running? pass --url https://HOST:PORT if it listens elsewhere`,
        ),
        { exitCode: 1 },
      );
    }
    throw e;
  } finally {
    await closeAdminClients();
  }
}

function hostCommand(action: (c: AdminConnection, host: string) => Promise<object>, verb: string) {
  return async (argv: string[], io: Io): Promise<number> => {
    const { positional, flags } = parseArgs(argv, ADMIN_FLAGS);
    const host = positional[0];
    if (!host || positional.length > 1) throw new UsageError(`name one host: kubeseed ${verb} HOST`);
    const result = await withAdminErrors(async () => action(await adminConnection(flags), host));
    io.stdout(flags.json ? `${JSON.stringify(result)}\n` : `${verb} ${host}: ${JSON.stringify(result)}\n`);
    return 0;
  };
}

export const cmdRetry = hostCommand(retryHost, 'retry');
/**
 * `kubeseed approve HOST [--key SHA256:…]`: with one machine waiting, approves it; with several,
 * `--key` names the one to bind (the others are rejected) — without it the coordinator answers
 * 409 listing the candidates and this exits 2 with that list.
 */
export async function cmdApprove(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv, { ...ADMIN_FLAGS, values: [...ADMIN_FLAGS.values, 'key'] });
  const host = positional[0];
  if (!host || positional.length > 1) throw new UsageError('name one host: kubeseed approve HOST [--key SHA256:…]');
  const key = flags.key as string | undefined;
  if (key !== undefined && !/^SHA256:[A-Za-z0-9+/]{16,43}$/.test(key)) {
    throw new UsageError(`--key ${JSON.stringify(key)} is not a key fingerprint; copy the SHA256:… shown by \`kubeseed hosts\``);
  }
  const result = await withAdminErrors(async () => approveHost(await adminConnection(flags), host, key));
  if (flags.json) io.stdout(`${JSON.stringify(result)}\n`);
  else {
    const rejected = result.rejected ? `; ${result.rejected} other machine(s) rejected` : '';
    io.stdout(`approve ${host}: approved${result.key ? ` key ${result.key}` : ''}${rejected}\n`);
  }
  return 0;
}

/** Machines waiting for approval, one line each, below the hosts table: what the operator compares. */
function printCandidates(hosts: HostSummary[], io: Io): void {
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
export const cmdRebind = hostCommand(rebindHost, 'rebind');
export const cmdRemove = hostCommand(removeHost, 'remove');
