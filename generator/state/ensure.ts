/**
 * `kubeseed generate`'s side of the state: makes the coordinator's secrets on the first run and
 * keeps them on every later run (user-data already pasted somewhere keeps working), adding what
 * new hosts need and dropping what removed hosts had; `rotate` replaces everything.
 *
 * Layout (docs/pki.md): OUT/coordinator/ (0700; files 0600) and OUT/credentials/enrollment.json
 * (the plaintext credentials the generator renders into user-data; never in the coordinator's
 * directory). Writes are atomic; state.json is written last and marks a complete state.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CertKeyPem,
  type ClusterPki,
  type CoordinatorTls,
  certificateMatchesAltNames,
  coordinatorAltNames,
  type EnrollmentRecord,
  etcdMemberAltNames,
  generateApiserverEtcdClient,
  generateBootstrapToken,
  generateCertificateKey,
  generateClusterPki,
  generateCoordinatorServerCertificate,
  generateCoordinatorTls,
  generateEnrollmentCredential,
  generateEtcdMemberPki,
  hashEnrollmentCredential,
  listEtcdMembers,
  verifyEnrollmentCredential,
} from '../pki/index.ts';
import type { ClusterSpec } from '../spec/types.ts';
import { createFileCipher, type FileCipher, isEnvelope } from './envelope.ts';
import { StateError } from './errors.ts';
import {
  ensurePrivateDir,
  exists,
  FILE_MODE,
  listFiles,
  modeOf,
  readFileIfExists,
  removeFileAndEmptyParents,
  syncDirs,
  writeFileAtomic,
} from './files.ts';
import {
  CREDENTIALS_DIR,
  CREDENTIALS_FILE,
  isSecretFile,
  memberDir,
  OWNED_DIRS,
  parseJson,
  STATE_FILE,
  stateToFiles,
  toJson,
} from './layout.ts';
import { readManifest, readState } from './load.ts';
import { acquireStateLock } from './lock.ts';
import { ensureOperatorToken } from './operator-token.ts';
import { type CoordinatorState, FLEET_KEY, STATE_FORMAT, STATE_VERSION, type StateManifest } from './types.ts';

/** Leaf certificates closer than this to expiry are re-issued by a re-run. */
export const RENEW_BEFORE_SECONDS = 30 * 24 * 3600;

export interface EnsureStateResult {
  state: CoordinatorState;
  /** Plaintext enrollment credentials: host → credential, plus `*` for the fleet credential. */
  credentials: Record<string, string>;
  /** What this run newly made, e.g. `pki/ca`, `pki/etcd/members/etcd1`, `credentials/worker3`, `credentials/*`. */
  created: string[];
  /** What this run dropped because the spec no longer needs it. */
  removed: string[];
  /** true when `rotate` replaced every secret: all previously generated user-data is now invalid. */
  rotated: boolean;
}

interface CredentialsFile {
  version: 1;
  hosts: Record<string, string>;
  fleet?: string;
}

export interface EnsureStateOptions {
  outDir: string;
  spec: ClusterSpec;
  rotate?: boolean;
  passphrase?: string;
  now?: Date;
}

export async function ensureState(options: EnsureStateOptions): Promise<EnsureStateResult> {
  for (const host of listEtcdMembers(options.spec)) memberDir(host.name);
  const stateDir = join(options.outDir, 'coordinator');
  await mkdir(options.outDir, { recursive: true });
  await ensurePrivateDir(stateDir);
  const release = await acquireStateLock(stateDir);
  try {
    return await ensureStateLocked(options);
  } finally {
    await release();
  }
}

async function ensureStateLocked(options: EnsureStateOptions): Promise<EnsureStateResult> {
  const { spec, outDir } = options;
  const rotate = options.rotate === true;
  const now = options.now ?? new Date();
  const stateDir = join(outDir, 'coordinator');
  const credentialsDir = join(outDir, CREDENTIALS_DIR);
  const cipher = createFileCipher(options.passphrase);
  const created: string[] = [];
  const removed: string[] = [];
  await ensurePrivateDir(credentialsDir);
  // Rotation reads nothing old: it must work on a damaged state or with a forgotten passphrase.
  const hadState = await exists(join(stateDir, STATE_FILE));
  const previous = !rotate && (await readManifest(stateDir)) ? await readState(stateDir, cipher) : undefined;
  if (previous) refuseKeyAlgorithmChange(stateDir, previous, spec);
  const previousCredentials = rotate ? undefined : await readCredentials(credentialsDir, cipher);
  if (rotate && hadState) {
    // An interrupted rotation must not leave old and new files mixed under a valid manifest.
    await rm(join(stateDir, STATE_FILE), { force: true });
  }

  const { pki, tls } = previous
    ? await reconcilePki(previous.pki, previous.tls, spec, now, created, removed)
    : await createPki(spec, now, created);

  const secrets = previous?.secrets ?? {
    bootstrapToken: generateBootstrapToken(),
    certificateKey: generateCertificateKey(),
    bootstrapTokenCreatedAt: now.toISOString(),
    certificateKeyCreatedAt: now.toISOString(),
  };
  if (!previous) created.push('secrets/bootstrap-token', 'secrets/certificate-key');

  const credentials: Record<string, string> = {};
  const enrollment: CoordinatorState['enrollment'] = { hosts: {} };
  const keepOrIssue = (key: string, kind: 'host' | 'fleet', record: EnrollmentRecord | undefined, plaintext: string | undefined) => {
    if (plaintext !== undefined && (record === undefined || verifyEnrollmentCredential(record, plaintext))) {
      credentials[key] = plaintext;
      return record ?? hashEnrollmentCredential(plaintext, now);
    }
    const fresh = generateEnrollmentCredential(kind);
    credentials[key] = fresh;
    created.push(`credentials/${key}`);
    return hashEnrollmentCredential(fresh, now);
  };
  for (const host of spec.hosts) {
    enrollment.hosts[host.name] = keepOrIssue(
      host.name,
      'host',
      previous?.enrollment.hosts[host.name],
      previousCredentials?.hosts[host.name],
    );
  }
  if (spec.fleet.enabled) enrollment.fleet = keepOrIssue(FLEET_KEY, 'fleet', previous?.enrollment.fleet, previousCredentials?.fleet);
  for (const host of Object.keys(previous?.enrollment.hosts ?? {})) if (!(host in enrollment.hosts)) removed.push(`credentials/${host}`);
  if (previous?.enrollment.fleet && !enrollment.fleet) removed.push(`credentials/${FLEET_KEY}`);

  const manifest: StateManifest = {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    cluster: {
      name: spec.name,
      kubernetesVersion: spec.kubernetesVersion,
      kubernetesMinor: spec.kubernetesMinor,
      topology: spec.topology,
      controlPlaneEndpoint: { ...spec.controlPlaneEndpoint },
      keyAlgorithm: spec.certificates.keyAlgorithm,
      coordinatorUrl: spec.coordinator.url,
    },
    etcdMembers: Object.keys(pki.etcdMembers),
    encrypted: cipher.encrypting,
    createdAt: previous?.manifest.createdAt ?? now.toISOString(),
    updatedAt: now.toISOString(),
  };
  const state: CoordinatorState = { dir: stateDir, manifest, pki, tls, secrets, enrollment };

  // Plaintext credentials first, hash records after: a crash in between re-hashes, never strands a host.
  const credentialsFile: CredentialsFile = { version: 1, hosts: {} };
  for (const host of spec.hosts) credentialsFile.hosts[host.name] = credentials[host.name]!;
  if (credentials[FLEET_KEY] !== undefined) credentialsFile.fleet = credentials[FLEET_KEY];
  await syncFiles(credentialsDir, new Map([[CREDENTIALS_FILE, toJson(credentialsFile)]]), cipher, rotate, `${CREDENTIALS_DIR}/`);
  await syncFiles(stateDir, stateToFiles(state), cipher, rotate, '');
  await removeStaleFiles(stateDir, stateToFiles(state));
  await writeFileAtomic(join(stateDir, STATE_FILE), toJson(manifest));
  await syncDirs([stateDir, credentialsDir]);

  // Written with the state: copies of this directory (replicas of the coordinator) accept one token.
  await ensureOperatorToken(stateDir);
  return { state, credentials, created, removed, rotated: rotate };
}

/** The kept PKI's algorithm must be the spec's: new leaves are signed by the kept CAs. */
export function refuseKeyAlgorithmChange(stateDir: string, previous: CoordinatorState, spec: ClusterSpec): void {
  if (previous.manifest.cluster.keyAlgorithm === spec.certificates.keyAlgorithm) return;
  throw new StateError(
    'KEY_ALGORITHM_CHANGED',
    `${stateDir} holds a ${previous.manifest.cluster.keyAlgorithm} PKI but spec.certificates.keyAlgorithm is ${spec.certificates.keyAlgorithm}; set it back, or run \`kubeseed generate --rotate\` to replace the PKI and every credential`,
    STATE_FILE,
  );
}

async function createPki(spec: ClusterSpec, now: Date, created: string[]): Promise<{ pki: ClusterPki; tls: CoordinatorTls }> {
  const [pki, tls] = await Promise.all([
    generateClusterPki({ spec, now }),
    generateCoordinatorTls({ url: spec.coordinator.url, replicaUrls: spec.coordinator.replicaUrls, now }),
  ]);
  created.push('pki/ca', 'pki/sa', 'pki/front-proxy-ca', 'pki/etcd/ca');
  if (pki.apiserverEtcdClient) created.push('pki/apiserver-etcd-client');
  for (const host of Object.keys(pki.etcdMembers)) created.push(`pki/etcd/members/${host}`);
  created.push('tls/ca', 'tls/server');
  return { pki, tls };
}

/**
 * Keeps the CAs and every still-valid leaf; issues what new or changed hosts need; drops the rest.
 * `renewAll` (`kubeseed renew`) re-issues every leaf, whatever its expiry.
 */
export async function reconcilePki(
  previousPki: ClusterPki,
  previousTls: CoordinatorTls,
  spec: ClusterSpec,
  now: Date,
  created: string[],
  removed: string[],
  renewAll = false,
): Promise<{ pki: ClusterPki; tls: CoordinatorTls }> {
  const algorithm = spec.certificates.keyAlgorithm;
  const expiresSoon = (pair: CertKeyPem) => renewAll || expiresBefore(pair, now);
  const pki: ClusterPki = { ...previousPki, etcdMembers: {} };
  const work: Promise<void>[] = [];
  if (spec.topology === 'external-etcd') {
    if (!previousPki.apiserverEtcdClient || expiresSoon(previousPki.apiserverEtcdClient)) {
      work.push(
        generateApiserverEtcdClient(pki.etcdCa, spec.kubernetesMinor, algorithm, now).then((client) => {
          pki.apiserverEtcdClient = client;
          created.push('pki/apiserver-etcd-client');
        }),
      );
    }
  } else if (previousPki.apiserverEtcdClient) {
    delete pki.apiserverEtcdClient;
    removed.push('pki/apiserver-etcd-client');
  }
  const members = listEtcdMembers(spec);
  for (const host of members) {
    const existing = previousPki.etcdMembers[host.name];
    const altNames = etcdMemberAltNames(host);
    const current =
      existing &&
      !expiresSoon(existing.server) &&
      !expiresSoon(existing.peer) &&
      !expiresSoon(existing.healthcheckClient) &&
      certificateMatchesAltNames(existing.server.cert, altNames) &&
      certificateMatchesAltNames(existing.peer.cert, altNames);
    if (current) {
      pki.etcdMembers[host.name] = existing;
      continue;
    }
    work.push(
      generateEtcdMemberPki({ etcdCa: pki.etcdCa, host, kubernetesMinor: spec.kubernetesMinor, keyAlgorithm: algorithm, now }).then(
        (member) => {
          pki.etcdMembers[host.name] = member;
          created.push(`pki/etcd/members/${host.name}`);
        },
      ),
    );
  }
  for (const host of Object.keys(previousPki.etcdMembers)) {
    if (!members.some((m) => m.name === host)) removed.push(`pki/etcd/members/${host}`);
  }

  const tls: CoordinatorTls = { ...previousTls };
  const { dnsNames, ipAddresses } = coordinatorAltNames(spec.coordinator.url, spec.coordinator.replicaUrls);
  if (expiresSoon(previousTls.server) || !certificateMatchesAltNames(previousTls.server.cert, { dnsNames, ipAddresses })) {
    work.push(
      generateCoordinatorServerCertificate({
        ca: previousTls.ca,
        url: spec.coordinator.url,
        replicaUrls: spec.coordinator.replicaUrls,
        now,
      }).then((server) => {
        tls.server = server;
        created.push('tls/server');
      }),
    );
  }
  await Promise.all(work);
  // Keep member order as in the spec, whatever order the key generation finished in.
  pki.etcdMembers = Object.fromEntries(members.map((m) => [m.name, pki.etcdMembers[m.name]!]));
  return { pki, tls };
}

function expiresBefore(pair: CertKeyPem, now: Date): boolean {
  return new Date(new X509Certificate(pair.cert).validTo).getTime() - now.getTime() < RENEW_BEFORE_SECONDS * 1000;
}

async function readCredentials(dir: string, cipher: FileCipher): Promise<CredentialsFile | undefined> {
  const relative = `${CREDENTIALS_DIR}/${CREDENTIALS_FILE}`;
  const stored = await readFileIfExists(join(dir, CREDENTIALS_FILE));
  if (stored === undefined) return undefined;
  const parsed = parseJson<CredentialsFile>(relative, await cipher.open(relative, stored));
  return { version: 1, hosts: parsed.hosts ?? {}, ...(parsed.fleet ? { fleet: parsed.fleet } : {}) };
}

/**
 * Writes each file whose content, or whose encryption, differs from what is on disk (all of
 * them when rotating); fixes the mode of files it keeps. `aadPrefix` + name is the envelope's
 * additional data, i.e. the path relative to the directory loadState reads.
 */
export async function syncFiles(
  dir: string,
  files: Map<string, string>,
  cipher: FileCipher,
  rewrite: boolean,
  aadPrefix: string,
): Promise<void> {
  const dirs = new Set<string>();
  for (const [relative, content] of files) {
    const path = join(dir, relative);
    const parent = join(path, '..');
    if (!dirs.has(parent)) {
      await ensurePrivateDir(parent);
      dirs.add(parent);
    }
    const secret = isSecretFile(relative) || aadPrefix !== '';
    const aad = aadPrefix + relative;
    const stored = rewrite ? undefined : await readFileIfExists(path);
    if (stored !== undefined && isEnvelope(stored) === (secret && cipher.encrypting)) {
      const plaintext = secret ? await cipher.open(aad, stored) : stored;
      if (plaintext === content) {
        if ((await modeOf(path)) !== FILE_MODE) await chmod(path, FILE_MODE);
        continue;
      }
    }
    await writeFileAtomic(path, secret ? await cipher.seal(aad, content) : content);
  }
  await syncDirs(dirs);
}

/** Removes files under pki/ and tls/ (including leftovers of interrupted writes) that the state no longer names. */
export async function removeStaleFiles(stateDir: string, files: Map<string, string>): Promise<void> {
  for (const owned of OWNED_DIRS) {
    for (const relative of await listFiles(stateDir, owned)) {
      if (!files.has(relative)) await removeFileAndEmptyParents(stateDir, relative);
    }
  }
  for (const relative of await listFiles(stateDir)) {
    if (/^(state|secrets|enrollment)\.json\.tmp-/.test(relative)) await removeFileAndEmptyParents(stateDir, relative);
  }
}
