/**
 * Where each part of CoordinatorState lives in the state directory, in kubeadm's own pki/
 * layout, and which files are secret (encrypted with a passphrase). Pure mapping both ways.
 */
import type { CertKeyPem, ClusterPki, CoordinatorTls, EtcdMemberPki } from '../pki/index.ts';
import { StateError } from './errors.ts';
import type { BootstrapSecrets, CoordinatorState, EnrollmentRecords, StateManifest } from './types.ts';

export const STATE_FILE = 'state.json';
export const SECRETS_FILE = 'secrets.json';
export const ENROLLMENT_FILE = 'enrollment.json';
/** Written by `kubeseed serve` beside the state; the operator commands read it. */
export const OPERATOR_TOKEN_FILE = 'operator-token';
/** Relative to OUT: the plaintext enrollment credentials the generator renders into user-data. */
export const CREDENTIALS_DIR = 'credentials';
export const CREDENTIALS_FILE = 'enrollment.json';
/** Subdirectories wholly owned by this module: files there that the state does not name are removed. */
export const OWNED_DIRS = ['pki', 'tls'] as const;

export const MEMBER_FILES = ['server', 'peer', 'healthcheck-client'] as const;

/** Private keys and secrets.json are secret; certificates, sa.pub, state.json and hash records are not. */
export function isSecretFile(relative: string): boolean {
  return relative.endsWith('.key') || relative === SECRETS_FILE;
}

/** A host's directory of member certificates. The name becomes a path: anything but a DNS-style name is refused. */
export function memberDir(host: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/.test(host) || host.includes('..')) {
    throw new StateError(
      'INVALID_HOST_NAME',
      `etcd member name ${JSON.stringify(host)} cannot name a directory; use letters, digits, '-' and '.'`,
    );
  }
  return `pki/etcd/members/${host}`;
}

/** Every file of the state except state.json, relative path → content (plaintext). */
export function stateToFiles(state: Omit<CoordinatorState, 'dir' | 'manifest'>): Map<string, string> {
  const files = new Map<string, string>();
  const pair = (base: string, value: CertKeyPem) => {
    files.set(`${base}.crt`, value.cert);
    files.set(`${base}.key`, value.key);
  };
  const { pki, tls } = state;
  pair('pki/ca', pki.ca);
  files.set('pki/sa.key', pki.sa.key);
  files.set('pki/sa.pub', pki.sa.pub);
  pair('pki/front-proxy-ca', pki.frontProxyCa);
  pair('pki/etcd/ca', pki.etcdCa);
  if (pki.apiserverEtcdClient) pair('pki/apiserver-etcd-client', pki.apiserverEtcdClient);
  for (const [host, member] of Object.entries(pki.etcdMembers)) {
    pair(`${memberDir(host)}/server`, member.server);
    pair(`${memberDir(host)}/peer`, member.peer);
    pair(`${memberDir(host)}/healthcheck-client`, member.healthcheckClient);
  }
  pair('tls/ca', tls.ca);
  pair('tls/server', tls.server);
  files.set(SECRETS_FILE, toJson({ version: 1, ...state.secrets }));
  files.set(ENROLLMENT_FILE, toJson({ version: 1, ...state.enrollment }));
  return files;
}

/** Reads the state back through `read` (which decrypts); a missing file is an INCOMPLETE_STATE error. */
export async function filesToState(
  dir: string,
  manifest: StateManifest,
  read: (relative: string) => Promise<string | undefined>,
): Promise<CoordinatorState> {
  const need = async (relative: string): Promise<string> => {
    const content = await read(relative);
    if (content === undefined) {
      throw new StateError(
        'INCOMPLETE_STATE',
        `${relative} is missing from the state directory ${dir}; restore it from a backup, or start over with \`kubeseed generate --rotate\` (new PKI and credentials: every host's user-data must be replaced)`,
        relative,
      );
    }
    if (relative.endsWith('.json')) return content;
    if (!content.includes('-----BEGIN ')) {
      throw new StateError(
        'CORRUPT_FILE',
        `${relative} in ${dir} is not a PEM file; restore it from a backup or regenerate with --rotate`,
        relative,
      );
    }
    return content;
  };
  const pair = async (base: string): Promise<CertKeyPem> => ({ cert: await need(`${base}.crt`), key: await need(`${base}.key`) });
  const external = manifest.cluster.topology === 'external-etcd';

  const etcdMembers: Record<string, EtcdMemberPki> = {};
  for (const host of manifest.etcdMembers) {
    etcdMembers[host] = {
      server: await pair(`${memberDir(host)}/server`),
      peer: await pair(`${memberDir(host)}/peer`),
      healthcheckClient: await pair(`${memberDir(host)}/healthcheck-client`),
    };
  }
  const pki: ClusterPki = {
    keyAlgorithm: manifest.cluster.keyAlgorithm,
    ca: await pair('pki/ca'),
    frontProxyCa: await pair('pki/front-proxy-ca'),
    etcdCa: await pair('pki/etcd/ca'),
    sa: { key: await need('pki/sa.key'), pub: await need('pki/sa.pub') },
    etcdMembers,
  };
  if (external) pki.apiserverEtcdClient = await pair('pki/apiserver-etcd-client');
  const tls: CoordinatorTls = { ca: await pair('tls/ca'), server: await pair('tls/server') };
  const secrets = parseJson<BootstrapSecrets & { version: number }>(SECRETS_FILE, await need(SECRETS_FILE));
  const enrollment = parseJson<EnrollmentRecords & { version: number }>(ENROLLMENT_FILE, await need(ENROLLMENT_FILE));
  return {
    dir,
    manifest,
    pki,
    tls,
    secrets: {
      bootstrapToken: secrets.bootstrapToken,
      certificateKey: secrets.certificateKey,
      bootstrapTokenCreatedAt: secrets.bootstrapTokenCreatedAt,
      certificateKeyCreatedAt: secrets.certificateKeyCreatedAt,
    },
    enrollment: enrollment.fleet ? { hosts: enrollment.hosts ?? {}, fleet: enrollment.fleet } : { hosts: enrollment.hosts ?? {} },
  };
}

export function parseJson<T>(relative: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    // The message never quotes the content: it may be a decrypted secret.
    throw new StateError('CORRUPT_FILE', `${relative} is not valid JSON; restore it from a backup or regenerate with --rotate`, relative);
  }
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
