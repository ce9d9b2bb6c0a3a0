/**
 * The local package mirror of scenario 4: apt repositories signed with a throwaway test key, in
 * the layouts the prepare script and the image read:
 * - pkgs.k8s.io's flat repo (`<base>/Packages`, `InRelease`, `Release.key`): kubelet, kubeadm,
 *   kubectl, cri-tools, kubernetes-cni as kubernetes/release builds them for 1.34–1.37
 *   (cmd/krel/templates/latest/*.spec + metadata.yaml): the real names, versions, Depends and file
 *   lists — the kubelet `Depends: iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), mount,
 *   util-linux` and ships its unit, /etc/default/kubelet and the two `.kubelet-keep` files; kubeadm
 *   (>= 1.32) depends on nothing and ships the 10-kubeadm.conf drop-in; cri-tools ships
 *   /usr/bin/crictl; kubernetes-cni ships /etc/cni/net.d/.kubernetes-cni-keep. The unit texts come
 *   from doubles/bin/lib/packages.cjs (one description for every double host). Binaries are
 *   shims that run the matching TEST DOUBLE (crictl → doubles/bin/crictl); the CNI plugin
 *   binaries are left out (no pod network runs in the e2e tier).
 * - Docker's (`<base>/<distro>/dists/<codename>/stable/…`, key at `<base>/<distro>/gpg`):
 *   containerd.io, whose real Depends are only shared libraries (docker/containerd-packaging
 *   debian/control: ${shlibs:Depends}), so none is declared.
 * - `<base>/debian/`, flat: the site's Debian mirror. It holds REAL Debian packages (conntrack,
 *   iptables, ipset, ipvsadm and the libraries this machine lacks), fetched with `apt-get download`
 *   by .ci/run into `debianDebsDir()` — the tests have no network, and dummies of those would prove
 *   nothing about their real dependencies. Test hosts are overlays of this machine's root, so the
 *   closure computed here is exactly what a host misses.
 * Built with dpkg-deb and gpg on the test machine; served by `python3 -m http.server` in a namespace.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { run } from './exec.ts';

const doublePackages = createRequire(import.meta.url)('../../../doubles/bin/lib/packages.cjs') as {
  PACKAGES: Record<string, Record<string, [string, number]>>;
};

/** Debian's packages the prepare script installs on a node: what .ci/run downloads, what the mirror serves. */
export const DEBIAN_NODE_PACKAGES = ['conntrack', 'iptables', 'ipset', 'ipvsadm'] as const;

/** Where .ci/run puts the real .debs (`apt-get download`); KUBESEED_DEBIAN_DEBS overrides it. */
export function debianDebsDir(): string {
  return process.env.KUBESEED_DEBIAN_DEBS ?? '/var/cache/kubeseed/debian-debs';
}

/** The .debs of `debianDebsDir()` for each of DEBIAN_NODE_PACKAGES, or the first missing name. */
export function debianDebs(): { debs: string[]; missing?: string } {
  const dir = debianDebsDir();
  const debs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.deb')) : [];
  const missing = DEBIAN_NODE_PACKAGES.find((p) => !debs.some((f) => f.startsWith(`${p}_`)));
  return { debs: debs.map((f) => join(dir, f)), ...(missing ? { missing } : {}) };
}

/** kubelet's Depends in the debs of 1.34–1.37 (kubelet.spec Requires, in order, + metadata.yaml's kubernetes-cni). */
export const KUBELET_DEPENDS = 'iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), mount, util-linux';

export interface AptRepoOptions {
  dir: string;
  /** Absolute directory of the TEST DOUBLES (the shims exec them). */
  doublesBin: string;
  /** Debian revisions present; the spec's version must be picked among them. */
  kubernetesVersions: string[];
  /** Debian revisions of cri-tools and kubernetes-cni in the Kubernetes repository. */
  criToolsVersions: string[];
  cniVersion: string;
  containerdVersions: string[];
}

export interface Pkg {
  name: string;
  version: string;
  files: Record<string, [string, number]>;
  conffiles?: string[];
  depends?: string;
}

export interface AptRepo {
  dir: string;
  arch: string;
  distro: string;
  codename: string;
  /** The ASCII-armored repository key (an image trusts it for its Debian mirror). */
  key: string;
}

const shim = (target: string) =>
  `#!/bin/sh\n# kubeseed e2e package payload: runs the TEST DOUBLE (not the real tool).\nexec ${target} "$@"\n`;

/** A signing key and the pieces every repository of the mirror is made of (dpkg-deb, gpg). */
export interface AptRepoTools {
  arch: string;
  distro: string;
  codename: string;
  /** The ASCII-armored repository key. */
  key: string;
  buildDeb(p: Pkg, into: string): Promise<string>;
  /** A `Packages` index of `debs`, with file names relative to `base`. */
  index(debs: string[], base: string): Promise<string>;
  /** `Release` with the SHA-256 of `files` (relative to `releaseDir`), clear-signed as `InRelease`. */
  sign(releaseDir: string, fields: string, files: string[]): Promise<void>;
  /** Stops the gpg agent the key needed. */
  close(): Promise<void>;
}

/** A throwaway key in `<dir>/.gnupg` and the builders that use it. */
export async function createAptRepoTools(dir: string): Promise<AptRepoTools> {
  const arch = (await run('dpkg', ['--print-architecture'])).stdout.trim();
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const codename = /^VERSION_CODENAME=(.*)$/m.exec(osRelease)?.[1] ?? 'bookworm';
  const distro = (/^ID=(.*)$/m.exec(osRelease)?.[1] ?? 'debian').replace(/"/g, '');
  const gnupg = join(dir, '.gnupg');
  mkdirSync(gnupg, { recursive: true, mode: 0o700 });
  const gpgEnv = { ...process.env, GNUPGHOME: gnupg } as Record<string, string>;
  const gpg = (args: string[]) =>
    run('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env: gpgEnv });
  await gpg(['--quick-gen-key', 'kubeseed e2e repository <e2e@example.invalid>', 'ed25519', 'sign', 'never']);
  const key = (await run('gpg', ['--armor', '--export'], { env: gpgEnv })).stdout;

  const buildDeb = async (p: Pkg, into: string): Promise<string> => {
    const root = join(dir, '.build', `${p.name}_${p.version}`);
    for (const [path, [content, mode]] of Object.entries(p.files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content, { mode });
    }
    mkdirSync(join(root, 'DEBIAN'), { recursive: true });
    writeFileSync(
      join(root, 'DEBIAN', 'control'),
      `Package: ${p.name}\nVersion: ${p.version}\nArchitecture: ${arch}\nMaintainer: kubeseed e2e <e2e@example.invalid>\n${p.depends ? `Depends: ${p.depends}\n` : ''}Description: TEST DOUBLE of ${p.name} (kubeseed e2e)\n`,
    );
    if (p.conffiles) writeFileSync(join(root, 'DEBIAN', 'conffiles'), `${p.conffiles.join('\n')}\n`);
    mkdirSync(into, { recursive: true });
    const deb = join(into, `${p.name}_${p.version}_${arch}.deb`);
    await run('dpkg-deb', ['--root-owner-group', '--build', root, deb]);
    return deb;
  };
  const index = async (debs: string[], base: string): Promise<string> => {
    const parts: string[] = [];
    for (const deb of debs) {
      const control = (await run('dpkg-deb', ['-f', deb])).stdout.trimEnd();
      const bytes = readFileSync(deb);
      parts.push(
        `${control}\nFilename: ${deb.slice(base.length + 1)}\nSize: ${bytes.length}\nSHA256: ${createHash('sha256').update(bytes).digest('hex')}\n`,
      );
    }
    return parts.join('\n');
  };
  const sign = async (releaseDir: string, fields: string, files: string[]): Promise<void> => {
    const sums = files.map((f) => {
      const bytes = readFileSync(join(releaseDir, f));
      return ` ${createHash('sha256').update(bytes).digest('hex')} ${bytes.length} ${f}`;
    });
    writeFileSync(join(releaseDir, 'Release'), `${fields}Date: ${new Date().toUTCString()}\nSHA256:\n${sums.join('\n')}\n`);
    await gpg(['--clearsign', '-o', join(releaseDir, 'InRelease'), join(releaseDir, 'Release')]);
  };

  const close = async () => {
    await run('gpgconf', ['--kill', 'gpg-agent'], { env: gpgEnv, allowFail: true });
  };
  return { arch, distro, codename, key, buildDeb, index, sign, close };
}

/** kubelet, kubeadm and kubectl of `version` as pkgs.k8s.io builds them, with shims to the TEST DOUBLES in `doublesBin`. */
export function kubernetesPackages(version: string, doublesBin: string): Pkg[] {
  const packageFiles = (name: string) =>
    Object.fromEntries(Object.entries(doublePackages.PACKAGES[name] ?? {}).map(([path, file]) => [path.replace(/^\//, ''), file]));
  return ['kubelet', 'kubeadm', 'kubectl'].map((name) => {
    const target = join(doublesBin, name === 'kubeadm' ? 'kubeadm-api' : name);
    const files = { [`usr/bin/${name}`]: [shim(target), 0o755] as [string, number], ...packageFiles(name) };
    const pkg: Pkg = { name, version, files };
    if (name === 'kubelet') Object.assign(pkg, { depends: KUBELET_DEPENDS, conffiles: ['/etc/default/kubelet'] });
    return pkg;
  });
}

/** kubernetes-cni without the plugin binaries (no pod network runs in these tests). */
function kubernetesCniPackage(version: string): Pkg {
  return { name: 'kubernetes-cni', version, files: { 'etc/cni/net.d/.kubernetes-cni-keep': ['', 0o644] } };
}

/**
 * pkgs.k8s.io as it is: one flat repository per minor, `<dir>/core:/stable:/v1.MINOR/deb/` (Packages,
 * InRelease, Release.key), each with kubelet, kubeadm and kubectl of the revisions given for it —
 * what a minor upgrade moves a host between. Returns the key.
 */
export async function buildKubernetesMinorRepos(o: {
  dir: string;
  doublesBin: string;
  /** `1.37` → Debian revisions (`1.37.0-1.1`). */
  minors: Record<string, string[]>;
  /** kubernetes-cni's revision in every minor's repository (the kubelet depends on it). */
  cniVersion: string;
}): Promise<string> {
  const t = await createAptRepoTools(o.dir);
  for (const [minor, versions] of Object.entries(o.minors)) {
    const repo = join(o.dir, 'core:', 'stable:', `v${minor}`, 'deb');
    const debs: string[] = [];
    for (const v of versions) for (const pkg of kubernetesPackages(v, o.doublesBin)) debs.push(await t.buildDeb(pkg, join(repo, 'pool')));
    debs.push(await t.buildDeb(kubernetesCniPackage(o.cniVersion), join(repo, 'pool')));
    writeFileSync(join(repo, 'Packages'), await t.index(debs, repo));
    await t.sign(repo, `Origin: kubeseed-test\nLabel: kubernetes v${minor}\nArchitectures: ${t.arch}\n`, ['Packages']);
    writeFileSync(join(repo, 'Release.key'), t.key);
  }
  await t.close();
  return t.key;
}

export async function buildAptRepo(o: AptRepoOptions): Promise<AptRepo> {
  const { arch, distro, codename, key, buildDeb, index, sign, close } = await createAptRepoTools(o.dir);
  // pkgs.k8s.io layout.
  const k8s = join(o.dir, 'k8s');
  const k8sDebs: string[] = [];
  for (const v of o.kubernetesVersions)
    for (const pkg of kubernetesPackages(v, o.doublesBin)) k8sDebs.push(await buildDeb(pkg, join(k8s, 'pool')));
  for (const v of o.criToolsVersions)
    k8sDebs.push(
      await buildDeb(
        { name: 'cri-tools', version: v, files: { 'usr/bin/crictl': [shim(join(o.doublesBin, 'crictl')), 0o755] } },
        join(k8s, 'pool'),
      ),
    );
  k8sDebs.push(await buildDeb(kubernetesCniPackage(o.cniVersion), join(k8s, 'pool')));
  writeFileSync(join(k8s, 'Packages'), await index(k8sDebs, k8s));
  await sign(k8s, `Origin: kubeseed-e2e\nLabel: kubeseed-e2e\nArchitectures: ${arch}\n`, ['Packages']);
  writeFileSync(join(k8s, 'Release.key'), key);

  // Docker's layout.
  const docker = join(o.dir, 'docker', distro);
  const ctrDebs: string[] = [];
  for (const v of o.containerdVersions)
    ctrDebs.push(
      await buildDeb(
        {
          name: 'containerd.io',
          version: v,
          files: {
            'usr/bin/containerd': [shim(join(o.doublesBin, 'containerd')), 0o755],
            'usr/bin/runc': [shim(join(o.doublesBin, 'runc')), 0o755],
            // What the real package ships: the CRI plugin disabled (the prepare script replaces it).
            'etc/containerd/config.toml': ['disabled_plugins = ["cri"]\n', 0o644],
          },
          conffiles: ['/etc/containerd/config.toml'],
        },
        join(docker, 'pool'),
      ),
    );
  const dist = join(docker, 'dists', codename);
  mkdirSync(join(dist, 'stable', `binary-${arch}`), { recursive: true });
  writeFileSync(join(dist, 'stable', `binary-${arch}`, 'Packages'), await index(ctrDebs, docker));
  await sign(dist, `Origin: kubeseed-e2e\nSuite: ${codename}\nCodename: ${codename}\nArchitectures: ${arch}\nComponents: stable\n`, [
    `stable/binary-${arch}/Packages`,
  ]);
  writeFileSync(join(docker, 'gpg'), key);

  // The site's Debian mirror: the real .debs, flat.
  const { debs, missing } = debianDebs();
  if (missing) throw new Error(`no ${missing} .deb in ${debianDebsDir()}: run .ci/run (it fetches them with apt-get download)`);
  const debian = join(o.dir, 'debian');
  mkdirSync(join(debian, 'pool'), { recursive: true });
  const copies = debs.map((d) => {
    const to = join(debian, 'pool', d.slice(d.lastIndexOf('/') + 1));
    copyFileSync(d, to);
    return to;
  });
  writeFileSync(join(debian, 'Packages'), await index(copies, debian));
  await sign(debian, `Origin: kubeseed-e2e-debian\nLabel: kubeseed-e2e-debian\nArchitectures: ${arch}\n`, ['Packages']);
  await close();
  return { dir: o.dir, arch, distro, codename, key };
}

/** The apt source an image of the site carries for its Debian mirror (trusting `keyring`). */
export function debianMirrorSource(mirrorBase: string, keyring: string): string {
  return `deb [signed-by=${keyring}] ${mirrorBase}/debian/ /\n`;
}

/**
 * Debian's etcd binaries repacked as an upstream release tarball at
 * `<dir>/etcd/<version>/etcd-<version>-linux-<arch>.tar.gz` (the layout `mirrors.etcd` points into).
 */
export async function addEtcdTarball(dir: string, version: string, arch: string): Promise<void> {
  const top = `etcd-${version}-linux-${arch}`;
  const src = join(dir, '.build', top);
  mkdirSync(src, { recursive: true });
  for (const bin of ['etcd', 'etcdctl']) writeFileSync(join(src, bin), readFileSync(`/usr/bin/${bin}`), { mode: 0o755 });
  mkdirSync(join(dir, 'etcd', version), { recursive: true });
  await run('tar', ['-C', join(dir, '.build'), '-czf', join(dir, 'etcd', version, `${top}.tar.gz`), top]);
}
