/**
 * Every Ignition config kubeseed renders passes the real `ignition-validate` with no output, and
 * the real `ignition` binary (Debian's dracut module) applies it into a temporary root: files,
 * modes, links, units and presets are checked there. The agent executable and the system
 * extension images are fetched by Ignition from a loopback HTTP server, hash-checked; with
 * `spec.proxy`, the real Ignition sends upstream fetches to the proxy and fetches from the
 * coordinator and mirrors directly.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provisioning } from '../../../generator/plan/types.ts';
import { FIRSTBOOT_DONE, FIRSTBOOT_SCRIPT, IGNITION_AGENT_PATH, renderIgnition } from '../../../generator/render/ignition.ts';
import { DEFAULT_SYSEXT_BASE } from '../../../generator/render/sysext.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeHost, makeProvisioning, makeSpec, TEST_CA_PEM } from '../../unit/render-formats/fixtures.ts';

const IGNITION = '/usr/lib/dracut/modules.d/30ignition/ignition';
const skip = skipUnless('validators', { root: true, commands: ['ignition-validate', IGNITION] });

const AGENT_BYTES = Buffer.from('#!/bin/sh\necho "kubeseed agent stand-in"\n');
const AGENT_SHA256 = createHash('sha256').update(AGENT_BYTES).digest('hex');
const SYSEXT_BYTES = (name: string) => Buffer.from(`stand-in system extension ${name}\n`);
const RPM_KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nstand-in repository key\n-----END PGP PUBLIC KEY BLOCK-----\n';
const SYSEXT_FILES = ['kubernetes-v1.37.0-x86-64.raw', 'containerd-2.3.4-x86-64.raw'];
/** spec.mirrors.sysextSha256 for the stand-in images the loopback server serves. */
const SYSEXT_SHA256 = Object.fromEntries(SYSEXT_FILES.map((f) => [f, createHash('sha256').update(SYSEXT_BYTES(f)).digest('hex')]));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** tooling.md §2: a fake root with passwd copies, SELinux disabled and a no-op setfiles. */
async function applyFilesStage(work: string, config: string): Promise<{ code: number; out: string; root: string }> {
  const root = join(work, 'root');
  mkdirSync(join(root, 'etc/selinux'), { recursive: true });
  mkdirSync(join(work, 'run'), { recursive: true });
  mkdirSync(join(work, 'fakebin'), { recursive: true });
  for (const f of ['passwd', 'group', 'shadow', 'gshadow']) copyFileSync(`/etc/${f}`, join(root, 'etc', f));
  writeFileSync(join(root, 'etc/selinux/config'), 'SELINUX=disabled\nSELINUXTYPE=targeted\n');
  writeFileSync(join(work, 'fakebin/setfiles'), '#!/bin/sh\ncat >/dev/null\nexit 0\n');
  chmodSync(join(work, 'fakebin/setfiles'), 0o755);
  const cfgPath = join(work, 'config.ign');
  writeFileSync(cfgPath, config);
  const env = { ...process.env, IGNITION_CONFIG_FILE: cfgPath, PATH: `${join(work, 'fakebin')}:${process.env.PATH}` };
  let out = '';
  for (const stage of ['fetch-offline', 'fetch', 'files']) {
    const args = ['-platform', 'file', '-stage', stage, '-root', root];
    args.push('-config-cache', join(work, 'run/ignition.json'), '-state-file', join(work, 'run/state'), '-log-to-stdout');
    const r = await run(IGNITION, args, env);
    out += r.out;
    if (r.code !== 0) return { code: r.code, out, root };
  }
  return { code: 0, out, root };
}

describe.skipIf(skip)('Ignition configs against the real ignition tools', () => {
  let server: Server;
  let base = '';
  let work = '';
  const requests: string[] = [];

  beforeAll(async () => {
    work = tempDir('ks-ign-');
    // Ignition writes authorized_keys as the user `core`, who must be able to traverse the path.
    chmodSync(work, 0o755);
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/agent/linux-amd64') return res.end(gzipSync(AGENT_BYTES));
      if (req.url === '/rpm/repodata/repomd.xml.key') return res.end(RPM_KEY);
      // A tampering mirror: the same paths, other bytes.
      if (req.url === '/tampered/agent/linux-amd64') return res.end(gzipSync(Buffer.concat([AGENT_BYTES, Buffer.from('rm -rf /\n')])));
      const m = /^\/(tampered\/)?sysext\/([\w.-]+\.raw)$/.exec(req.url ?? '');
      if (m?.[2]) return res.end(m[1] ? Buffer.from(`not ${SYSEXT_BYTES(m[2]).toString()}`) : SYSEXT_BYTES(m[2]));
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function loopbackSpec(family: 'flatcar' | 'fedora-coreos'): ClusterSpec {
    const spec = makeSpec(family);
    spec.coordinator = { ...spec.coordinator, url: base };
    spec.mirrors.sysext = `${base}/sysext/`;
    spec.mirrors.kubernetesRpm = `${base}/rpm/`;
    if (family === 'flatcar') spec.mirrors.sysextSha256 = SYSEXT_SHA256;
    return spec;
  }

  const variants: Array<[string, () => { p: Provisioning; spec: ClusterSpec; sha?: string }]> = [
    ['flatcar control plane', () => ({ p: makeProvisioning('k8s1master1'), spec: makeSpec('flatcar'), sha: AGENT_SHA256 })],
    [
      'flatcar control plane with agent and image digests from a plain-HTTP mirror',
      () => {
        const spec = makeSpec('flatcar');
        spec.mirrors.sysext = 'http://mirror.kloud.lan/sysext/';
        spec.mirrors.agent = 'http://mirror.kloud.lan/agent/';
        spec.mirrors.sysextSha256 = SYSEXT_SHA256;
        return { p: makeProvisioning('k8s1master1'), spec, sha: AGENT_SHA256 };
      },
    ],
    ['fedora-coreos control plane', () => ({ p: makeProvisioning('k8s1master1'), spec: makeSpec('fedora-coreos'), sha: AGENT_SHA256 })],
    [
      'flatcar control plane behind a proxy',
      () => {
        const spec = makeSpec('flatcar');
        spec.proxy = { http: 'http://proxy.kloud.lan:3128', https: 'https://proxy.kloud.lan:3129', noProxy: ['.kloud.lan'] };
        return { p: makeProvisioning('k8s1master1'), spec, sha: AGENT_SHA256 };
      },
    ],
    [
      'flatcar worker without keys, commands or hosts file, agent unhashed from a mirror',
      () => {
        const p = makeProvisioning('k8s1worker1');
        p.users = [];
        p.commands = [];
        p.hostsEntries = [];
        p.timeServers = [];
        const spec = makeSpec('flatcar');
        spec.mirrors.agent = 'https://mirror.kloud.lan/agent/';
        return { p, spec };
      },
    ],
  ];

  it.each(variants)('%s passes ignition-validate with no output', async (_name, make) => {
    const { p, spec, sha } = make();
    const path = join(work, `validate-${Math.abs(p.hostname.length)}-${spec.os.family}.ign`);
    writeFileSync(path, renderIgnition(p, makeHost(p.hostname), spec, { coordinatorCa: TEST_CA_PEM, agentSha256: sha }));
    const r = await run('ignition-validate', [path]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('ignition-validate only warns about a plaintext proxy for https fetches (docs/formats.md)', async () => {
    const spec = makeSpec('flatcar');
    spec.proxy = { https: 'http://proxy.kloud.lan:3128', noProxy: [] };
    const path = join(work, 'plaintext-proxy.ign');
    writeFileSync(path, renderIgnition(makeProvisioning('k8s1master1'), makeHost('k8s1master1'), spec, { coordinatorCa: TEST_CA_PEM }));
    const r = await run('ignition-validate', [path]);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toEqual([
      expect.stringMatching(/^warning at \$\.ignition\.proxy\.httpsProxy.*insecure plaintext HTTP proxy/),
    ]);
  });

  it('ignition-validate would catch a broken config (the check can fail)', async () => {
    const path = join(work, 'broken.ign');
    const cfg = JSON.parse(
      renderIgnition(makeProvisioning('k8s1master1'), makeHost('k8s1master1'), makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM }),
    );
    cfg.storage.files[0].mode = '420';
    writeFileSync(path, JSON.stringify(cfg));
    const r = await run('ignition-validate', [path]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('cannot unmarshal string');
  });

  it.each(['flatcar', 'fedora-coreos'] as const)('the files stage applies the %s config into a directory', async (family) => {
    const dir = join(work, `apply-${family}`);
    mkdirSync(dir);
    const p = makeProvisioning('k8s1master1');
    const config = renderIgnition(p, makeHost('k8s1master1'), loopbackSpec(family), {
      coordinatorCa: TEST_CA_PEM,
      agentSha256: AGENT_SHA256,
    });
    const r = await applyFilesStage(dir, config);
    expect(r.out).toContain('Ignition finished successfully');
    expect(r.code).toBe(0);
    const root = r.root;
    const mode = (path: string) => statSync(join(root, path)).mode & 0o7777;

    for (const f of p.files) {
      expect(readFileSync(join(root, f.path), 'utf8')).toBe(f.content);
      expect(mode(f.path)).toBe(f.mode);
    }
    expect(readFileSync(join(root, 'etc/hostname'), 'utf8')).toBe('k8s1master1\n');
    expect(readFileSync(join(root, 'etc/hosts'), 'utf8')).toContain('10.101.1.10\tk8s1api.kloud.lan k8s1api\n');
    expect(mode('/etc/kubeseed')).toBe(0o700);
    expect(mode('/var/lib/kubeseed')).toBe(0o700);

    // The agent was fetched over loopback, gunzipped and hash-checked.
    expect(readFileSync(join(root, IGNITION_AGENT_PATH)).equals(AGENT_BYTES)).toBe(true);
    expect(mode(IGNITION_AGENT_PATH)).toBe(0o755);

    // First boot: script, unit, and the run-once guard not yet written.
    expect(mode(FIRSTBOOT_SCRIPT)).toBe(0o700);
    expect(readFileSync(join(root, FIRSTBOOT_SCRIPT), 'utf8')).toContain('modprobe br_netfilter\n');
    const syntax = await run('bash', ['-n', join(root, FIRSTBOOT_SCRIPT)]);
    expect(syntax).toEqual({ code: 0, out: '' });
    expect(readFileSync(join(root, 'etc/systemd/system/kubeseed-firstboot.service'), 'utf8')).toContain(
      `ConditionPathExists=!${FIRSTBOOT_DONE}`,
    );
    expect(() => statSync(join(root, FIRSTBOOT_DONE))).toThrow();
    expect(readFileSync(join(root, 'etc/systemd/system/kubeseed-agent.service'), 'utf8')).toBe(p.units[0]?.contents);
    expect(readFileSync(join(root, 'etc/systemd/system/containerd.service.d/10-kubeseed-config.conf'), 'utf8')).toContain(
      'Environment=CONTAINERD_CONFIG=/etc/containerd/config.toml\n',
    );
    const preset = readFileSync(join(root, 'etc/systemd/system-preset/20-ignition.preset'), 'utf8').split('\n');
    expect(preset).toEqual(expect.arrayContaining(['enable kubeseed-agent.service', 'enable kubeseed-firstboot.service']));
    expect(preset.includes('enable kubeseed-containerd.service')).toBe(family === 'flatcar');

    if (family === 'flatcar') {
      // System extensions: fetched (hash-checked) and linked where systemd-sysext looks.
      expect(preset).toContain('enable systemd-sysext.service');
      const images = JSON.parse(config).storage.files.filter((f: { path: string }) => f.path.startsWith('/opt/extensions/'));
      expect(images.map((f: { contents: { verification?: { hash: string } } }) => f.contents.verification?.hash)).toEqual(
        SYSEXT_FILES.map((f) => `sha256-${SYSEXT_SHA256[f]}`),
      );
      expect(readlinkSync(join(root, 'etc/extensions/kubernetes.raw'))).toBe('/opt/extensions/kubernetes/kubernetes-v1.37.0-x86-64.raw');
      expect(readFileSync(join(root, 'opt/extensions/kubernetes/kubernetes-v1.37.0-x86-64.raw'), 'utf8')).toBe(
        SYSEXT_BYTES('kubernetes-v1.37.0-x86-64.raw').toString(),
      );
      const containerdImage = '/opt/extensions/containerd/containerd-2.3.4-x86-64.raw';
      expect(readFileSync(join(root, containerdImage), 'utf8')).toBe(SYSEXT_BYTES('containerd-2.3.4-x86-64.raw').toString());
      // Flatcar's built-in containerd stays unless the boot-time check finds it older than 2.0 (ADR 0021).
      expect(() => readlinkSync(join(root, 'etc/extensions/containerd.raw'))).toThrow();
      expect(() => readlinkSync(join(root, 'etc/extensions/containerd-flatcar.raw'))).toThrow();
      expect(readlinkSync(join(root, 'etc/extensions/docker-flatcar.raw'))).toBe('/dev/null');
      expect(mode('/opt/kubeseed/select-containerd.sh')).toBe(0o755);
      expect(readFileSync(join(root, 'opt/kubeseed/select-containerd.sh'), 'utf8')).toContain(`IMAGE=${containerdImage}\n`);
      expect(readFileSync(join(root, 'etc/systemd/system/kubeseed-containerd.service'), 'utf8')).toContain('Before=containerd.service');
    } else {
      // rpm-ostree layering: the repository, its key fetched by Ignition, the install unit and containerd enabled.
      expect(preset).toEqual(expect.arrayContaining(['enable kubeseed-rpm-ostree-install.service', 'enable containerd.service']));
      expect(preset).not.toContain('enable systemd-sysext.service');
      expect(() => statSync(join(root, 'etc/extensions'))).toThrow();
      expect(readFileSync(join(root, 'etc/yum.repos.d/kubeseed-kubernetes.repo'), 'utf8')).toContain(`baseurl=${base}/rpm/\n`);
      expect(readFileSync(join(root, 'etc/pki/rpm-gpg/kubeseed-kubernetes.asc'), 'utf8')).toBe(RPM_KEY);
      expect(readFileSync(join(root, 'etc/systemd/system/kubeseed-rpm-ostree-install.service'), 'utf8')).toContain(
        'rpm-ostree install --apply-live --allow-inactive --idempotent kubelet-1.37.0',
      );
      expect(requests).toContain('/rpm/repodata/repomd.xml.key');
    }
    // Static address and NIC name.
    expect(readFileSync(join(root, 'etc/systemd/network/10-kubeseed-eth0.link'), 'utf8')).toContain('Name=eth0');
    if (family === 'flatcar') {
      expect(readFileSync(join(root, 'etc/systemd/network/10-kubeseed-eth0.network'), 'utf8')).toContain('Address=10.101.1.101/24');
    } else {
      expect(mode('/etc/NetworkManager/system-connections/kubeseed-eth0.nmconnection')).toBe(0o600);
    }
    // The SSH key landed with the image user.
    expect(readFileSync(join(root, 'home/core/.ssh/authorized_keys.d/ignition'), 'utf8')).toContain('KubeseedTestKeyOnly');
    expect(requests).toContain('/agent/linux-amd64');
  });

  it('the files stage fetches through ignition.proxy, except from the coordinator and mirrors', async () => {
    // A loopback "proxy" that records what reaches it and refuses every tunnel: nothing leaves the machine.
    const proxied: string[] = [];
    const proxy = createServer((req, res) => {
      proxied.push(`${req.method} ${req.url}`);
      res.statusCode = 403;
      res.end();
    });
    proxy.on('connect', (req, socket) => {
      proxied.push(`CONNECT ${req.url}`);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const spec = loopbackSpec('flatcar');
      spec.proxy = { http: proxyUrl, https: proxyUrl, noProxy: [] };
      // With its mirror on the coordinator's loopback address, every fetch goes direct.
      const direct = await applyFilesStage(
        join(work, 'apply-proxy-direct'),
        renderIgnition(makeProvisioning('k8s1master1'), makeHost('k8s1master1'), spec, {
          coordinatorCa: TEST_CA_PEM,
          agentSha256: AGENT_SHA256,
        }),
      );
      expect(direct.out).toContain('Ignition finished successfully');
      expect(proxied).toEqual([]);
      // Without the mirror, the upstream sysext URL goes through the proxy (which refuses it).
      spec.mirrors.sysext = undefined;
      const cfg = JSON.parse(
        renderIgnition(makeProvisioning('k8s1master1'), makeHost('k8s1master1'), spec, {
          coordinatorCa: TEST_CA_PEM,
          agentSha256: AGENT_SHA256,
        }),
      );
      cfg.ignition.timeouts = { httpResponseHeaders: 2, httpTotal: 4 };
      const viaProxy = await applyFilesStage(join(work, 'apply-proxy-upstream'), JSON.stringify(cfg));
      expect(viaProxy.code).not.toBe(0);
      const upstreamHost = new URL(DEFAULT_SYSEXT_BASE).host;
      expect(proxied.some((line) => line.startsWith(`CONNECT ${upstreamHost}`))).toBe(true);
      expect(proxied.some((line) => line.includes('127.0.0.1'))).toBe(false);
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it('the files stage refuses an agent whose hash does not match', async () => {
    const dir = join(work, 'apply-badhash');
    mkdirSync(dir);
    const config = renderIgnition(makeProvisioning('k8s1master1'), makeHost('k8s1master1'), loopbackSpec('flatcar'), {
      coordinatorCa: TEST_CA_PEM,
      agentSha256: createHash('sha256').update('something else').digest('hex'),
    });
    const r = await applyFilesStage(dir, config);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('hash verification failed');
  });

  it.each([
    ['agent', 'agent'],
    ['kubernetes image', 'sysext'],
  ] as const)('the files stage refuses a %s whose bytes a mirror changed (the hash is really checked)', async (what, mirror) => {
    const spec = loopbackSpec('flatcar');
    spec.mirrors[mirror] = `${base}/tampered/${mirror}/`;
    const dir = join(work, `apply-tampered-${what.replace(' ', '-')}`);
    mkdirSync(dir);
    const config = renderIgnition(makeProvisioning('k8s1master1'), makeHost('k8s1master1'), spec, {
      coordinatorCa: TEST_CA_PEM,
      agentSha256: AGENT_SHA256,
    });
    const r = await applyFilesStage(dir, config);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('hash verification failed');
    // Nothing tampered landed; the mirror was asked (the refusal is the hash, not a failed fetch).
    const targets = mirror === 'agent' ? [IGNITION_AGENT_PATH] : SYSEXT_FILES.map((f) => `/opt/extensions/${f.split('-')[0]}/${f}`);
    for (const t of targets) expect(() => statSync(join(r.root, t))).toThrow();
    expect(requests.some((u) => u.startsWith(`/tampered/${mirror}/`))).toBe(true);
  });
});
