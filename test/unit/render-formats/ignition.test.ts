import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  buildIgnitionConfig,
  FIRSTBOOT_DONE,
  FIRSTBOOT_SCRIPT,
  FIRSTBOOT_UNIT,
  IGNITION_AGENT_PATH,
  quoteShellArg,
  renderIgnition,
} from '../../../generator/render/ignition.ts';
import { decodeDataUrl, encodeIgnitionContents, gzipDeterministic } from '../../../generator/render/ignition-encoding.ts';
import { DEFAULT_SYSEXT_BASE, planSysextImages } from '../../../generator/render/sysext.ts';
import { makeHost, makeProvisioning, makeSpec, TEST_CA_PEM } from './fixtures.ts';

const SHA256 = 'ab'.repeat(32);
const host = makeHost('k8s1master1');

function render(family: 'flatcar' | 'fedora-coreos' = 'flatcar', opts: Partial<Parameters<typeof renderIgnition>[3]> = {}) {
  const spec = makeSpec(family);
  const json = renderIgnition(makeProvisioning('k8s1master1'), host, spec, { coordinatorCa: TEST_CA_PEM, agentSha256: SHA256, ...opts });
  return { json, cfg: JSON.parse(json) as ReturnType<typeof buildIgnitionConfig> };
}

function fileContent(cfg: ReturnType<typeof buildIgnitionConfig>, path: string): string {
  const f = cfg.storage.files.find((x) => x.path === path);
  if (!f) throw new Error(`no file ${path}`);
  const raw = decodeDataUrl(f.contents.source);
  return (f.contents.compression === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
}

describe('renderIgnition', () => {
  it('emits compact JSON of spec 3.3.0 with the coordinator CA as a data URL', () => {
    const { json, cfg } = render();
    expect(json).not.toContain('\n');
    expect(cfg.ignition.version).toBe('3.3.0');
    const ca = cfg.ignition.security.tls.certificateAuthorities[0];
    expect(ca && decodeDataUrl(ca.source).toString('utf8')).toBe(TEST_CA_PEM);
  });

  it('writes every provisioning file byte-exactly with decimal modes and overwrite', () => {
    const p = makeProvisioning('k8s1master1');
    const { cfg } = render();
    for (const f of p.files) {
      const entry = cfg.storage.files.find((x) => x.path === f.path);
      expect(entry?.mode).toBe(f.mode);
      expect(entry?.overwrite).toBe(true);
      expect(fileContent(cfg, f.path)).toBe(f.content);
    }
    expect(cfg.storage.files.find((x) => x.path === '/etc/kubeseed/agent.yaml')?.mode).toBe(384);
    expect(cfg.storage.files.find((x) => x.path === FIRSTBOOT_SCRIPT)?.mode).toBe(448);
    expect(cfg.storage.files.find((x) => x.path === IGNITION_AGENT_PATH)?.mode).toBe(493);
  });

  it('gzips a file only when the data URL gets shorter', () => {
    expect(encodeIgnitionContents('overlay\n').compression).toBeUndefined();
    const big = encodeIgnitionContents('apiVersion: kubeadm.k8s.io/v1beta4\n'.repeat(40));
    expect(big.compression).toBe('gzip');
    expect(gunzipSync(decodeDataUrl(big.source)).toString()).toBe('apiVersion: kubeadm.k8s.io/v1beta4\n'.repeat(40));
    // Incompressible bytes stay plain.
    const noise = Buffer.concat(Array.from({ length: 20 }, (_, i) => createHash('sha256').update(`block ${i}`).digest()));
    expect(encodeIgnitionContents(noise).compression).toBeUndefined();
  });

  it('writes gzip with a fixed header (mtime 0, OS Unix) and stable bytes', () => {
    const a = gzipDeterministic('hello kubeseed');
    expect(a.readUInt32LE(4)).toBe(0);
    expect(a[9]).toBe(3);
    expect(gzipDeterministic('hello kubeseed').equals(a)).toBe(true);
  });

  it('writes hostname, /etc/hosts and the time servers for the family', () => {
    const flatcar = render('flatcar').cfg;
    expect(fileContent(flatcar, '/etc/hostname')).toBe('k8s1master1\n');
    expect(fileContent(flatcar, '/etc/hosts')).toContain('10.101.1.10\tk8s1api.kloud.lan k8s1api\n');
    expect(fileContent(flatcar, '/etc/hosts')).toMatch(/^127\.0\.0\.1\tlocalhost\n/);
    expect(fileContent(flatcar, '/etc/systemd/timesyncd.conf.d/10-kubeseed.conf')).toBe('[Time]\nNTP=ntp1.kloud.lan\n');
    const fcos = render('fedora-coreos').cfg;
    // A drop-in into the sourcedir of Fedora's own chrony.conf, which is left alone (platform time sources keep working).
    expect(fcos.storage.files.some((f) => f.path === '/etc/chrony.conf')).toBe(false);
    expect(fileContent(fcos, '/etc/tmpfiles.d/kubeseed-chrony.conf')).toContain(
      'f+ /run/chrony-dhcp/kubeseed.sources 0644 root root - server ntp1.kloud.lan iburst\\n\n',
    );
    expect(fcos.storage.files.some((f) => f.path.startsWith('/etc/systemd/timesyncd'))).toBe(false);
  });

  it('turns first-boot commands into a run-once oneshot unit', () => {
    const { cfg } = render();
    const unit = cfg.systemd.units.find((u) => u.name === FIRSTBOOT_UNIT);
    expect(unit?.enabled).toBe(true);
    expect(unit?.contents).toContain(`ConditionPathExists=!${FIRSTBOOT_DONE}\n`);
    expect(unit?.contents).toContain('After=network-online.target');
    expect(unit?.contents).toContain('Type=oneshot\n');
    expect(unit?.contents).toContain(`ExecStart=${FIRSTBOOT_SCRIPT}\n`);
    // The agent unit the cloud-init path starts waits for the first-boot commands.
    expect(unit?.contents).toContain('Before=kubeseed-agent.service\n');
    const script = fileContent(cfg, FIRSTBOOT_SCRIPT);
    const lines = script.trimEnd().split('\n');
    expect(lines[0]).toBe('#!/bin/bash');
    expect(lines).toContain('set -euo pipefail');
    expect(lines.indexOf('modprobe overlay')).toBeLessThan(lines.indexOf('sysctl --system'));
    expect(lines.at(-1)).toBe(`touch ${FIRSTBOOT_DONE}`);
    expect(script).toContain(`sh -c 'echo '\\''first boot of $(hostname)'\\'' > /var/log/kubeseed-firstboot.log'`);
  });

  it('quotes argv for the shell', () => {
    expect(quoteShellArg('kubeadm')).toBe('kubeadm');
    expect(quoteShellArg('')).toBe("''");
    expect(quoteShellArg('a b')).toBe("'a b'");
    expect(quoteShellArg("it's")).toBe(`'it'\\''s'`);
    expect(quoteShellArg('$(rm -rf /)')).toBe("'$(rm -rf /)'");
  });

  it('enables units that cloud-init would start; a unit without [Install] is started by the script', () => {
    const p = makeProvisioning('k8s1master1');
    p.units.push({
      name: 'oneshot-noinstall.service',
      contents: '[Service]\nType=oneshot\nExecStart=/bin/true\n',
      enabled: false,
      start: true,
    });
    p.units.push({
      name: 'idle.service',
      contents: '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
      enabled: false,
      start: false,
    });
    const cfg = buildIgnitionConfig(p, host, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM });
    expect(cfg.systemd.units.find((u) => u.name === 'kubeseed-agent.service')?.enabled).toBe(true);
    expect(cfg.systemd.units.find((u) => u.name === 'oneshot-noinstall.service')?.enabled).toBeUndefined();
    expect(cfg.systemd.units.find((u) => u.name === 'idle.service')?.enabled).toBeUndefined();
    expect(fileContent(cfg, FIRSTBOOT_SCRIPT)).toContain('systemctl start --no-block oneshot-noinstall.service\n');
  });

  it('gives every SSH key to the image user core', () => {
    const p = makeProvisioning('k8s1master1');
    p.users.push({ name: 'ops', sshAuthorizedKeys: ['ssh-ed25519 AAAAsecond ops2', p.users[0]?.sshAuthorizedKeys[0] ?? ''] });
    const cfg = buildIgnitionConfig(p, host, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM });
    expect(cfg.passwd?.users).toEqual([
      {
        name: 'core',
        sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKubeseedTestKeyOnly ops@kloud', 'ssh-ed25519 AAAAsecond ops2'],
      },
    ]);
    p.users = [];
    expect(buildIgnitionConfig(p, host, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM }).passwd).toBeUndefined();
  });

  it('renders the fleet config without a hostname', () => {
    const p = makeProvisioning('');
    p.hostsEntries = [];
    const cfg = buildIgnitionConfig(p, null, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM });
    expect(cfg.storage.files.some((f) => f.path === '/etc/hostname')).toBe(false);
    p.files.push({ path: 'relative', content: '', mode: 0o644 });
    expect(() => buildIgnitionConfig(p, null, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM })).toThrow(/^fleet: file path relative/);
  });

  it('declares kubeseed directories holding private files 0700', () => {
    const { cfg } = render();
    expect(cfg.storage.directories).toEqual([
      { path: '/etc/kubeseed', mode: 448 },
      { path: '/opt/kubeseed', mode: 448 },
      { path: '/var/lib/kubeseed', mode: 448 },
    ]);
  });

  it('lets Ignition fetch the gzip agent from the coordinator with its hash', () => {
    const agent = render().cfg.storage.files.find((f) => f.path === IGNITION_AGENT_PATH);
    expect(agent?.contents).toEqual({
      source: 'https://10.101.1.5:9443/agent/linux-amd64',
      compression: 'gzip',
      verification: { hash: `sha256-${SHA256}` },
    });
    const sha512 = render('flatcar', { agentSha512: 'cd'.repeat(64) }).cfg.storage.files.find((f) => f.path === IGNITION_AGENT_PATH);
    expect(sha512?.contents.verification?.hash).toBe(`sha512-${'cd'.repeat(64)}`);
    const noHash = render('flatcar', { agentSha256: undefined }).cfg.storage.files.find((f) => f.path === IGNITION_AGENT_PATH);
    expect(noHash?.contents.verification).toBeUndefined();
    const spec = makeSpec('flatcar');
    spec.mirrors.agent = 'https://mirror.kloud.lan/kubeseed/agent';
    const mirrored = buildIgnitionConfig(makeProvisioning('x'), host, spec, { coordinatorCa: TEST_CA_PEM, agentGzip: false });
    expect(mirrored.storage.files.find((f) => f.path === IGNITION_AGENT_PATH)?.contents).toEqual({
      source: 'https://mirror.kloud.lan/kubeseed/agent/linux-amd64',
    });
  });

  it('prepares the host with the kubernetes system extension; on Flatcar the built-in containerd ≥ 2.0 runs (ADR 0021)', () => {
    const flatcar = render('flatcar').cfg;
    // The containerd image is stored, never linked by Ignition, and Flatcar's own containerd is not masked.
    expect(flatcar.storage.links).toEqual([
      { path: '/etc/extensions/kubernetes.raw', target: '/opt/extensions/kubernetes/kubernetes-v1.37.0-x86-64.raw', overwrite: true },
      { path: '/etc/extensions/docker-flatcar.raw', target: '/dev/null', overwrite: true },
    ]);
    const k8s = flatcar.storage.files.find((f) => f.path === '/opt/extensions/kubernetes/kubernetes-v1.37.0-x86-64.raw');
    expect(k8s?.contents.source).toBe(`${DEFAULT_SYSEXT_BASE}kubernetes-v1.37.0-x86-64.raw`);
    // containerd 2.3.4: the version table's row for 1.37 (generator/versions.ts).
    const image = '/opt/extensions/containerd/containerd-2.3.4-x86-64.raw';
    expect(flatcar.storage.files.find((f) => f.path === image)?.contents.source).toBe(`${DEFAULT_SYSEXT_BASE}containerd-2.3.4-x86-64.raw`);
    const select = fileContent(flatcar, '/opt/kubeseed/select-containerd.sh');
    expect(select).toContain(`IMAGE=${image}\n`);
    expect(select).toContain('LINK=/etc/extensions/containerd.raw\n');
    expect(select).toContain('BUILTIN=/etc/extensions/containerd-flatcar.raw\n');
    expect(flatcar.storage.files.find((f) => f.path === '/opt/kubeseed/select-containerd.sh')?.mode).toBe(0o755);
    const selectUnit = flatcar.systemd.units.find((u) => u.name === 'kubeseed-containerd.service');
    expect(selectUnit?.enabled).toBe(true);
    expect(selectUnit?.contents).toMatch(/^After=systemd-sysext\.service/m);
    expect(selectUnit?.contents).toMatch(/^Before=containerd\.service kubelet\.service$/m);
    expect(flatcar.systemd.units.find((u) => u.name === 'systemd-sysext.service')).toEqual({
      name: 'systemd-sysext.service',
      enabled: true,
    });
    // Both Flatcar's unit and the bakery's pass --config ${CONTAINERD_CONFIG}: kubeseed's version-3 file wins either way.
    const dropin = flatcar.systemd.units.find((u) => u.name === 'containerd.service')?.dropins?.[0]?.contents ?? '';
    expect(dropin).toContain('Environment=CONTAINERD_CONFIG=/etc/containerd/config.toml\n');
    expect(dropin).toContain('ExecStart=\nExecStart=/usr/bin/containerd --config /etc/containerd/config.toml\n');
    expect(dropin).toContain('Requires=kubeseed-containerd.service\nAfter=kubeseed-containerd.service\n');
    // Fedora CoreOS runs its own containerd (rpm-ostree path, ADR 0023): no extension, no boot-time choice.
    const fcos = render('fedora-coreos').cfg;
    expect(fcos.storage.links.filter((l) => l.path.startsWith('/etc/extensions/'))).toEqual([]);
    expect(fcos.systemd.units.some((u) => u.name === 'kubeseed-containerd.service')).toBe(false);
    expect(fcos.systemd.units.find((u) => u.name === 'containerd.service')?.dropins?.[0]?.contents).not.toContain('Requires=');
  });

  it('takes the containerd image from spec.os.containerdVersion, else from the version table of the minor', () => {
    const imageOf = (spec: ReturnType<typeof makeSpec>) =>
      buildIgnitionConfig(makeProvisioning('x'), host, spec, { coordinatorCa: TEST_CA_PEM }).storage.files.find((f) =>
        f.path.startsWith('/opt/extensions/containerd/'),
      )?.path;
    const v135 = makeSpec('flatcar', { kubernetesVersion: 'v1.35.2', kubernetesMinor: 35 });
    expect(imageOf(v135)).toBe('/opt/extensions/containerd/containerd-2.2.7-x86-64.raw');
    const pinned = makeSpec('flatcar');
    pinned.os.containerdVersion = '2.1.5';
    expect(imageOf(pinned)).toBe('/opt/extensions/containerd/containerd-2.1.5-x86-64.raw');
  });

  it("fetches the agent and the extension images of the host's architecture", () => {
    const arm = makeHost('k8s1master1', { arch: 'arm64' });
    const cfg = buildIgnitionConfig(makeProvisioning('k8s1master1'), arm, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM });
    const sources = cfg.storage.files.filter((f) => !f.contents.source.startsWith('data:')).map((f) => f.contents.source);
    expect(sources).toEqual([
      'https://10.101.1.5:9443/agent/linux-arm64',
      `${DEFAULT_SYSEXT_BASE}kubernetes-v1.37.0-arm64.raw`,
      `${DEFAULT_SYSEXT_BASE}containerd-2.3.4-arm64.raw`,
    ]);
    expect(fileContent(cfg, '/opt/kubeseed/select-containerd.sh')).toContain(
      'IMAGE=/opt/extensions/containerd/containerd-2.3.4-arm64.raw\n',
    );
  });

  it('layers the Kubernetes RPMs with rpm-ostree on Fedora CoreOS instead of unlabelled system extensions', () => {
    const fcos = render('fedora-coreos').cfg;
    // No sysext: its images carry no SELinux labels and would hide /var/usrlocal (docs/adr/0023).
    expect(fcos.storage.links).toEqual([]);
    expect(fcos.storage.files.some((f) => f.path.startsWith('/opt/extensions/'))).toBe(false);
    expect(fcos.systemd.units.some((u) => u.name === 'systemd-sysext.service')).toBe(false);
    expect(fileContent(fcos, '/etc/yum.repos.d/kubeseed-kubernetes.repo')).toBe(
      [
        '# kubeseed: Kubernetes v1.37 RPMs for rpm-ostree layering (kubeseed-rpm-ostree-install.service).',
        '[kubeseed-kubernetes]',
        'name=Kubernetes v1.37 (kubeseed)',
        'baseurl=https://pkgs.k8s.io/core:/stable:/v1.37/rpm/',
        'enabled=1',
        'gpgcheck=1',
        'gpgkey=file:///etc/pki/rpm-gpg/kubeseed-kubernetes.asc',
        '',
      ].join('\n'),
    );
    // rpm-ostree trusts keys under /etc/pki/rpm-gpg and does not fetch gpgkey URLs: Ignition fetches the key.
    expect(fcos.storage.files.find((f) => f.path === '/etc/pki/rpm-gpg/kubeseed-kubernetes.asc')?.contents).toEqual({
      source: 'https://pkgs.k8s.io/core:/stable:/v1.37/rpm/repodata/repomd.xml.key',
    });
    const install = fcos.systemd.units.find((u) => u.name === 'kubeseed-rpm-ostree-install.service');
    expect(install?.enabled).toBe(true);
    const lines = install?.contents?.split('\n') ?? [];
    expect(lines).toContain(
      'ExecStart=/usr/bin/rpm-ostree install --apply-live --allow-inactive --idempotent kubelet-1.37.0 kubeadm-1.37.0 kubectl-1.37.0 cri-tools',
    );
    expect(lines).toContain('Before=kubelet.service kubeseed-agent.service zincati.service');
    expect(lines.indexOf('ExecStart=/usr/bin/systemctl daemon-reload')).toBeGreaterThan(
      lines.findIndex((l) => l.includes('rpm-ostree install')),
    );
    expect(lines).toContain('ExecStart=/usr/bin/systemctl enable kubelet.service');
    // The image's containerd, enabled and started with kubeseed's config, which turns SELinux labelling on.
    const containerd = fcos.systemd.units.find((u) => u.name === 'containerd.service');
    expect(containerd?.enabled).toBe(true);
    expect(containerd?.dropins?.[0]?.contents).toContain('--config /etc/containerd/config.toml');
    expect(render('flatcar').cfg.systemd.units.find((u) => u.name === 'containerd.service')?.enabled).toBeUndefined();
  });

  it('points rpm-ostree at mirrors.kubernetesRpm and gives rpm-ostreed the spec proxy', () => {
    const spec = makeSpec('fedora-coreos');
    spec.mirrors.kubernetesRpm = 'https://rpm.kloud.lan/k8s/v1.37';
    spec.proxy = { http: 'http://proxy.kloud.lan:3128', https: 'http://proxy.kloud.lan:3128', noProxy: [] };
    const cfg = buildIgnitionConfig(makeProvisioning('k8s1master1'), host, spec, { coordinatorCa: TEST_CA_PEM });
    expect(fileContent(cfg, '/etc/yum.repos.d/kubeseed-kubernetes.repo')).toContain('baseurl=https://rpm.kloud.lan/k8s/v1.37/\n');
    expect(cfg.storage.files.find((f) => f.path === '/etc/pki/rpm-gpg/kubeseed-kubernetes.asc')?.contents.source).toBe(
      'https://rpm.kloud.lan/k8s/v1.37/repodata/repomd.xml.key',
    );
    // rpm-ostreed is D-Bus activated: only its own unit's environment reaches libdnf.
    const dropin = fileContent(cfg, '/etc/systemd/system/rpm-ostreed.service.d/http-proxy.conf');
    expect(dropin).toContain('Environment="HTTPS_PROXY=http://proxy.kloud.lan:3128"\n');
    expect(dropin).toMatch(/Environment="no_proxy=[^"]*rpm\.kloud\.lan/);
    expect(cfg.ignition.proxy?.noProxy).toContain('rpm.kloud.lan');
    spec.mirrors.kubernetesRpmKey = 'https://keys.kloud.lan/k8s.asc';
    const withKey = buildIgnitionConfig(makeProvisioning('k8s1master1'), host, spec, { coordinatorCa: TEST_CA_PEM });
    expect(withKey.storage.files.find((f) => f.path === '/etc/pki/rpm-gpg/kubeseed-kubernetes.asc')?.contents.source).toBe(
      'https://keys.kloud.lan/k8s.asc',
    );
  });

  it('takes sysext images from mirrors.sysext, with the digests of mirrors.sysextSha256, and refuses containerd < 2', () => {
    const spec = makeSpec('flatcar');
    spec.mirrors.sysext = 'http://mirror.kloud.lan/sysext';
    spec.mirrors.sysextSha256 = { 'containerd-2.0.5-arm64.raw': 'ab'.repeat(32) };
    const imgs = planSysextImages(spec, { arch: 'arm64', containerdVersion: 'v2.0.5' });
    expect(imgs.map((i) => i.url)).toEqual([
      'http://mirror.kloud.lan/sysext/kubernetes-v1.37.0-arm64.raw',
      'http://mirror.kloud.lan/sysext/containerd-2.0.5-arm64.raw',
    ]);
    expect(imgs[0]?.hash).toBeUndefined();
    expect(imgs[1]?.hash).toBe(`sha256-${'ab'.repeat(32)}`);
    expect(() => planSysextImages(spec, { containerdVersion: '1.7.27' })).toThrow(/older than 2\.0/);
  });

  it('gives Ignition the spec proxy, with the coordinator, mirrors and cluster ranges in noProxy', () => {
    // Ignition fetches the agent and the sysext images in the initramfs, where only ignition.proxy applies.
    expect(render().cfg.ignition.proxy).toBeUndefined();
    const spec = makeSpec('flatcar');
    spec.proxy = { http: 'http://proxy.kloud.lan:3128', https: 'http://proxy.kloud.lan:3128', noProxy: ['.kloud.lan'] };
    spec.mirrors.sysext = 'https://sysext.mirror.lan:8443/ext';
    spec.mirrors.agent = 'https://agents.mirror.lan/kubeseed/';
    const cfg = buildIgnitionConfig(makeProvisioning('k8s1master1'), host, spec, { coordinatorCa: TEST_CA_PEM });
    expect(cfg.ignition.proxy?.httpProxy).toBe('http://proxy.kloud.lan:3128');
    expect(cfg.ignition.proxy?.httpsProxy).toBe('http://proxy.kloud.lan:3128');
    const noProxy = cfg.ignition.proxy?.noProxy ?? [];
    for (const entry of ['10.101.1.5', 'sysext.mirror.lan', 'agents.mirror.lan', '.kloud.lan', spec.networking.podSubnet, 'localhost'])
      expect(noProxy).toContain(entry);
    expect(new Set(noProxy).size).toBe(noProxy.length);
    // Only https: no httpProxy key (Ignition's schema has both optional).
    spec.proxy = { https: 'http://proxy.kloud.lan:3128', noProxy: [] };
    const httpsOnly = buildIgnitionConfig(makeProvisioning('x'), host, spec, { coordinatorCa: TEST_CA_PEM });
    expect(httpsOnly.ignition.proxy && 'httpProxy' in httpsOnly.ignition.proxy).toBe(false);
  });

  it('keeps hosts from rebooting on their own for OS updates', () => {
    // Flatcar: locksmithd reboots after update_engine applied an update unless REBOOT_STRATEGY=off.
    expect(fileContent(render('flatcar').cfg, '/etc/flatcar/update.conf')).toMatch(/^REBOOT_STRATEGY=off$/m);
    // Fedora CoreOS: Zincati's default strategy reboots as soon as an update is staged.
    const fcos = render('fedora-coreos').cfg;
    expect(fileContent(fcos, '/etc/zincati/config.d/90-kubeseed-updates.toml')).toMatch(/^\[updates\]\nenabled = false$/m);
    expect(fcos.storage.files.some((f) => f.path.startsWith('/etc/flatcar/'))).toBe(false);
  });

  it('refuses what Ignition cannot express', () => {
    expect(() => render('flatcar', { coordinatorCa: 'nope' })).toThrow(/not a PEM certificate/);
    const spec = makeSpec('ubuntu');
    expect(() => renderIgnition(makeProvisioning('x'), host, spec, { coordinatorCa: TEST_CA_PEM })).toThrow(/use os.format: cloud-init/);
    const dup = makeProvisioning('x');
    dup.files.push({ path: '/etc/crictl.yaml', content: '', mode: 0o644 });
    expect(() => buildIgnitionConfig(dup, host, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM })).toThrow(/written twice/);
    const suid = makeProvisioning('x');
    suid.files.push({ path: '/opt/bin/tool', content: 'x', mode: 0o4755 });
    expect(() => buildIgnitionConfig(suid, host, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM })).toThrow(/outside 0–0777/);
    const usr = makeProvisioning('x');
    usr.files.push({ path: '/usr/local/lib/kubeseed/prepare.sh', content: 'x', mode: 0o755 });
    expect(() => buildIgnitionConfig(usr, host, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM })).toThrow(/read-only on flatcar/);
    expect(
      buildIgnitionConfig(usr, host, makeSpec('fedora-coreos'), { coordinatorCa: TEST_CA_PEM }).storage.files.map((f) => f.path),
    ).toContain('/usr/local/lib/kubeseed/prepare.sh');
    usr.files.push({ path: '/usr/lib/x', content: 'x', mode: 0o644 });
    expect(() => buildIgnitionConfig(usr, host, makeSpec('fedora-coreos'), { coordinatorCa: TEST_CA_PEM })).toThrow(
      /read-only on fedora-coreos/,
    );
    const rel = makeProvisioning('x');
    rel.files.push({ path: '/etc/../etc/x', content: 'x', mode: 0o644 });
    expect(() => buildIgnitionConfig(rel, host, makeSpec('flatcar'), { coordinatorCa: TEST_CA_PEM })).toThrow(/absolute and simplified/);
  });

  it('is deterministic and matches the golden files', async () => {
    const a = render('flatcar').json;
    expect(render('flatcar').json).toBe(a);
    await expect(a).toMatchFileSnapshot('__snapshots__/flatcar-k8s1master1.ign');
    await expect(render('fedora-coreos').json).toMatchFileSnapshot('__snapshots__/fedora-coreos-k8s1master1.ign');
  });
});
