/**
 * The rendered prepare-host script run for real, twice, in a throwaway overlay of this machine's
 * root inside private mount/net/pid/uts namespaces (nothing on the host changes): preinstalled
 * mode with stand-in binaries, a proxy and time servers. Proves that it runs to the end without
 * systemd as PID 1, applies the sysctls, puts the containerd config and proxy files in place,
 * and that a second run changes no file (idempotence). The install path (apt repositories) is
 * proven by the end-to-end harness against a local signed apt repository.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { renderContainerdConfig, renderKernelModules, renderPrepareHostScript, renderSysctlConfig } from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { makeTempDir, run, writeFile } from './helpers.ts';

const RUNNER = String.raw`
set -euo pipefail
T=$1; IN=$2; OUT=$3; STUBS=$4
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
# Only kubeseed's sysctl file, so that sysctl --system sets nothing else (it would reach global kernel settings).
rm -f "$R"/etc/sysctl.d/* "$R"/usr/lib/sysctl.d/* "$R"/run/sysctl.d/* "$R"/etc/sysctl.conf
# What user-data writes before the script runs.
install -D -m 0644 "$IN/sysctl.conf" "$R/etc/sysctl.d/99-kubeseed.conf"
install -D -m 0644 "$IN/modules.conf" "$R/etc/modules-load.d/kubeseed.conf"
install -D -m 0644 "$IN/containerd.toml" "$R/etc/kubeseed/containerd-config.toml"
install -D -m 0755 "$IN/prepare.sh" "$R/root/prepare.sh"
if [ "$STUBS" = 1 ]; then
  printf '#!/bin/sh\necho "containerd github.com/containerd/containerd/v2 v2.1.4 0123abcd"\n' > "$R/usr/local/bin/containerd"
  printf '#!/bin/sh\necho v1.37.0\n' > "$R/usr/local/bin/kubeadm"
  for b in runc kubelet kubectl; do printf '#!/bin/sh\nexit 0\n' > "$R/usr/local/bin/$b"; done
  chmod 0755 "$R"/usr/local/bin/containerd "$R"/usr/local/bin/kubeadm "$R"/usr/local/bin/runc "$R"/usr/local/bin/kubelet "$R"/usr/local/bin/kubectl
fi
snapshot() { (cd "$T/upper" && find etc -type f -print0 | sort -z | xargs -0 sha256sum); }
set +e
chroot "$R" /bin/bash /root/prepare.sh > "$OUT/run1.log" 2>&1; echo $? > "$OUT/run1.rc"
snapshot > "$OUT/files1"
chroot "$R" /bin/bash /root/prepare.sh > "$OUT/run2.log" 2>&1; echo $? > "$OUT/run2.rc"
snapshot > "$OUT/files2"
cat "$R/proc/sys/net/ipv4/ip_forward" > "$OUT/ip_forward"
for f in etc/containerd/config.toml etc/apt/apt.conf.d/95kubeseed-proxy etc/systemd/system/containerd.service.d/http-proxy.conf etc/systemd/timesyncd.conf.d/kubeseed.conf; do
  [ -f "$T/upper/$f" ] && install -D -m 0644 "$T/upper/$f" "$OUT/files/$f"
done
exit 0
`;

describe.skipIf(skipUnless('validators/templates prepare-host', { root: true, commands: ['unshare', 'chroot', 'sysctl', 'bash'] }))(
  'prepare-host script in an overlay root, run twice',
  () => {
    const dirs: string[] = [];
    afterAll(() => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    function prepare(label: string, stubs: boolean) {
      const dir = makeTempDir(`prep-${label}`);
      dirs.push(dir);
      const input = `${dir}/in`;
      const out = `${dir}/out`;
      const mount = `${dir}/mnt`;
      run('mkdir', ['-p', input, out, mount]);
      const containerd = renderContainerdConfig({ sandboxImage: 'registry.k8s.io/pause:3.10.1' });
      writeFile(input, 'sysctl.conf', renderSysctlConfig());
      writeFile(input, 'modules.conf', renderKernelModules());
      writeFile(input, 'containerd.toml', containerd);
      writeFile(
        input,
        'prepare.sh',
        renderPrepareHostScript({
          kubernetesVersion: 'v1.37.0',
          packagesMode: 'preinstalled',
          proxy: { http: 'http://proxy.lan:3128', https: 'http://proxy.lan:3128', noProxy: ['10.0.0.0/8', '.svc', 'ntp1.lan'] },
          timeServers: ['ntp1.lan', '10.0.0.1'],
        }),
        0o755,
      );
      const runner = writeFile(dir, 'runner.sh', RUNNER, 0o755);
      const r = run(
        'unshare',
        ['--mount', '--uts', '--net', '--pid', '--ipc', '--fork', 'bash', runner, mount, input, out, stubs ? '1' : '0'],
        {
          timeoutMs: 60_000,
        },
      );
      if (r.status !== 0) throw new Error(`runner failed: ${r.stdout}${r.stderr}`);
      const read = (f: string) => run('cat', [`${out}/${f}`]).stdout;
      return { read, containerd, out };
    }

    it('runs to the end without systemd, puts files in place, and a second run changes nothing', () => {
      const { read, containerd, out } = prepare('ok', true);
      const log1 = read('run1.log');
      expect(read('run1.rc').trim(), log1).toBe('0');
      for (const line of log1.trim().split('\n')) expect(line).toMatch(/^kubeseed-prepare: /);
      expect(log1).toContain('kubeseed-prepare: preinstalled containerd, runc, kubeadm, kubelet, kubectl found');
      expect(log1).toContain('kubeseed-prepare: containerd 2.1.4');
      expect(log1).toContain('kubeseed-prepare: containerd config installed at /etc/containerd/config.toml');
      expect(log1).toContain('kubeseed-prepare: systemd is not running');
      expect(log1).toContain('kubeseed-prepare: done');
      expect(read('ip_forward').trim()).toBe('1');
      expect(read('files/etc/containerd/config.toml')).toBe(containerd);
      expect(read('files/etc/apt/apt.conf.d/95kubeseed-proxy')).toContain('Acquire::https::Proxy "http://proxy.lan:3128";');
      // apt itself reads the file (apt ignores no_proxy: listed hosts get DIRECT entries).
      const apt = run('apt-config', ['-c', `${out}/files/etc/apt/apt.conf.d/95kubeseed-proxy`, 'dump']);
      expect(apt.status, apt.stderr).toBe(0);
      expect(apt.stdout).toContain('Acquire::http::Proxy::ntp1.lan "DIRECT";');
      expect(read('files/etc/systemd/system/containerd.service.d/http-proxy.conf')).toContain(
        'Environment="NO_PROXY=10.0.0.0/8,.svc,ntp1.lan"',
      );
      expect(read('files/etc/systemd/timesyncd.conf.d/kubeseed.conf')).toContain('NTP=ntp1.lan 10.0.0.1');

      const log2 = read('run2.log');
      expect(read('run2.rc').trim(), log2).toBe('0');
      expect(log2).toContain('kubeseed-prepare: containerd config already in place');
      expect(read('files2')).toBe(read('files1'));
      expect(read('files1')).toContain('etc/containerd/config.toml');
    });

    it('fails clearly when a preinstalled image lacks the binaries', () => {
      const { read } = prepare('missing', false);
      expect(read('run1.rc').trim()).toBe('1');
      expect(read('run1.log')).toMatch(/ERROR: os\.packages is preinstalled but .*kubeadm.* not found on PATH/);
    });
  },
);
