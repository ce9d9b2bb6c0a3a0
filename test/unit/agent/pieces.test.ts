import { afterEach, describe, expect, it } from 'vitest';
import { AgentConfigError, parseAgentConfig } from '../../../agent/config.ts';
import { collectFacts, parseOsRelease } from '../../../agent/facts.ts';
import type { Exec, ExecResult } from '../../../agent/io.ts';
import { assertKubeadmArgv, buildKubeadmArgv, KubeadmArgvError } from '../../../agent/kubeadm-argv.ts';
import type { Session } from '../../../agent/machine.ts';
import { createNodeExec, createRootFs, resolveHostPath } from '../../../agent/node-io.ts';
import { checkClock, parseKubeadmVersion, parseVersion, runPreflight, versionMatches } from '../../../agent/preflight.ts';
import { generateAgentKey, loadAgentKey, signRequest } from '../../../agent/signing.ts';
import { REDACTED, Redactor, redactText } from '../../../protocol/redact.ts';
import { makeTempRoot, PACKAGE_CHECKS, scriptedNet, seedHealthyHost } from './support.ts';

const TOKEN = 'abcdef.0123456789abcdef';
const CERT_KEY = 'e6a2eb8581237ab72a4f494f30285ec12a9694d750b9785706a83bfcbbbd2204';
const roots: Array<{ cleanup(): void }> = [];
afterEach(() => {
  for (const r of roots.splice(0)) r.cleanup();
});

describe('redaction', () => {
  it('replaces released values, tokens, 64-hex keys and PEM private keys', () => {
    const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB0o3y6n2\n-----END EC PRIVATE KEY-----';
    const text = `[bootstrap-token] Using token: ${TOKEN}\n[upload-certs] Using certificate key:\n${CERT_KEY}\nkey:\n${pem}\npassword hunter2-secret here`;
    const out = redactText(text, ['hunter2-secret']);
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain(CERT_KEY);
    expect(out).not.toContain('MHcCAQEEIB0o3y6n2');
    expect(out).not.toContain('hunter2-secret');
    expect(out.split(REDACTED).length - 1).toBe(4);
    expect(out).toContain('[bootstrap-token] Using token: [REDACTED]');
  });

  it('does not touch ordinary text, and ignores very short released values', () => {
    expect(redactText('node cp-1 Ready 10.0.0.11 abc', ['abc'])).toBe('node cp-1 Ready 10.0.0.11 abc');
  });

  it('redacts the long lines of a multi-line released value printed on its own', () => {
    const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2xhc3NpZmllZC1zZWNyZXQ=\n-----END CERTIFICATE-----';
    expect(redactText('dump: MIIBszCCAVmgAwIBAgIUQ2xhc3NpZmllZC1zZWNyZXQ=', [cert])).toBe(`dump: ${REDACTED}`);
  });

  it('a growing redactor keeps every value ever added', () => {
    const r = new Redactor();
    r.add(['first-secret-value']);
    r.add(['second-secret-value']);
    expect(r.redact('first-secret-value second-secret-value')).toBe(`${REDACTED} ${REDACTED}`);
  });
});

describe('kubeadm argv: the one place it is built', () => {
  it('builds the allowed commands', () => {
    expect(
      buildKubeadmArgv('init', {
        config: '/etc/kubeseed/init.yaml',
        uploadCerts: true,
        skipTokenPrint: true,
        skipCertificateKeyPrint: true,
      }),
    ).toEqual([
      'kubeadm',
      'init',
      '--config',
      '/etc/kubeseed/init.yaml',
      '--upload-certs',
      '--skip-token-print',
      '--skip-certificate-key-print',
    ]);
    expect(
      buildKubeadmArgv('join', {
        config: '/etc/kubeseed/join.yaml',
        ignorePreflightErrors: ['DirAvailable--etc-kubernetes-manifests'],
        verbosity: 5,
      }),
    ).toEqual([
      'kubeadm',
      'join',
      '--config',
      '/etc/kubeseed/join.yaml',
      '--ignore-preflight-errors=DirAvailable--etc-kubernetes-manifests',
      '--v=5',
    ]);
    expect(buildKubeadmArgv('reset', { force: true })).toEqual(['kubeadm', 'reset', '-f']);
    expect(buildKubeadmArgv('etcd-local', { config: '/etc/kubeseed/etcd.yaml' })).toEqual([
      'kubeadm',
      'init',
      'phase',
      'etcd',
      'local',
      '--config',
      '/etc/kubeseed/etcd.yaml',
    ]);
    expect(buildKubeadmArgv('upload-certs', { config: '/c.yaml', uploadCerts: true, skipCertificateKeyPrint: true })).toEqual([
      'kubeadm',
      'init',
      'phase',
      'upload-certs',
      '--config',
      '/c.yaml',
      '--upload-certs',
      '--skip-certificate-key-print',
    ]);
  });

  it('throws on flags a subcommand does not take, unknown keys, bad values', () => {
    expect(() => buildKubeadmArgv('join', { skipTokenPrint: true })).toThrow(KubeadmArgvError);
    expect(() => buildKubeadmArgv('init', { force: true })).toThrow(KubeadmArgvError);
    expect(() => buildKubeadmArgv('init', { token: TOKEN } as never)).toThrow(/token/);
    expect(() => buildKubeadmArgv('init', { certificateKey: CERT_KEY } as never)).toThrow(KubeadmArgvError);
    expect(() => buildKubeadmArgv('init', { config: 'relative.yaml' })).toThrow(KubeadmArgvError);
    expect(() => buildKubeadmArgv('init', { config: '/etc/../x.yaml' })).toThrow(KubeadmArgvError);
    expect(() => buildKubeadmArgv('init', { config: '/a b.yaml' })).toThrow(KubeadmArgvError);
    expect(() => buildKubeadmArgv('join', { ignorePreflightErrors: ['x --token=y'] })).toThrow(KubeadmArgvError);
    expect(() => buildKubeadmArgv('join', { verbosity: 11 })).toThrow(KubeadmArgvError);
    expect(() => buildKubeadmArgv('token-create' as never)).toThrow(KubeadmArgvError);
  });

  it('assertKubeadmArgv refuses secrets on the command line', () => {
    expect(() => assertKubeadmArgv(['kubeadm', 'join', '--config', '/j.yaml', '--token', TOKEN])).toThrow(KubeadmArgvError);
    expect(() => assertKubeadmArgv(['kubeadm', 'join', '--config', '/j.yaml', '--certificate-key', CERT_KEY])).toThrow(KubeadmArgvError);
    expect(() => assertKubeadmArgv(['kubeadm', 'join', '--control-plane'])).toThrow(KubeadmArgvError);
    expect(() => assertKubeadmArgv(['kubeadm', 'token', 'create'])).toThrow(KubeadmArgvError);
    expect(() => assertKubeadmArgv(['sh', '-c', 'kubeadm init'])).toThrow(KubeadmArgvError);
    expect(() => assertKubeadmArgv(['kubeadm', 'init', '--config', '/i.yaml', '--upload-certs'])).not.toThrow();
  });
});

describe('agent config', () => {
  const good = {
    coordinatorUrl: 'https://10.101.1.5:9443/',
    caFile: '/etc/kubeseed/ca.crt',
    credentialFile: '/etc/kubeseed/credential',
    host: 'cp-1',
  };
  it('parses, defaults the state dir and trims the URL', () => {
    expect(parseAgentConfig(JSON.stringify(good))).toEqual({
      ...good,
      coordinatorUrl: 'https://10.101.1.5:9443',
      replicaUrls: [],
      stateDir: '/var/lib/kubeseed',
      keepAgent: false,
    });
    // keepAgent: the generator always writes it (spec.day2.keepAgent); a hand-written config without it disables the agent at done.
    expect(parseAgentConfig(JSON.stringify({ ...good, keepAgent: true })).keepAgent).toBe(true);
    expect(() => parseAgentConfig(JSON.stringify({ ...good, keepAgent: 'yes' }))).toThrow(
      /"keepAgent" must be true or false \(got "yes"\)/,
    );
    const replicas = parseAgentConfig(JSON.stringify({ ...good, replicaUrls: ['https://10.101.1.6:9443/', 'https://seed-3:9443'] }));
    expect(replicas.replicaUrls).toEqual(['https://10.101.1.6:9443', 'https://seed-3:9443']);
    const fleet = parseAgentConfig(JSON.stringify({ ...good, host: undefined, stateDir: '/srv/ks' }));
    expect(fleet.host).toBeUndefined();
    expect(fleet.stateDir).toBe('/srv/ks');
  });
  it('names every problem at once', () => {
    const err = (() => {
      try {
        parseAgentConfig(JSON.stringify({ coordinatorUrl: 'http://x', caFile: 'ca.crt', extra: 1 }), '/etc/kubeseed/agent.json');
      } catch (e) {
        return e as AgentConfigError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(AgentConfigError);
    expect(err?.message).toMatch(/^\/etc\/kubeseed\/agent\.json: /);
    expect(err?.message).toContain('unknown key "extra"');
    expect(err?.message).toContain('must be https://');
    expect(err?.message).toContain('"credentialFile" is required');
    expect(err?.message).toContain('"caFile" must be an absolute path');
    expect(() => parseAgentConfig('{')).toThrow(/not valid JSON/);
    expect(() => parseAgentConfig(JSON.stringify({ ...good, replicaUrls: 'https://x:1' }))).toThrow(
      '"replicaUrls" must be a list of https:// URLs',
    );
    expect(() => parseAgentConfig(JSON.stringify({ ...good, replicaUrls: ['http://x:1'] }))).toThrow('"replicaUrls" must be https://');
  });
});

describe('facts', () => {
  it('reads machine-id, SMBIOS UUID (lower-case), physical MACs only, OS', async () => {
    const r = makeTempRoot();
    roots.push(r);
    seedHealthyHost(r.write);
    r.write('/sys/class/net/docker0/address', '02:42:00:00:00:01\n');
    r.write('/sys/class/net/docker0/device/x', '');
    r.write('/sys/class/net/eno2/address', '52:54:00:AB:CD:EF\n');
    r.write('/sys/class/net/eno2/device/x', '');
    const facts = await collectFacts(createRootFs(r.root), { hostname: 'cp-1', arch: 'x64', now: 5, agentVersion: '1.0.0' });
    expect(facts).toEqual({
      machineId: '0123456789abcdef0123456789abcdef',
      smbiosUuid: '4c4c4544-0042-3010-8053-b4c04f564433',
      macs: ['52:54:00:12:34:56', '52:54:00:ab:cd:ef'],
      hostname: 'cp-1',
      arch: 'amd64',
      os: 'Debian GNU/Linux 12 (bookworm)',
      clock: 5,
      agentVersion: '1.0.0',
    });
  });
  it('parses os-release without PRETTY_NAME', () => {
    expect(parseOsRelease('ID=flatcar\nVERSION_ID=4152.2.0\n')).toBe('flatcar 4152.2.0');
    expect(parseOsRelease(null)).toBe('unknown');
  });
});

describe('root fs', () => {
  it('maps host paths below the root, refuses escapes, writes with the exact mode', async () => {
    const r = makeTempRoot();
    roots.push(r);
    expect(resolveHostPath('/tmp/x', '/etc/kubernetes/admin.conf')).toBe('/tmp/x/etc/kubernetes/admin.conf');
    expect(() => resolveHostPath('/tmp/x', '/../../etc/passwd')).toThrow(/escapes/);
    expect(resolveHostPath('/', '/etc/hosts')).toBe('/etc/hosts');
    expect(() => resolveHostPath('/tmp/x', 'relative')).toThrow();
    const fs = createRootFs(r.root);
    const old = process.umask(0o077);
    try {
      await fs.writeText('/etc/a/b.txt', 'x', 0o644);
    } finally {
      process.umask(old);
    }
    expect(await fs.mode('/etc/a/b.txt')).toBe(0o644);
    await fs.writeText('/etc/a/secret', 'x', 0o600);
    expect(await fs.mode('/etc/a/secret')).toBe(0o600);
    expect(await fs.list('/etc/a')).toEqual(['b.txt', 'secret']);
    expect(await fs.readText('/nope')).toBeNull();
  });
});

describe('exec', () => {
  it('runs argv without a shell and keeps only the tail of the output', async () => {
    const exec = createNodeExec({ maxOutputBytes: 1024 });
    const r = await exec.run([process.execPath, '-e', 'process.stdout.write("a".repeat(5000) + "END")']);
    expect(r.code).toBe(0);
    expect(r.output.length).toBeLessThanOrEqual(1024);
    expect(r.output.endsWith('END')).toBe(true);
    const shell = await exec.run(['echo', '$HOME;', 'id']);
    expect(shell.output.trim()).toBe('$HOME; id');
    expect((await exec.run(['kubeseed-no-such-binary'])).notFound).toBe(true);
    const slow = await exec.run([process.execPath, '-e', 'setTimeout(()=>{}, 5000)'], { timeoutMs: 200 });
    expect(slow.timedOut).toBe(true);
  });
});

describe('signing', () => {
  it('produces four headers and a verifiable DER signature; the key survives a reload', async () => {
    const { createPublicKey, verify } = await import('node:crypto');
    const { canonicalRequest } = await import('../../../protocol/wire.ts');
    const { sha256Hex } = await import('../../../agent/signing.ts');
    const key = generateAgentKey();
    expect(loadAgentKey(key.privateKeyPem).publicKeyPem).toBe(key.publicKeyPem);
    const h = signRequest({
      key,
      host: 'cp-1',
      method: 'post',
      pathWithQuery: '/v1/report',
      body: '{"a":1}',
      now: 1234,
      nonce: 'ab'.repeat(8),
    });
    expect(Object.keys(h).sort()).toEqual(['x-kubeseed-host', 'x-kubeseed-nonce', 'x-kubeseed-signature', 'x-kubeseed-timestamp']);
    const canonical = canonicalRequest('POST', '/v1/report', '1234', 'ab'.repeat(8), sha256Hex('{"a":1}'));
    const sig = Buffer.from(h['x-kubeseed-signature'] ?? '', 'base64');
    expect(sig[0]).toBe(0x30); // DER SEQUENCE
    expect(verify('sha256', Buffer.from(canonical), createPublicKey(key.publicKeyPem), sig)).toBe(true);
    expect(verify('sha256', Buffer.from(canonical.replace('1234', '1235')), createPublicKey(key.publicKeyPem), sig)).toBe(false);
  });
});

describe('preflight', () => {
  const session: Session = {
    host: 'w-1',
    role: 'worker',
    kubernetesVersion: '1.37.1',
    endpoint: { host: 'api.example', port: 6443, vip: '10.0.0.10' },
    serverSkewMs: 0,
  };
  function fakeExec(answers: Record<string, Partial<ExecResult>>): Exec & { calls: string[][] } {
    const calls: string[][] = [];
    return {
      calls,
      async run(argv) {
        calls.push([...argv]);
        const a = answers[argv.slice(0, 2).join(' ')] ?? answers[argv[0] ?? ''];
        return { code: 0, output: '', notFound: false, timedOut: false, ...(a ?? { code: null, notFound: true }) };
      },
    };
  }
  const goodExec = () =>
    fakeExec({
      'cloud-init status': { output: 'status: done\n' },
      'containerd --version': { output: 'containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7\n' },
      'kubelet --version': { output: 'Kubernetes v1.37.1\n' },
      'kubeadm version': { output: 'kubeadm version: &version.Info{Major:"1", Minor:"37", GitVersion:"v1.37.1", GitCommit:"x"}\n' },
    });

  async function setup(extra?: (w: (p: string, c: string) => void) => void) {
    const r = makeTempRoot();
    roots.push(r);
    seedHealthyHost(r.write);
    extra?.(r.write);
    const net = scriptedNet();
    net.dns.set('api.example', ['10.0.0.10']);
    net.tcpAnswers.set('10.0.0.10:6443', 'refused');
    return { fs: createRootFs(r.root), net };
  }

  it('passes on a ready worker and runs the checks in order', async () => {
    const { fs, net } = await setup();
    const exec = goodExec();
    const res = await runPreflight(session, { fs, exec, net, now: 0, serverSkewMs: 1_000, prepared: true });
    expect(res.ok).toBe(true);
    expect(res.checks.map((c) => c.name)).toEqual(['cloud-init', 'clock', ...PACKAGE_CHECKS]);
    expect(exec.calls.map((c) => c.join(' '))).toEqual([
      'cloud-init status --wait',
      'containerd --version',
      'kubelet --version',
      'kubeadm version',
    ]);
  });

  it.each([
    ['containerd 1.7', { 'containerd --version': { output: 'containerd containerd.io 1.7.28 abc\n' } }, 'containerd', /below 2\.0/],
    ['kubelet missing', { 'kubelet --version': { code: null, notFound: true } }, 'kubelet', /not installed/],
    [
      'kubeadm 1.36',
      { 'kubeadm version': { output: 'kubeadm version: &version.Info{GitVersion:"v1.36.4"}' } },
      'kubeadm',
      /v1\.36\.4, the spec wants 1\.37\.1/,
    ],
    ['cloud-init error', { 'cloud-init status': { code: 1, output: 'status: error' } }, 'cloud-init', /exited 1/],
  ])('waits when %s', async (_name, override, check, message) => {
    const { fs, net } = await setup();
    const exec = goodExec();
    const base = exec.run.bind(exec);
    const patched: Exec = {
      run: async (argv, o) => {
        const key = argv.slice(0, 2).join(' ');
        const a = (override as Record<string, Partial<ExecResult>>)[key];
        return a ? { code: 0, output: '', notFound: false, timedOut: false, ...a } : base(argv, o);
      },
    };
    const res = await runPreflight(session, { fs, exec: patched, net, now: 0, serverSkewMs: 0, prepared: true });
    expect(res.ok).toBe(false);
    const failed = res.checks.at(-1);
    expect(failed?.name).toBe(check);
    expect(failed?.message).toMatch(message);
  });

  it('waits on swap, ip_forward, clock skew, DNS and a timed-out endpoint', async () => {
    const swap = await setup((w) => w('/proc/swaps', 'Filename Type Size Used Priority\n/swap.img file 1 0 -2\n'));
    expect(
      (await runPreflight(session, { ...swap, exec: goodExec(), now: 0, serverSkewMs: 0, prepared: true })).checks.at(-1),
    ).toMatchObject({
      name: 'swap',
      ok: false,
    });
    const fwd = await setup((w) => w('/proc/sys/net/ipv4/ip_forward', '0\n'));
    expect(
      (await runPreflight(session, { ...fwd, exec: goodExec(), now: 0, serverSkewMs: 0, prepared: true })).checks.at(-1),
    ).toMatchObject({
      name: 'ip_forward',
      ok: false,
    });
    const clock = await setup();
    expect(
      (await runPreflight(session, { ...clock, exec: goodExec(), now: 0, serverSkewMs: -45_000, prepared: true })).checks.at(-1)?.message,
    ).toMatch(/45 s ahead of the coordinator/);
    const dns = await setup();
    dns.net.dns.set('api.example', ['10.9.9.9']);
    expect(
      (await runPreflight(session, { ...dns, exec: goodExec(), now: 0, serverSkewMs: 0, prepared: true })).checks.at(-1)?.message,
    ).toMatch(/not to the VIP 10\.0\.0\.10/);
    const tcp = await setup();
    tcp.net.tcpAnswers.set('10.0.0.10:6443', 'timeout');
    const res = await runPreflight(session, { ...tcp, exec: goodExec(), now: 0, serverSkewMs: 0, prepared: true });
    expect(res.checks.at(-1)).toMatchObject({ name: 'endpoint-tcp', ok: false });
    // a control plane only warns (kube-vip raises the VIP during init) and its join re-checks
    const cp = await runPreflight(
      { ...session, role: 'control-plane' },
      { ...tcp, exec: goodExec(), now: 0, serverSkewMs: 0, prepared: true },
    );
    expect(cp.ok).toBe(true);
    expect(cp.checks.at(-1)?.message).toMatch(/timeout/);
  });

  it('a cloud-init host not prepared yet: only cloud-init and the clock, the packages after prepare-host', async () => {
    const { fs, net } = await setup();
    const exec = fakeExec({ 'cloud-init status': { output: 'status: done\n' } });
    const preparing = { ...session, prepareHost: true };
    const res = await runPreflight(preparing, { fs, exec, net, now: 0, serverSkewMs: 0, prepared: false });
    expect(res.ok).toBe(true);
    expect(res.cloudInit).toBe('done');
    expect(res.checks.map((c) => c.name)).toEqual(['cloud-init', 'clock', 'packages']);
    // containerd, the kubelet and kubeadm are not there yet: nobody asked for them.
    expect(exec.calls.map((c) => c.join(' '))).toEqual(['cloud-init status --wait']);
    // The clock still blocks before preparation.
    const skewed = await runPreflight(preparing, { fs, exec, net, now: 0, serverSkewMs: 60_000, cloudInit: 'done', prepared: false });
    expect(skewed.checks.at(-1)).toMatchObject({ name: 'clock', ok: false });
  });

  it('a cloud-init host whose coordinator plans no prepare-host (no prepareHost at enrollment): every check at once', async () => {
    const { fs, net } = await setup();
    const exec = goodExec();
    const res = await runPreflight(session, { fs, exec, net, now: 0, serverSkewMs: 0, cloudInit: 'done', prepared: false });
    expect(res.checks.map((c) => c.name)).toContain('containerd');
    expect(res.checks.map((c) => c.name)).not.toContain('packages');
  });

  it('an Ignition host (no cloud-init) prepared before the agent: every check at once, without a sentinel', async () => {
    const { fs, net } = await setup();
    const exec = goodExec();
    const base = exec.run.bind(exec);
    const ignition: Exec = {
      run: async (argv, o) => (argv[0] === 'cloud-init' ? { code: null, output: '', notFound: true, timedOut: false } : base(argv, o)),
    };
    const res = await runPreflight(session, { fs, exec: ignition, net, now: 0, serverSkewMs: 0, prepared: false });
    expect(res.cloudInit).toBe('absent');
    expect(res.checks.map((c) => c.name)).toContain('containerd');
    expect(res.checks[0]?.message).toMatch(/not installed \(Ignition host\)/);
  });

  it('a load balancer needs none of the kube checks; cloud-init absent is fine', async () => {
    const { fs, net } = await setup((w) => w('/proc/swaps', 'h\n/swap 1\n'));
    const exec = fakeExec({});
    const res = await runPreflight({ ...session, role: 'load-balancer' }, { fs, exec, net, now: 0, serverSkewMs: 0, prepared: true });
    expect(res.ok).toBe(true);
    expect(res.checks.map((c) => c.name)).toEqual(['cloud-init', 'clock']);
  });

  it('version helpers', () => {
    expect(parseVersion('containerd containerd.io 2.0.5 abc')).toEqual([2, 0, 5]);
    expect(versionMatches('Kubernetes v1.37.1', '1.37.1')).toBe(true);
    expect(versionMatches('Kubernetes v1.37.2', '1.37')).toBe(true);
    expect(versionMatches('Kubernetes v1.37.2', 'v1.37.1')).toBe(false);
    expect(parseKubeadmVersion('kubeadm version: &version.Info{GitVersion:"v1.37.0"}')).toBe('v1.37.0');
    expect(checkClock(0, 29_000).ok).toBe(true);
    expect(checkClock(0, 31_000)).toMatchObject({ ok: false, message: expect.stringMatching(/31 s behind/) });
  });
});

describe('command line', () => {
  it('parses --config/--once/--version and refuses anything else', async () => {
    const { parseCliArgs } = await import('../../../agent/cli.ts');
    expect(parseCliArgs([])).toEqual({ configPath: '/etc/kubeseed/agent.json', once: false, version: false, help: false });
    expect(parseCliArgs(['--config', '/x.json', '--once'])).toMatchObject({ configPath: '/x.json', once: true });
    expect(parseCliArgs(['--config=/y.json', '--version'])).toMatchObject({ configPath: '/y.json', version: true });
    expect(() => parseCliArgs(['--config'])).toThrow(/needs a file/);
    expect(() => parseCliArgs(['--root', '/'])).toThrow(/unknown argument/);
  });
});

describe('contract with the generator', () => {
  it('the agent.json the generator writes parses, per host and in fleet mode', async () => {
    const { buildAgentConfig } = await import('../../../generator/plan/provision.ts');
    const { makePlan } = await import('../server/fixtures.ts');
    const spec = makePlan({ workers: 1 }).spec;
    const host = spec.hosts[0];
    if (!host) throw new Error('fixture has no host');
    expect(parseAgentConfig(JSON.stringify(buildAgentConfig(spec, host)))).toMatchObject({
      host: host.name,
      stateDir: '/var/lib/kubeseed',
      caFile: '/etc/kubeseed/coordinator-ca.pem',
    });
    expect(parseAgentConfig(JSON.stringify(buildAgentConfig(spec, null))).host).toBeUndefined();
  });
});

describe('journal lines', () => {
  it('are JSON, filtered by level, and carry no secret — multi-line ones included', async () => {
    const { createJsonLogger } = await import('../../../agent/run.ts');
    const lines: string[] = [];
    const pem =
      '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2xhc3NpZmllZC1zZWNyZXQ=\nZmFrZS1zZWNyZXQtbGluZS10d28tZm9yLXRlc3Q=\n-----END CERTIFICATE-----\n';
    const r = new Redactor([pem, 'plain-secret-value']);
    const log = createJsonLogger((l) => lines.push(l), r, { now: () => 0, sleep: async () => undefined }, 'info');
    log('debug', 'hidden');
    log('info', 'step-note', { message: `dump:\n${pem}`, nested: { argv: ['x', 'plain-secret-value'], token: TOKEN } });
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0] ?? '') as { time: string; level: string; event: string };
    expect(parsed).toMatchObject({ time: '1970-01-01T00:00:00.000Z', level: 'info', event: 'step-note' });
    for (const secret of [
      'MIIBszCCAVmgAwIBAgIUQ2xhc3NpZmllZC1zZWNyZXQ=',
      'ZmFrZS1zZWNyZXQtbGluZS10d28tZm9yLXRlc3Q=',
      'plain-secret-value',
      TOKEN,
    ]) {
      expect(lines[0]).not.toContain(secret);
    }
  });
});
