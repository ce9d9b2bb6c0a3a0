/**
 * The local package mirror of scenario 4: apt repositories signed with a throwaway test key, in
 * the two layouts the prepare script reads — pkgs.k8s.io's flat repo (`<base>/Packages`,
 * `InRelease`, `Release.key`) with kubeadm, kubelet, kubectl, and Docker's (`<base>/<distro>/dists/
 * <codename>/stable/…`, key at `<base>/<distro>/gpg`) with containerd.io. The packages carry the
 * real names and versions; their payload is a shim that runs the matching TEST DOUBLE. Built with
 * dpkg-deb and gpg on the test machine; served by `python3 -m http.server` inside a namespace.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.ts';

export interface AptRepoOptions {
  dir: string;
  /** Absolute directory of the TEST DOUBLES (the shims exec them). */
  doublesBin: string;
  /** Debian revisions present; the spec's version must be picked among them. */
  kubernetesVersions: string[];
  containerdVersions: string[];
}

interface Pkg {
  name: string;
  version: string;
  files: Record<string, [string, number]>;
  conffiles?: string[];
}

export interface AptRepo {
  dir: string;
  arch: string;
  distro: string;
  codename: string;
}

const shim = (target: string) =>
  `#!/bin/sh\n# kubeseed e2e package payload: runs the TEST DOUBLE (not the real tool).\nexec ${target} "$@"\n`;

export async function buildAptRepo(o: AptRepoOptions): Promise<AptRepo> {
  const arch = (await run('dpkg', ['--print-architecture'])).stdout.trim();
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const codename = /^VERSION_CODENAME=(.*)$/m.exec(osRelease)?.[1] ?? 'bookworm';
  const distro = (/^ID=(.*)$/m.exec(osRelease)?.[1] ?? 'debian').replace(/"/g, '');
  const gnupg = join(o.dir, '.gnupg');
  mkdirSync(gnupg, { recursive: true, mode: 0o700 });
  const gpgEnv = { ...process.env, GNUPGHOME: gnupg } as Record<string, string>;
  const gpg = (args: string[]) =>
    run('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env: gpgEnv });
  await gpg(['--quick-gen-key', 'kubeseed e2e repository <e2e@example.invalid>', 'ed25519', 'sign', 'never']);
  const key = (await run('gpg', ['--armor', '--export'], { env: gpgEnv })).stdout;

  const buildDeb = async (p: Pkg, into: string): Promise<string> => {
    const root = join(o.dir, '.build', `${p.name}_${p.version}`);
    for (const [path, [content, mode]] of Object.entries(p.files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content, { mode });
    }
    mkdirSync(join(root, 'DEBIAN'), { recursive: true });
    writeFileSync(
      join(root, 'DEBIAN', 'control'),
      `Package: ${p.name}\nVersion: ${p.version}\nArchitecture: ${arch}\nMaintainer: kubeseed e2e <e2e@example.invalid>\nDescription: TEST DOUBLE of ${p.name} (kubeseed e2e)\n`,
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

  // pkgs.k8s.io layout.
  const k8s = join(o.dir, 'k8s');
  const k8sDebs: string[] = [];
  for (const v of o.kubernetesVersions)
    for (const name of ['kubelet', 'kubeadm', 'kubectl']) {
      const target = join(o.doublesBin, name === 'kubeadm' ? 'kubeadm-api' : name);
      k8sDebs.push(await buildDeb({ name, version: v, files: { [`usr/bin/${name}`]: [shim(target), 0o755] } }, join(k8s, 'pool')));
    }
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
  await run('gpgconf', ['--kill', 'gpg-agent'], { env: gpgEnv, allowFail: true });
  return { dir: o.dir, arch, distro, codename };
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
