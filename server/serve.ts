/**
 * The edges of the coordinator: `startCoordinator` listens (HTTPS only, the app is built with
 * the coordinator certificate) and `runServe` is what `kubeseed serve` runs — it opens the durable
 * store (`openStore`; the audit trail is records in it, and an `audit.log` from before ADR 0035 is
 * imported once; the store's secret records sealed under the passphrase, if any), creates the operator token if generate did not (0600), loads the state through
 * an injected loader, prints the status page URL and where the token is (never the token: stdout
 * ends up in journald and CI logs), and shuts down cleanly on SIGINT/SIGTERM. A restart on the
 * same state directory resumes the rollout.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ensureOperatorToken, OPERATOR_TOKEN_FILE } from '../generator/state/index.ts';
import { agentExecutablesRefusal } from './agent-binaries.ts';
import { type AppOptions, buildApp } from './app.ts';
import { BackupVault } from './backup/vault.ts';
import { type CoordinatorInputs, SECRET_RECORD_PREFIXES } from './coordinator.ts';
import type { KubernetesApi } from './kubernetes-api.ts';
import { electedReplica, type Replica, replicaId, soleReplica, storeKind } from './replica.ts';
import { importLegacyAudit, LEGACY_AUDIT_FILE, parseLegacyAuditLog } from './rollout/audit.ts';
import type { EtcdTls } from './store/etcd-client.ts';
import { EtcdLeaderElection, leaderKey } from './store/etcd-leader.ts';
import { EtcdStore } from './store/etcd-store.ts';
import { openStore, type Store } from './store/index.ts';
import { etcdTarget, type OpenStoreOptions, schemeOf } from './store/open.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `0.0.0.0:9443`, `[::]:9443`, `127.0.0.1:0`. */
export function parseListen(listen: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen.trim());
  if (!match) throw new Error(`listen address "${listen}" is not host:port (e.g. 0.0.0.0:9443 or [::]:9443)`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`listen port ${port} is out of range`);
  return { host: (match[1] ?? match[2])!, port };
}

export interface RunningCoordinator {
  app: FastifyInstance;
  /** `https://host:port` actually bound. */
  url: string;
  close(): Promise<void>;
}

/** Builds the app and listens with the coordinator certificate. The store must be open. */
export async function startCoordinator(
  inputs: CoordinatorInputs,
  options: AppOptions & { listen: ListenAddress },
): Promise<RunningCoordinator> {
  const app = buildApp(inputs, options);
  await app.listen({ host: options.listen.host, port: options.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.listen.port;
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  return {
    app,
    url: `https://${host}:${port}`,
    close: () => app.close(),
  };
}

/** What the state loader returns: everything but the operator token, which serve owns. */
export type LoadedState = Omit<CoordinatorInputs, 'operatorToken'> & { kubernetes?: KubernetesApi };

export interface ServeOptions {
  stateDir: string;
  /** `host:port`; default spec.coordinator.listen. */
  listen?: string;
  passphrase?: string;
  /** Where the records live (server/store/open.ts): default `journal:<stateDir>/store`. */
  store?: string;
  /** TLS to etcd for an `etcd://` store: the CA of its server certificates, a client certificate and key (PEM). */
  etcd?: EtcdTls;
  /** Where the agent executables are built (dist/): serve refuses to start when they are missing there (unless spec.mirrors.agent). */
  distDir?: string;
  /** Loads the coordinator state (generator/state) — injected so the server does not depend on how state is stored. */
  loadState(stateDir: string, options: { passphrase?: string }): Promise<LoadedState>;
  /** Where the banner goes (default process.stdout). */
  print?: (line: string) => void;
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  logger?: AppOptions['logger'];
  scheduler?: AppOptions['scheduler'];
  defaultWaitMs?: number;
  /** Registers more routes (the status page) on the app. */
  extend?: AppOptions['extend'];
  /** Connections one source address may hold (default: a quarter of the descriptors, 64 to 1,024). */
  maxConnectionsPerSource?: number;
  /** On etcd: this replica's URL that standbys name to agents (default spec.coordinator.url). */
  advertiseUrl?: string;
  /** On etcd: the leader lease's TTL in seconds (default 10). */
  leaseSeconds?: number;
}

/** Why a coordinator stopped: a signal or close(), or it lost the lead among replicas (serve exits 1). */
export type StopReason = 'stopped' | 'lost-lead';

export interface ServeHandle extends RunningCoordinator {
  operatorToken: string;
  /** Resolves once the coordinator stopped (signal or close()), with why. */
  stopped: Promise<StopReason>;
  /** This replica among others on etcd (server/replica.ts); the sole one otherwise. */
  replica: Replica;
}

/**
 * The open-file limit in force (Linux: /proc/self/limits), or undefined elsewhere. Node itself
 * raises the soft limit to the hard one at start (src/node.cc, "Raise the open file descriptor
 * limit"), so what is left here is what the service manager or shell allows.
 */
export function openFileLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limits, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/** Descriptors kept for the process itself (store, audit log, agent binaries, TLS, stdio) when capping connections. */
const RESERVED_DESCRIPTORS = 64;
/** Below this open-file limit, serve says how to raise it (each agent holds one or two connections). */
const LOW_FILE_LIMIT = 4096;

/** The URL an operator can open: the listen address, unless it is a wildcard (then the spec's coordinator URL host). */
export function operatorUrl(listenUrl: string, coordinatorUrl: string): string {
  const listen = new URL(listenUrl);
  if (listen.hostname !== '0.0.0.0' && listen.hostname !== '[::]') return listenUrl;
  const public_ = new URL(coordinatorUrl);
  return `https://${public_.hostname.includes(':') && !public_.hostname.startsWith('[') ? `[${public_.hostname}]` : public_.hostname}:${listen.port}`;
}

/**
 * An `audit.log` kept in the state directory before the trail moved into the store (ADR 0035):
 * its entries are imported once, ahead of the store's own, and the file is renamed
 * `audit.log.imported` (kept: nothing is deleted). Lines that are not entries are named.
 */
async function importLegacyAuditFile(stateDir: string, store: Store, print: (line: string) => void): Promise<void> {
  const file = join(stateDir, LEGACY_AUDIT_FILE);
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (text === undefined) return;
  const { entries, unreadable } = parseLegacyAuditLog(text);
  const imported = await importLegacyAudit(store, entries);
  await rename(file, `${file}.imported`);
  print(
    imported === 0
      ? `note: ${file} left as ${LEGACY_AUDIT_FILE}.imported: the store already holds an audit trail (nothing imported)`
      : `note: imported ${imported} audit entries from ${file} into the store (file kept as ${LEGACY_AUDIT_FILE}.imported)${
          unreadable.length ? `; lines ${unreadable.join(', ')} are not entries and were not imported` : ''
        }`,
  );
}

/** The election of this replica among those on the same etcd prefix (key `<prefix>leader`). */
function electReplica(
  storeUrl: string,
  storeOptions: OpenStoreOptions,
  options: ServeOptions,
  agentUrl: string,
  print: (line: string) => void,
): { election: EtcdLeaderElection; replica: ReturnType<typeof electedReplica> } {
  const { endpoints, prefix, tls } = etcdTarget(storeUrl, storeOptions);
  const id = replicaId();
  let replica: ReturnType<typeof electedReplica> | undefined;
  let lastError = '';
  const election = new EtcdLeaderElection({
    endpoints,
    tls,
    key: leaderKey(prefix),
    self: { id, url: options.advertiseUrl ?? agentUrl },
    ttlSeconds: options.leaseSeconds ?? 10,
    onChange: (state) => replica?.changed(state),
    onError: (error) => {
      // Said once per distinct error: a partition retries every third of the TTL.
      if (error.message !== lastError) print(`replica ${id}: election: ${error.message}`);
      lastError = error.message;
    },
  });
  replica = electedReplica(election, id);
  return { election, replica };
}

export async function runServe(options: ServeOptions): Promise<ServeHandle> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const state = await options.loadState(options.stateDir, options.passphrase !== undefined ? { passphrase: options.passphrase } : {});
  const refusal = options.distDir ? agentExecutablesRefusal(options.distDir, state.plan.spec.mirrors.agent) : null;
  if (refusal) throw new Error(refusal);
  const operatorToken = await ensureOperatorToken(options.stateDir);
  const storeUrl = options.store ?? `journal:${join(options.stateDir, 'store')}`;
  const storeOptions = {
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    sealedPrefixes: SECRET_RECORD_PREFIXES,
    ...(options.etcd ? { etcd: options.etcd } : {}),
    // One cluster's records per prefix: several clusters can share one etcd.
    defaultPrefix: `kubeseed/${state.plan.spec.name}/`,
  };
  const election =
    schemeOf(storeUrl) === 'etcd' ? electReplica(storeUrl, storeOptions, options, state.plan.spec.coordinator.url, print) : undefined;
  const store = await openStore(storeUrl, { ...storeOptions, ...(election ? { fence: () => election.election.fence() } : {}) });
  const replica = election?.replica ?? soleReplica(storeKind(store));
  if (election) {
    const role = await election.election.start();
    print(
      `replica ${replica.current().id}: ${role.role}${role.role === 'standby' && role.leader ? ` (the leader is ${role.leader.id}${role.leader.url ? ` at ${role.leader.url}` : ''})` : ''}`,
    );
    if (role.role === 'standby') replica.onLeader(() => print(`replica ${replica.current().id}: leads now; the rollout continues here`));
  }
  // Writing is the leader's: a standby leaves an old audit.log for the replica that leads at its start.
  if (replica.current().role === 'leader') await importLegacyAuditFile(options.stateDir, store, print);
  const fileLimit = openFileLimit();
  const { kubernetes, ...inputs } = state;
  const listen = parseListen(options.listen ?? inputs.plan.spec.coordinator.listen);
  const running = await startCoordinator(
    { ...inputs, operatorToken },
    {
      store,
      replica,
      listen,
      ...(kubernetes ? { kubernetes } : {}),
      ...(options.distDir ? { distDir: options.distDir } : {}),
      logger: options.logger ?? { level: 'info' },
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
      ...(options.defaultWaitMs ? { defaultWaitMs: options.defaultWaitMs } : {}),
      ...(options.extend ? { extend: options.extend } : {}),
      ...(fileLimit !== undefined ? { maxConnections: Math.max(32, fileLimit - RESERVED_DESCRIPTORS) } : {}),
      ...(options.maxConnectionsPerSource ? { maxConnectionsPerSource: options.maxConnectionsPerSource } : {}),
      ...(inputs.plan.spec.etcd.backup ? { backupVault: await BackupVault.open(options.stateDir, options.passphrase) } : {}),
    },
  );
  let resolveStopped!: (reason: StopReason) => void;
  const stopped = new Promise<StopReason>((resolve) => {
    resolveStopped = resolve;
  });
  let reason: StopReason = 'stopped';
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      if (reason === 'lost-lead') {
        // Nothing of the lost term can land (every write is fenced on it) and etcd may be out of
        // reach: cut the store and the election off first, so requests waiting on them end now.
        election?.election.abandon();
        if (store instanceof EtcdStore) store.abandon();
        await running.app.close();
      } else {
        await running.app.close();
        // A leader's lease is revoked here, so a standby takes over at its next campaign, not after the TTL.
        await election?.election.stop();
        await store.close();
      }
      resolveStopped(reason);
    })();
    return closing;
  };
  // A term's in-memory state (long-polls, timers) never outlives it: a replica that lost the lead
  // stops, and its service manager starts it again as a standby (as kube-controller-manager does).
  replica.onLostLead(() => {
    reason = 'lost-lead';
    print(`replica ${replica.current().id}: lost the lead (lease expired or etcd unreachable); stopping so it restarts as a standby`);
    void close();
  });
  if (options.handleSignals !== false) {
    const onSignal = (signal: NodeJS.Signals) => {
      if (closing) {
        print(`${signal} again: exiting now (state is durable; restart resumes)`);
        process.exit(1);
      }
      print(`${signal}: stopping the coordinator (a restart on ${options.stateDir} resumes the rollout)`);
      void close().then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  print(`kubeseed coordinator listening on ${running.url} (agents use ${inputs.plan.spec.coordinator.url})`);
  const tokenFile = join(options.stateDir, OPERATOR_TOKEN_FILE);
  print(`status page:    ${operatorUrl(running.url, inputs.plan.spec.coordinator.url)}/  (paste the operator token when asked)`);
  print(`operator token: in ${tokenFile} (0600); read it with: cat ${tokenFile}`);
  if (fileLimit !== undefined && fileLimit < LOW_FILE_LIMIT)
    print(
      `open-file limit: ${fileLimit} (about ${Math.floor((fileLimit - RESERVED_DESCRIPTORS) / 2)} agents); raise it with LimitNOFILE= in the unit or \`ulimit -n\` before \`kubeseed serve\``,
    );
  return { ...running, operatorToken, stopped, close, replica };
}
