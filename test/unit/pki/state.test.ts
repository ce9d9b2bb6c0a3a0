import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyEnrollmentCredential } from '../../../generator/pki/index.ts';
import { SECRET_PLACEHOLDER } from '../../../generator/plan/types.ts';
import { listFiles } from '../../../generator/state/files.ts';
import {
  createPublicSecretSource,
  createSecretSource,
  type EnsureStateResult,
  ensureState,
  isEnvelope,
  loadState,
  StateError,
} from '../../../generator/state/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeHost, makeSpec } from './fixtures.ts';

const NOW = new Date('2026-11-22T08:00:00Z');
let out: string;
let stateDir: string;

beforeEach(async () => {
  out = tempDir('ks-pki-state-');
  stateDir = join(out, 'coordinator');
});
afterEach(async () => {
  await rm(out, { recursive: true, force: true });
});

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function readAll(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const f of await listFiles(dir)) files.set(f, await readFile(join(dir, f), 'utf8'));
  return files;
}

async function expectStateError(promise: Promise<unknown>, code: string): Promise<StateError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StateError);
  expect((err as StateError).code).toBe(code);
  return err as StateError;
}

const EXTERNAL_FILES = [
  'enrollment.json',
  'pki/apiserver-etcd-client.crt',
  'pki/apiserver-etcd-client.key',
  'pki/ca.crt',
  'pki/ca.key',
  ...['etcd1', 'etcd2', 'etcd3'].flatMap((h) =>
    ['healthcheck-client', 'peer', 'server'].flatMap((f) => [`pki/etcd/members/${h}/${f}.crt`, `pki/etcd/members/${h}/${f}.key`]),
  ),
  'pki/etcd/ca.crt',
  'pki/etcd/ca.key',
  'pki/front-proxy-ca.crt',
  'pki/front-proxy-ca.key',
  'pki/sa.key',
  'pki/sa.pub',
  // The operator token: written by generate, so replicas made by copying the state directory share it.
  'operator-token',
  'secrets.json',
  'state.json',
  'tls/ca.crt',
  'tls/ca.key',
  'tls/server.crt',
  'tls/server.key',
].sort();

describe('ensureState: first run', () => {
  let result: EnsureStateResult;
  beforeEach(async () => {
    result = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
  });

  it('writes kubeadm’s pki layout, the coordinator TLS files and the records', async () => {
    expect((await listFiles(stateDir)).sort()).toEqual(EXTERNAL_FILES);
    expect(await listFiles(join(out, 'credentials'))).toEqual(['enrollment.json']);
    expect(result.rotated).toBe(false);
    expect(result.created).toEqual(
      expect.arrayContaining([
        'pki/ca',
        'pki/sa',
        'pki/front-proxy-ca',
        'pki/etcd/ca',
        'pki/apiserver-etcd-client',
        'pki/etcd/members/etcd1',
        'tls/ca',
        'tls/server',
      ]),
    );
    expect(result.created).toEqual(expect.arrayContaining(['secrets/bootstrap-token', 'credentials/worker2']));
    expect(await readFile(join(stateDir, 'pki/ca.crt'), 'utf8')).toBe(result.state.pki.ca.cert);
    expect(await readFile(join(stateDir, 'pki/etcd/members/etcd2/peer.key'), 'utf8')).toBe(result.state.pki.etcdMembers.etcd2!.peer.key);
  });

  it('makes every directory 0700 and every file 0600', async () => {
    for (const dir of [
      'coordinator',
      'coordinator/pki',
      'coordinator/pki/etcd',
      'coordinator/pki/etcd/members',
      'coordinator/pki/etcd/members/etcd1',
      'coordinator/tls',
      'credentials',
    ]) {
      expect({ dir, mode: await mode(join(out, dir)) }).toEqual({ dir, mode: 0o700 });
    }
    for (const f of await listFiles(stateDir)) expect({ f, mode: await mode(join(stateDir, f)) }).toEqual({ f, mode: 0o600 });
    expect(await mode(join(out, 'credentials/enrollment.json'))).toBe(0o600);
  });

  it('gives every host a credential, kept on the coordinator only as a hash', async () => {
    const hosts = makeSpec().hosts.map((h) => h.name);
    expect(Object.keys(result.credentials).sort()).toEqual([...hosts].sort());
    const coordinatorFiles = [...(await readAll(stateDir)).values()].join('\n');
    for (const host of hosts) {
      const credential = result.credentials[host]!;
      expect(credential).toMatch(/^ksenr_[A-Za-z0-9_-]{43}$/);
      expect(coordinatorFiles).not.toContain(credential);
      expect(coordinatorFiles).not.toContain(credential.slice(6));
      expect(verifyEnrollmentCredential(result.state.enrollment.hosts[host]!, credential)).toBe(true);
    }
    const plaintext = JSON.parse(await readFile(join(out, 'credentials/enrollment.json'), 'utf8'));
    expect(plaintext.hosts).toEqual(result.credentials);
  });

  it('keeps the bootstrap token and certificate key in secrets.json', async () => {
    const secrets = JSON.parse(await readFile(join(stateDir, 'secrets.json'), 'utf8'));
    expect(secrets.bootstrapToken).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(secrets.certificateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(secrets.bootstrapTokenCreatedAt).toBe(NOW.toISOString());
  });

  it('loads back exactly what it wrote', async () => {
    const loaded = await loadState(stateDir);
    expect(loaded).toEqual(result.state);
  });
});

describe('ensureState: re-runs', () => {
  it('keeps the PKI, secrets and every credential byte for byte', async () => {
    const first = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    const before = await readAll(stateDir);
    const second = await ensureState({ outDir: out, spec: makeSpec(), now: new Date(NOW.getTime() + 86_400_000) });
    expect(second.created).toEqual([]);
    expect(second.removed).toEqual([]);
    expect(second.credentials).toEqual(first.credentials);
    const after = await readAll(stateDir);
    for (const [f, content] of before) if (f !== 'state.json') expect({ f, same: after.get(f) === content }).toEqual({ f, same: true });
    expect(JSON.parse(after.get('state.json')!).createdAt).toBe(NOW.toISOString());
  });

  it('adds what new hosts need and drops what removed hosts had', async () => {
    const first = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    const spec = makeSpec();
    spec.hosts = spec.hosts.filter((h) => h.name !== 'worker2' && h.name !== 'etcd3');
    spec.hosts.push(makeHost('worker3', 'worker'), makeHost('etcd4', 'etcd', '10.101.1.24'));
    const second = await ensureState({ outDir: out, spec, now: NOW });
    expect(second.created.sort()).toEqual(['credentials/etcd4', 'credentials/worker3', 'pki/etcd/members/etcd4']);
    expect(second.removed.sort()).toEqual(['credentials/etcd3', 'credentials/worker2', 'pki/etcd/members/etcd3']);
    for (const host of ['etcd1', 'master1', 'worker1']) expect(second.credentials[host]).toBe(first.credentials[host]);
    expect(second.credentials.worker2).toBeUndefined();
    expect(second.state.pki.ca.cert).toBe(first.state.pki.ca.cert);
    expect(second.state.pki.etcdMembers.etcd1).toEqual(first.state.pki.etcdMembers.etcd1);
    const files = await listFiles(stateDir);
    expect(files.some((f) => f.startsWith('pki/etcd/members/etcd3/'))).toBe(false);
    expect(files).toContain('pki/etcd/members/etcd4/server.crt');
    const plaintext = await readFile(join(out, 'credentials/enrollment.json'), 'utf8');
    expect(plaintext).not.toContain(first.credentials.worker2!);
    expect(JSON.parse(await readFile(join(stateDir, 'enrollment.json'), 'utf8')).hosts.worker2).toBeUndefined();
    expect(Object.keys((await loadState(stateDir)).pki.etcdMembers)).toEqual(['etcd1', 'etcd2', 'etcd4']);
  });

  it('re-issues a member certificate whose address changed, and the server certificate when the URL changed, keeping the CAs', async () => {
    const first = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    const spec = makeSpec({ coordinatorUrl: 'https://seed.kloud.lan:9443' });
    spec.hosts[0] = makeHost('etcd1', 'etcd', '10.101.1.99');
    const second = await ensureState({ outDir: out, spec, now: NOW });
    expect(second.created.sort()).toEqual(['pki/etcd/members/etcd1', 'tls/server']);
    expect(new X509Certificate(second.state.pki.etcdMembers.etcd1!.server.cert).subjectAltName).toContain('IP Address:10.101.1.99');
    expect(new X509Certificate(second.state.tls.server.cert).subjectAltName).toContain('DNS:seed.kloud.lan');
    expect(second.state.tls.ca).toEqual(first.state.tls.ca);
    expect(second.state.pki.etcdCa).toEqual(first.state.pki.etcdCa);
    expect(second.state.pki.etcdMembers.etcd2).toEqual(first.state.pki.etcdMembers.etcd2);
  });

  it('renews leaf certificates that expire within 30 days', async () => {
    const first = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    const later = new Date(NOW.getTime() + 340 * 86_400_000);
    const second = await ensureState({ outDir: out, spec: makeSpec(), now: later });
    expect(second.created.sort()).toEqual([
      'pki/apiserver-etcd-client',
      'pki/etcd/members/etcd1',
      'pki/etcd/members/etcd2',
      'pki/etcd/members/etcd3',
      'tls/server',
    ]);
    expect(second.state.pki.ca).toEqual(first.state.pki.ca);
    expect(second.credentials).toEqual(first.credentials);
  });

  it('drops external-etcd files when the topology becomes stacked', async () => {
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    const stacked = makeSpec({ topology: 'stacked' });
    const second = await ensureState({ outDir: out, spec: stacked, now: NOW });
    expect(second.removed).toEqual(expect.arrayContaining(['pki/apiserver-etcd-client', 'pki/etcd/members/etcd1', 'credentials/etcd1']));
    const files = await listFiles(stateDir);
    expect(files.filter((f) => f.includes('members') || f.includes('apiserver-etcd-client'))).toEqual([]);
    expect(files).toContain('pki/etcd/ca.key');
    expect((await loadState(stateDir)).pki.apiserverEtcdClient).toBeUndefined();
  });

  it('issues, keeps and drops the fleet credential with spec.fleet.enabled', async () => {
    const first = await ensureState({ outDir: out, spec: makeSpec({ fleet: true }), now: NOW });
    expect(first.credentials['*']).toMatch(/^ksfleet_/);
    expect(verifyEnrollmentCredential(first.state.enrollment.fleet!, first.credentials['*']!)).toBe(true);
    const second = await ensureState({ outDir: out, spec: makeSpec({ fleet: true }), now: NOW });
    expect(second.credentials['*']).toBe(first.credentials['*']);
    const third = await ensureState({ outDir: out, spec: makeSpec({ fleet: false }), now: NOW });
    expect(third.credentials['*']).toBeUndefined();
    expect(third.removed).toEqual(['credentials/*']);
    expect(await readFile(join(out, 'credentials/enrollment.json'), 'utf8')).not.toContain('ksfleet_');
  });

  it('rotate replaces every key, secret and credential', async () => {
    const first = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    const second = await ensureState({ outDir: out, spec: makeSpec(), now: NOW, rotate: true });
    expect(second.rotated).toBe(true);
    expect(second.created).toEqual(expect.arrayContaining(['pki/ca', 'tls/ca', 'secrets/bootstrap-token', 'credentials/master1']));
    for (const pick of [
      (r: EnsureStateResult) => r.state.pki.ca.key,
      (r: EnsureStateResult) => r.state.pki.sa.key,
      (r: EnsureStateResult) => r.state.pki.frontProxyCa.key,
      (r: EnsureStateResult) => r.state.pki.etcdCa.key,
      (r: EnsureStateResult) => r.state.pki.etcdMembers.etcd1!.server.key,
      (r: EnsureStateResult) => r.state.tls.ca.key,
      (r: EnsureStateResult) => r.state.secrets.bootstrapToken,
      (r: EnsureStateResult) => r.state.secrets.certificateKey,
      (r: EnsureStateResult) => r.credentials.worker1,
    ]) {
      expect(pick(second)).not.toBe(pick(first));
    }
    expect(await loadState(stateDir)).toEqual(second.state);
  });

  it('rotates a damaged state without reading it', async () => {
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase: 'forgotten' });
    await writeFile(join(stateDir, 'state.json'), '{not json');
    await expectStateError(ensureState({ outDir: out, spec: makeSpec(), now: NOW }), 'CORRUPT_FILE');
    const rotated = await ensureState({ outDir: out, spec: makeSpec(), now: NOW, rotate: true });
    expect(await loadState(stateDir)).toEqual(rotated.state);
  });

  it('refuses a changed key algorithm unless rotating', async () => {
    await ensureState({ outDir: out, spec: makeSpec({ keyAlgorithm: 'ECDSA-P256' }), now: NOW });
    const err = await expectStateError(
      ensureState({ outDir: out, spec: makeSpec({ keyAlgorithm: 'RSA-2048' }), now: NOW }),
      'KEY_ALGORITHM_CHANGED',
    );
    expect(err.message).toMatch(/--rotate/);
  });

  it('fixes modes widened by someone else and removes leftovers of interrupted writes', async () => {
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    await chmod(stateDir, 0o755);
    await chmod(join(stateDir, 'pki'), 0o755);
    await chmod(join(stateDir, 'pki/ca.key'), 0o644);
    await writeFile(join(stateDir, 'pki/ca.key.tmp-1-abcdef'), 'partial');
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    expect(await mode(stateDir)).toBe(0o700);
    expect(await mode(join(stateDir, 'pki'))).toBe(0o700);
    expect(await mode(join(stateDir, 'pki/ca.key'))).toBe(0o600);
    expect(await listFiles(stateDir)).not.toContain('pki/ca.key.tmp-1-abcdef');
  });

  it('does not touch files it does not own in the state directory', async () => {
    await mkdir(join(out, 'coordinator', 'store'), { recursive: true });
    await writeFile(join(out, 'coordinator', 'store', 'journal'), 'x');
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW, rotate: true });
    expect(await readFile(join(out, 'coordinator', 'store', 'journal'), 'utf8')).toBe('x');
  });
});

describe('one writer at a time', () => {
  it('refuses a concurrent run, takes over a lock whose process is gone, and leaves no lock behind', async () => {
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    expect(await listFiles(stateDir)).not.toContain('generate.lock');
    await writeFile(join(stateDir, 'generate.lock'), `${process.pid}\n`);
    const err = await expectStateError(ensureState({ outDir: out, spec: makeSpec(), now: NOW }), 'LOCKED');
    expect(err.message).toContain(`pid ${process.pid}`);
    // A PID far above pid_max belongs to no process: a stale lock.
    await writeFile(join(stateDir, 'generate.lock'), '99999999\n');
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    expect(await listFiles(stateDir)).not.toContain('generate.lock');
    const [a, b] = await Promise.allSettled([
      ensureState({ outDir: out, spec: makeSpec(), now: NOW }),
      ensureState({ outDir: out, spec: makeSpec(), now: NOW }),
    ]);
    expect([a.status, b.status].sort()).toEqual(['fulfilled', 'rejected']);
  });
});

describe('host names', () => {
  it('refuses an etcd member name that would escape its directory', async () => {
    const spec = makeSpec();
    spec.hosts[0] = makeHost('../../evil', 'etcd', '10.101.1.21');
    await expectStateError(ensureState({ outDir: out, spec, now: NOW }), 'INVALID_HOST_NAME');
    expect(await listFiles(out)).toEqual([]);
  });
});

describe('loadState errors', () => {
  it('says there is no state, and names a missing file', async () => {
    await expectStateError(loadState(stateDir), 'NO_STATE');
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    await rm(join(stateDir, 'pki/etcd/members/etcd2/peer.key'));
    const err = await expectStateError(loadState(stateDir), 'INCOMPLETE_STATE');
    expect(err.file).toBe('pki/etcd/members/etcd2/peer.key');
    expect(err.message).toContain('pki/etcd/members/etcd2/peer.key');
  });
});

describe('KUBESEED_PASSPHRASE encryption at rest', () => {
  const passphrase = 'correct horse battery staple';

  it('encrypts every private key, secrets.json and the plaintext credentials; loads back with the passphrase', async () => {
    const result = await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase });
    const files = await readAll(stateDir);
    for (const [f, content] of files) {
      const secret = f.endsWith('.key') || f === 'secrets.json';
      expect({ f, encrypted: isEnvelope(content) }).toEqual({ f, encrypted: secret });
    }
    const all = [...files.values()].join('\n');
    expect(all).not.toContain('PRIVATE KEY');
    expect(all).not.toContain(result.state.secrets.bootstrapToken);
    expect(all).not.toContain(result.state.secrets.certificateKey);
    const credentials = await readFile(join(out, 'credentials/enrollment.json'), 'utf8');
    expect(isEnvelope(credentials)).toBe(true);
    expect(credentials).not.toContain(result.credentials.worker1!);
    expect(JSON.parse(files.get('state.json')!).encrypted).toBe(true);
    expect(await loadState(stateDir, { passphrase })).toEqual(result.state);
    const again = await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase });
    expect(again.created).toEqual([]);
    expect(again.credentials).toEqual(result.credentials);
  });

  it('a wrong or missing passphrase is a clear StateError naming the file, without secrets', async () => {
    const result = await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase });
    const wrong = await expectStateError(loadState(stateDir, { passphrase: 'wrong' }), 'WRONG_PASSPHRASE');
    expect(wrong.message).toMatch(/^pki\/\S+\.key cannot be decrypted with this KUBESEED_PASSPHRASE/);
    expect(wrong.message).toMatch(/set KUBESEED_PASSPHRASE/);
    const missing = await expectStateError(loadState(stateDir), 'PASSPHRASE_REQUIRED');
    expect(missing.message).toMatch(/is encrypted: set KUBESEED_PASSPHRASE/);
    await expectStateError(ensureState({ outDir: out, spec: makeSpec(), now: NOW }), 'PASSPHRASE_REQUIRED');
    for (const err of [wrong, missing]) {
      for (const secret of [
        passphrase,
        result.state.secrets.bootstrapToken,
        result.state.pki.ca.key,
        ...Object.values(result.credentials),
      ]) {
        expect(err.message).not.toContain(secret);
        expect(err.stack ?? '').not.toContain(secret);
      }
    }
  });

  it('an envelope moved to another file name does not decrypt', async () => {
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase });
    await writeFile(join(stateDir, 'pki/ca.key'), await readFile(join(stateDir, 'pki/etcd/ca.key')));
    const err = await expectStateError(loadState(stateDir, { passphrase }), 'WRONG_PASSPHRASE');
    expect(err.file).toBe('pki/ca.key');
  });

  it('encrypts a plain state in place when a passphrase is given later', async () => {
    const plain = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    expect(isEnvelope(await readFile(join(stateDir, 'pki/ca.key'), 'utf8'))).toBe(false);
    const encrypted = await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase });
    expect(encrypted.created).toEqual([]);
    expect(isEnvelope(await readFile(join(stateDir, 'pki/ca.key'), 'utf8'))).toBe(true);
    expect((await loadState(stateDir, { passphrase })).pki).toEqual(plain.state.pki);
  });

  it('rotating does not need the old passphrase', async () => {
    await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase });
    const rotated = await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase: 'another one', rotate: true });
    expect(await loadState(stateDir, { passphrase: 'another one' })).toEqual(rotated.state);
  });
});

describe('SecretSource', () => {
  it('the coordinator’s source returns the state’s values', async () => {
    const { state } = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    const source = createSecretSource(state, { now: () => NOW });
    expect(source.bootstrapToken()).toBe(state.secrets.bootstrapToken);
    expect(source.certificateKey()).toBe(state.secrets.certificateKey);
    expect(source.discoveryHash()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(source.pkiFile('ca.key')).toBe(state.pki.ca.key);
    expect(source.pkiFile('etcd/ca.crt')).toBe(state.pki.etcdCa.cert);
    expect(source.pkiFile('sa.pub')).toBe(state.pki.sa.pub);
    expect(source.pkiFile('etcd/peer.key', 'etcd3')).toBe(state.pki.etcdMembers.etcd3!.peer.key);
    expect(source.pkiFile('apiserver-etcd-client.crt')).toBe(state.pki.apiserverEtcdClient!.cert);
    expect(() => source.pkiFile('etcd/server.crt')).toThrow(/pass the host name/);
    expect(() => source.pkiFile('etcd/ca.key')).toThrow(/never released with the external-etcd topology/);
    expect(() => createPublicSecretSource(state).pkiFile('etcd/ca.key')).toThrow(/never released/);
    expect(() => source.pkiFile('etcd/server.crt', 'master1')).toThrow(/master1 is not an etcd member/);
    const kubeconfig = source.adminKubeconfig();
    expect(kubeconfig).toContain('server: https://k8s1api.kloud.lan:6443');
    expect(source.adminKubeconfig()).toBe(kubeconfig);
  });

  it('re-mints the step kubeconfig once half its lifetime has passed', async () => {
    const { state } = await ensureState({ outDir: out, spec: makeSpec({ topology: 'stacked' }), now: NOW });
    let now = NOW;
    const source = createSecretSource(state, { now: () => now, kubeconfigValiditySeconds: 3600 });
    const first = source.adminKubeconfig();
    now = new Date(NOW.getTime() + 29 * 60_000);
    expect(source.adminKubeconfig()).toBe(first);
    now = new Date(NOW.getTime() + 31 * 60_000);
    expect(source.adminKubeconfig()).not.toBe(first);
    expect(() => source.pkiFile('apiserver-etcd-client.key')).toThrow(/external-etcd/);
    expect(source.pkiFile('etcd/ca.key')).toBe(state.pki.etcdCa.key);
  });

  it('the public source gives certificates and the hash, and the placeholder for every private value', async () => {
    const { state } = await ensureState({ outDir: out, spec: makeSpec(), now: NOW });
    const real = createSecretSource(state);
    const pub = createPublicSecretSource(state);
    expect(pub.bootstrapToken()).toBe(SECRET_PLACEHOLDER);
    expect(pub.certificateKey()).toBe(SECRET_PLACEHOLDER);
    expect(pub.adminKubeconfig()).toBe(SECRET_PLACEHOLDER);
    expect(pub.discoveryHash()).toBe(real.discoveryHash());
    for (const name of ['ca.crt', 'sa.pub', 'front-proxy-ca.crt', 'etcd/ca.crt', 'apiserver-etcd-client.crt'] as const) {
      expect(pub.pkiFile(name)).toBe(real.pkiFile(name));
    }
    for (const name of ['ca.key', 'sa.key', 'front-proxy-ca.key', 'apiserver-etcd-client.key'] as const) {
      expect(pub.pkiFile(name)).toBe(SECRET_PLACEHOLDER);
    }
    expect(pub.pkiFile('etcd/server.crt', 'etcd1')).toBe(state.pki.etcdMembers.etcd1!.server.cert);
    expect(pub.pkiFile('etcd/server.key', 'etcd1')).toBe(SECRET_PLACEHOLDER);
    expect(pub.pkiFile('etcd/healthcheck-client.key', 'etcd2')).toBe(SECRET_PLACEHOLDER);
  });
});

describe('silence', () => {
  it('no function writes to stdout, stderr or the console', async () => {
    const writes: string[] = [];
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => writes.push(String(chunk)) > 0),
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => writes.push(String(chunk)) > 0),
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
        vi.spyOn(console, m).mockImplementation((...a) => void writes.push(a.join(' '))),
      ),
    ];
    try {
      const { state } = await ensureState({ outDir: out, spec: makeSpec({ fleet: true }), now: NOW, passphrase: 'p' });
      await ensureState({ outDir: out, spec: makeSpec(), now: NOW, passphrase: 'p' });
      await loadState(stateDir, { passphrase: 'p' }).catch(() => undefined);
      await loadState(stateDir, { passphrase: 'wrong' }).catch(() => undefined);
      createSecretSource(state).adminKubeconfig();
      createPublicSecretSource(state).pkiFile('ca.key');
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(writes).toEqual([]);
  });
});
