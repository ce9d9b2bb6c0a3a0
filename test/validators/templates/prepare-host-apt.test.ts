/**
 * The install path of the prepare-host script, for real: a local signed apt repository in
 * Docker's layout (containerd.io 1.7 and 2.1), one in pkgs.k8s.io's flat layout (kubelet,
 * kubeadm, kubectl 1.37.0 and 1.37.1; cri-tools 1.37 and 1.38, as a mirror carrying two minors;
 * kubernetes-cni), with dummy packages carrying the real names, versions and Depends (the
 * kubelet's `iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), mount, util-linux`), and a flat
 * "site Debian mirror" of REAL Debian .debs (conntrack, iptables, ipset, ipvsadm and the libraries
 * this machine lacks; fetched by .ci/run with `apt-get download`, see e2e/harness/apt-repo.ts),
 * served on loopback inside private namespaces; the script runs twice in an overlay of this
 * machine's root (nothing on the host changes), whose only apt source is that Debian mirror.
 * Proves: the newest containerd 2.x is chosen, the exact Debian revision of the spec's patch is
 * pinned (not the newest), packages are held, cri-tools of the cluster's minor and conntrack and
 * iptables are installed although --no-install-recommends pulls none of them in (issue 17), the
 * package's own containerd config is replaced by ours, a second run installs nothing, and a patch
 * missing from the repository stops the script with a clear message.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  etcdTarballUrl,
  renderContainerdConfig,
  renderKernelModules,
  renderPrepareHostScript,
  renderSysctlConfig,
} from '../../../templates/index.ts';
import { debianDebs, debianDebsDir, debianMirrorSource, KUBELET_DEPENDS } from '../../e2e/harness/apt-repo.ts';
import { skipUnless } from '../../support/requirements.ts';
import { makeTempDir, must, run, writeFile } from './helpers.ts';

const PORT = 18080;
const BASE = `http://127.0.0.1:${PORT}`;

const RUNNER = String.raw`
set -euo pipefail
T=$1; IN=$2; OUT=$3; REPO=$4; PORT=$5
ip link set lo up
mount --make-rprivate /
mount -t tmpfs tmpfs "$T"
mkdir -p "$T/upper" "$T/work" "$T/merged"
mount -t overlay overlay -o lowerdir=/,upperdir="$T/upper",workdir="$T/work" "$T/merged"
R="$T/merged"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount --rbind /sys "$R/sys"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
rm -f "$R"/etc/sysctl.d/* "$R"/usr/lib/sysctl.d/* "$R"/etc/sysctl.conf
# Only the test repositories: the machine's own sources are unreachable in this namespace; the
# image's Debian source is the site's mirror.
rm -f "$R"/etc/apt/sources.list "$R"/etc/apt/sources.list.d/*
install -D -m 0644 "$IN/debian.asc" "$R/etc/apt/keyrings/site-debian-mirror.asc"
install -D -m 0644 "$IN/debian.list" "$R/etc/apt/sources.list.d/site-debian-mirror.list"
# A node image need not carry them (this machine may): only the site's Debian mirror can provide them.
chroot "$R" dpkg --purge conntrack iptables ipset ipvsadm >/dev/null 2>&1 || true
install -D -m 0644 "$IN/sysctl.conf" "$R/etc/sysctl.d/99-kubeseed.conf"
install -D -m 0644 "$IN/modules.conf" "$R/etc/modules-load.d/kubeseed.conf"
install -D -m 0644 "$IN/containerd.toml" "$R/etc/kubeseed/containerd-config.toml"
for s in prepare prepare-other; do install -D -m 0755 "$IN/$s.sh" "$R/root/$s.sh"; done
/usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$REPO" >/dev/null 2>&1 &
HTTP=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.05; done
snapshot() { (cd "$T/upper" && find etc -type f -print0 | sort -z | xargs -0 sha256sum); }
set +e
chroot "$R" /bin/bash /root/prepare.sh > "$OUT/run1.log" 2>&1; echo $? > "$OUT/run1.rc"
snapshot > "$OUT/files1"
chroot "$R" /bin/bash /root/prepare.sh > "$OUT/run2.log" 2>&1; echo $? > "$OUT/run2.rc"
snapshot > "$OUT/files2"
chroot "$R" apt-mark showhold > "$OUT/holds" 2>&1
D='$'
chroot "$R" dpkg-query -W -f="$D{Package}=$D{Version}\n" containerd.io kubelet kubeadm kubectl cri-tools kubernetes-cni conntrack iptables > "$OUT/versions" 2>&1
cp "$R/etc/containerd/config.toml" "$OUT/config.toml" 2>/dev/null
cat "$R"/etc/apt/sources.list.d/*.list > "$OUT/sources" 2>/dev/null
chroot "$R" /bin/bash /root/prepare-other.sh > "$OUT/run3.log" 2>&1; echo $? > "$OUT/run3.rc"
(cd "$R" && ls -l usr/local/bin usr/local/sbin etc/systemd/system/containerd.service 2>&1) > "$OUT/local-files"
kill "$HTTP"
exit 0
`;

interface Pkg {
  name: string;
  version: string;
  /** Files: path → [content, mode]. */
  files: Record<string, [string, number]>;
  conffiles?: string[];
  depends?: string;
}

describe.skipIf(
  skipUnless('validators/templates prepare-host apt', {
    root: true,
    commands: ['unshare', 'chroot', 'dpkg-deb', 'gpg', '/usr/bin/python3', 'ip', debianDebsDir()],
  }),
)('prepare-host install path against local signed apt repositories', () => {
  const dir = makeTempDir('apt');
  const repo = join(dir, 'repo');
  const out = join(dir, 'out-apt');
  const outTarball = join(dir, 'out-tarball');
  const outPinned = join(dir, 'out-pinned');
  const read = (f: string, from = out) => run('cat', [join(from, f)]).stdout;
  const arch = must('dpkg', ['--print-architecture']).trim();
  const codename = /^VERSION_CODENAME=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'bookworm';
  const distro = /^ID=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]?.replace(/"/g, '') ?? 'debian';
  const gnupg = join(dir, 'gnupg');
  const gpgEnv = { ...process.env, GNUPGHOME: gnupg };
  const ourConfig = renderContainerdConfig({ sandboxImage: 'registry.k8s.io/pause:3.10.1' });

  function buildDeb(p: Pkg, into: string): string {
    const root = join(dir, 'build', `${p.name}_${p.version}`);
    for (const [path, [content, mode]] of Object.entries(p.files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content, { mode });
    }
    mkdirSync(join(root, 'DEBIAN'), { recursive: true });
    writeFileSync(
      join(root, 'DEBIAN', 'control'),
      `Package: ${p.name}\nVersion: ${p.version}\nArchitecture: ${arch}\nMaintainer: kubeseed tests <t@example.invalid>\n${p.depends ? `Depends: ${p.depends}\n` : ''}Description: test double of ${p.name}\n`,
    );
    if (p.conffiles) writeFileSync(join(root, 'DEBIAN', 'conffiles'), `${p.conffiles.join('\n')}\n`);
    mkdirSync(into, { recursive: true });
    const deb = join(into, `${p.name}_${p.version}_${arch}.deb`);
    must('dpkg-deb', ['--root-owner-group', '--build', root, deb]);
    return deb;
  }

  function packagesIndex(debs: string[], relativeTo: string): string {
    return debs
      .map((deb) => {
        const control = must('dpkg-deb', ['-f', deb]).trimEnd();
        const bytes = readFileSync(deb);
        return `${control}\nFilename: ${deb.slice(relativeTo.length + 1)}\nSize: ${bytes.length}\nSHA256: ${createHash('sha256').update(bytes).digest('hex')}\n`;
      })
      .join('\n');
  }

  function signedRelease(releaseDir: string, fields: string, indexes: string[]): void {
    const sums = indexes.map((rel) => {
      const bytes = readFileSync(join(releaseDir, rel));
      return ` ${createHash('sha256').update(bytes).digest('hex')} ${bytes.length} ${rel}`;
    });
    writeFileSync(join(releaseDir, 'Release'), `${fields}Date: Thu, 01 Jan 2026 00:00:00 UTC\nSHA256:\n${sums.join('\n')}\n`);
    const r = run(
      'gpg',
      [
        '--batch',
        '--yes',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        '--clearsign',
        '-o',
        join(releaseDir, 'InRelease'),
        join(releaseDir, 'Release'),
      ],
      {
        env: gpgEnv,
      },
    );
    if (r.status !== 0) throw new Error(r.stderr);
  }

  /** Runs `first` twice, then `other` once, in one overlay root; results land in `into`. */
  function scenario(label: string, into: string, first: string, other: string): void {
    const input = join(dir, `in-${label}`);
    mkdirSync(input);
    mkdirSync(into);
    writeFile(input, 'sysctl.conf', renderSysctlConfig());
    writeFile(input, 'modules.conf', renderKernelModules());
    writeFile(input, 'containerd.toml', ourConfig);
    writeFile(input, 'debian.asc', key);
    writeFile(input, 'debian.list', debianMirrorSource(BASE, '/etc/apt/keyrings/site-debian-mirror.asc'));
    writeFile(input, 'prepare.sh', first, 0o755);
    writeFile(input, 'prepare-other.sh', other, 0o755);
    const mnt = join(dir, `mnt-${label}`);
    mkdirSync(mnt);
    const runner = writeFile(dir, 'runner.sh', RUNNER, 0o755);
    const args = ['--mount', '--uts', '--net', '--pid', '--ipc', '--fork', 'bash', runner, mnt, input, into, repo, String(PORT)];
    const r = run('unshare', args, { timeoutMs: 120_000 });
    if (r.status !== 0) throw new Error(`runner failed: ${r.stdout}${r.stderr}`);
  }

  /** A .tar.gz holding `top/<name>` executables. */
  function tarball(path: string, top: string, entries: Record<string, string>): void {
    const src = join(dir, 'tar-src', top);
    mkdirSync(src, { recursive: true });
    for (const [name, content] of Object.entries(entries)) writeFileSync(join(src, name), content, { mode: 0o755 });
    mkdirSync(join(path, '..'), { recursive: true });
    must('tar', ['-C', join(dir, 'tar-src'), '-czf', path, top]);
    rmSync(join(dir, 'tar-src'), { recursive: true });
  }

  const tool = (name: string, version: string) => `#!/bin/sh\necho "${name} test double ${version}"\n`;
  let key = '';

  beforeAll(() => {
    mkdirSync(gnupg, { mode: 0o700 });
    const g = run(
      'gpg',
      [
        '--batch',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        '--quick-gen-key',
        'kubeseed test repo <repo@example.invalid>',
        'ed25519',
        'sign',
        'never',
      ],
      {
        env: gpgEnv,
      },
    );
    if (g.status !== 0) throw new Error(g.stderr);
    key = run('gpg', ['--armor', '--export'], { env: gpgEnv }).stdout;

    // Docker's layout: <base>/<distro>/dists/<codename>/stable/binary-<arch>/Packages, key at <base>/<distro>/gpg.
    const docker = join(repo, 'docker', distro);
    const pool = join(docker, 'pool');
    const containerdDebs = ['1.7.28-1', '2.1.4-1'].map((v) =>
      buildDeb(
        {
          name: 'containerd.io',
          version: v,
          files: {
            'usr/bin/containerd': [`#!/bin/sh\necho "containerd containerd.io ${v.replace(/-.*/, '')} 0123abcd"\n`, 0o755],
            'usr/bin/runc': ['#!/bin/sh\nexit 0\n', 0o755],
            // What the real package ships: the CRI plugin disabled.
            'etc/containerd/config.toml': ['disabled_plugins = ["cri"]\n', 0o644],
          },
          conffiles: ['/etc/containerd/config.toml'],
        },
        pool,
      ),
    );
    const dist = join(docker, 'dists', codename);
    mkdirSync(join(dist, 'stable', `binary-${arch}`), { recursive: true });
    writeFileSync(join(dist, 'stable', `binary-${arch}`, 'Packages'), packagesIndex(containerdDebs, docker));
    signedRelease(dist, `Origin: test\nSuite: ${codename}\nCodename: ${codename}\nArchitectures: ${arch}\nComponents: stable\n`, [
      `stable/binary-${arch}/Packages`,
    ]);
    writeFileSync(join(docker, 'gpg'), key);

    // pkgs.k8s.io's flat layout: <base>/Packages, <base>/InRelease, <base>/Release.key.
    const k8s = join(repo, 'k8s');
    const k8sDebs = ['1.37.0-1.1', '1.37.1-1.1'].flatMap((v) =>
      ['kubelet', 'kubeadm', 'kubectl'].map((name) =>
        buildDeb(
          {
            name,
            version: v,
            files: { [`usr/bin/${name}`]: [tool(name, v), 0o755] },
            ...(name === 'kubelet' ? { depends: KUBELET_DEPENDS } : {}),
          },
          join(k8s, 'pool'),
        ),
      ),
    );
    for (const v of ['1.37.0-1.1', '1.38.0-1.1'])
      k8sDebs.push(buildDeb({ name: 'cri-tools', version: v, files: { 'usr/bin/crictl': [tool('crictl', v), 0o755] } }, join(k8s, 'pool')));
    k8sDebs.push(
      buildDeb(
        { name: 'kubernetes-cni', version: '1.7.1-1.1', files: { 'etc/cni/net.d/.kubernetes-cni-keep': ['', 0o644] } },
        join(k8s, 'pool'),
      ),
    );
    writeFileSync(join(k8s, 'Packages'), packagesIndex(k8sDebs, k8s));
    signedRelease(k8s, `Origin: test\nArchitectures: ${arch}\n`, ['Packages']);
    writeFileSync(join(k8s, 'Release.key'), key);

    // The site's Debian mirror, flat: real .debs.
    const { debs, missing } = debianDebs();
    if (missing) throw new Error(`no ${missing} .deb in ${debianDebsDir()}: run .ci/run (apt-get download)`);
    const debian = join(repo, 'debian');
    mkdirSync(join(debian, 'pool'), { recursive: true });
    const copies = debs.map((d) => {
      const to = join(debian, 'pool', d.slice(d.lastIndexOf('/') + 1));
      writeFileSync(to, readFileSync(d));
      return to;
    });
    writeFileSync(join(debian, 'Packages'), packagesIndex(copies, debian));
    signedRelease(debian, `Origin: test-debian\nArchitectures: ${arch}\n`, ['Packages']);
    run('gpgconf', ['--kill', 'gpg-agent'], { env: gpgEnv });

    const params = (version: string, versionPrefix?: string) =>
      renderPrepareHostScript({
        kubernetesVersion: version,
        packagesMode: 'install',
        kubernetesAptUrl: `${BASE}/k8s/`,
        containerd: { source: 'docker-apt', repoUrl: `${BASE}/docker/{distro}`, ...(versionPrefix ? { versionPrefix } : {}) },
      });
    scenario('apt', out, params('v1.37.0'), params('v1.37.5'));
    // spec.os.containerdVersion pins containerd.io exactly (`<version>-`), not the newest 2.x.
    scenario('pinned', outPinned, params('v1.37.0', '1.7.28-'), params('v1.37.0', '2.1.4-'));

    // Upstream tarballs: containerd + runc on a node; etcd on a member without kubelet.
    const files = join(repo, 'files');
    tarball(join(files, `containerd-2.1.4-linux-${arch}.tar.gz`), 'bin', {
      containerd: '#!/bin/sh\necho "containerd github.com/containerd/containerd/v2 v2.1.4 0123abcd"\n',
      ctr: '#!/bin/sh\nexit 0\n',
    });
    writeFileSync(join(files, `runc.${arch}`), '#!/bin/sh\nexit 0\n');
    tarball(join(files, 'etcd', 'v3.6.5', `etcd-v3.6.5-linux-${arch}.tar.gz`), `etcd-v3.6.5-linux-${arch}`, {
      etcd: '#!/bin/sh\necho etcd test double\n',
      etcdctl: '#!/bin/sh\nexit 0\n',
      etcdutl: '#!/bin/sh\nexit 0\n',
    });
    const tarballNode = renderPrepareHostScript({
      kubernetesVersion: 'v1.37.0',
      packagesMode: 'install',
      kubernetesAptUrl: `${BASE}/k8s/`,
      containerd: {
        source: 'tarball',
        tarballUrl: `${BASE}/files/containerd-2.1.4-linux-{arch}.tar.gz`,
        runcUrl: `${BASE}/files/runc.{arch}`,
      },
    });
    const etcdMember = renderPrepareHostScript({
      kubernetesVersion: 'v1.37.0',
      packagesMode: 'install',
      kubernetesNode: false,
      etcd: { tarballUrl: etcdTarballUrl('v3.6.5', `${BASE}/files/etcd`) },
    });
    scenario('tarball', outTarball, tarballNode, etcdMember);
  }, 360_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs the newest containerd 2.x and the exact patch of kubeadm, kubelet, kubectl, held', () => {
    const log = read('run1.log');
    expect(read('run1.rc').trim(), log).toBe('0');
    expect(
      log
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('kubeseed-prepare: ')),
    ).toEqual([]);
    expect(log).toContain('kubeseed-prepare: installing containerd.io=2.1.4-1');
    expect(log).toContain('kubeseed-prepare: installing kubelet=1.37.0-1.1 kubeadm=1.37.0-1.1 kubectl=1.37.0-1.1');
    expect(log).toContain('kubeseed-prepare: containerd 2.1.4');
    // cri-tools of the cluster's minor (not the newest 1.38), conntrack and iptables, asked for by
    // name or already in the image; kubernetes-cni comes with the kubelet's Depends.
    // iptables came in as the kubelet's Depends, conntrack by name, both from the Debian mirror.
    expect(log).toContain('kubeseed-prepare: installing cri-tools=1.37.0-1.1 conntrack\n');
    const versions = read('versions').trim().split('\n').sort();
    expect(versions).toEqual(
      expect.arrayContaining([
        'containerd.io=2.1.4-1',
        'cri-tools=1.37.0-1.1',
        'kubeadm=1.37.0-1.1',
        'kubectl=1.37.0-1.1',
        'kubelet=1.37.0-1.1',
        'kubernetes-cni=1.7.1-1.1',
      ]),
    );
    for (const pkg of ['conntrack', 'iptables']) {
      const deb = debianDebs().debs.find((d) => d.includes(`/${pkg}_`))!;
      expect(versions, pkg).toContain(`${pkg}=${must('dpkg-deb', ['-f', deb, 'Version']).trim()}`);
    }
    expect(read('holds').trim().split('\n').sort()).toEqual(['containerd.io', 'kubeadm', 'kubectl', 'kubelet']);
    expect(read('sources')).toContain(
      `deb [arch=${arch} signed-by=/etc/apt/keyrings/docker.gpg] ${BASE}/docker/${distro} ${codename} stable`,
    );
    expect(read('sources')).toContain(`deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${BASE}/k8s/ /`);
  });

  it("replaces the package's containerd config with ours", () => {
    expect(read('config.toml')).toBe(ourConfig);
  });

  it('a second run installs nothing and changes no file', () => {
    const log = read('run2.log');
    expect(read('run2.rc').trim(), log).toBe('0');
    expect(log).toContain('kubeseed-prepare: containerd.io 2.1.4-1 already installed');
    expect(log).toContain('kubeseed-prepare: kubelet, kubeadm, kubectl 1.37.0 already installed');
    expect(log).toContain('kubeseed-prepare: node tools already installed: cri-tools conntrack iptables');
    expect(log).not.toContain('installing');
    expect(read('files2')).toBe(read('files1'));
    expect(statSync(join(out, 'files1')).size).toBeGreaterThan(0);
  });

  it('stops with a clear message when the repository lacks the patch version', () => {
    expect(read('run3.rc').trim()).toBe('1');
    expect(read('run3.log')).toContain(
      'kubeseed-prepare: ERROR: package-not-found: no version of kubelet matching ^1\\.37\\.5- in the configured repositories',
    );
  });

  it('pins containerd.io to the exact version a spec names, and still refuses a 1.x', () => {
    // 1.7.28 is older than the repository's newest 2.1.4: only the pin makes apt pick it.
    const log = read('run1.log', outPinned);
    expect(log).toContain('kubeseed-prepare: installing containerd.io=1.7.28-1');
    expect(read('run1.rc', outPinned).trim(), log).toBe('1');
    expect(log).toContain('containerd 1.7.28 is too old: containerd 2.0 or newer is required');
    const other = read('run3.log', outPinned);
    expect(read('run3.rc', outPinned).trim(), other).toBe('0');
    expect(other).toContain('kubeseed-prepare: installing containerd.io=2.1.4-1');
  });

  it('installs containerd and runc from release tarballs, once', () => {
    const log = read('run1.log', outTarball);
    expect(read('run1.rc', outTarball).trim(), log).toBe('0');
    expect(log).toContain(`kubeseed-prepare: containerd: downloading ${BASE}/files/containerd-2.1.4-linux-${arch}.tar.gz`);
    expect(log).toContain('kubeseed-prepare: containerd 2.1.4');
    expect(log).not.toContain('containerd.io');
    const log2 = read('run2.log', outTarball);
    expect(read('run2.rc', outTarball).trim(), log2).toBe('0');
    expect(log2).toContain('already installed');
    expect(log2).not.toContain('downloading');
    expect(read('files2', outTarball)).toBe(read('files1', outTarball));
    const local = read('local-files', outTarball);
    expect(local).toMatch(/-rwxr-xr-x .* containerd\n/);
    expect(local).toMatch(/-rwxr-xr-x .* runc\n/);
    expect(local).toContain('etc/systemd/system/containerd.service');
    expect(read('config.toml', outTarball)).toBe(ourConfig);
  });

  it('installs upstream etcd on a member without kubelet, and nothing of Kubernetes', () => {
    const log = read('run3.log', outTarball);
    expect(read('run3.rc', outTarball).trim(), log).toBe('0');
    expect(log).toContain(`kubeseed-prepare: etcd: downloading ${BASE}/files/etcd/v3.6.5/etcd-v3.6.5-linux-${arch}.tar.gz`);
    expect(log).not.toMatch(/kubelet|kubeadm|containerd|swap/);
    const local = read('local-files', outTarball);
    for (const bin of ['etcd', 'etcdctl', 'etcdutl']) expect(local).toMatch(new RegExp(`-rwxr-xr-x .* ${bin}\\n`));
  });
});
