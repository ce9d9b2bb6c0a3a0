// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected strings are bash, where ${…} is shell expansion
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AGENT_CONFIG_PATH, CREDENTIAL_PATH } from '../../../generator/plan/provision.ts';
import { INSTALL_FAILURE_REASONS } from '../../../protocol/index.ts';
import {
  renderInstallAgentScript,
  renderKeepalivedCheckScript,
  renderPrepareHostScript,
  TemplateInputError,
} from '../../../templates/index.ts';
import { INSTALL_AGENT_VARIANTS, PREPARE_VARIANTS } from './fixtures.ts';

/** `bash -n` (or `sh -n`): parse only. Throws with bash's message on a syntax error. */
function syntaxCheck(script: string, shell = 'bash'): void {
  execFileSync(shell, ['-n'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('scripts parse', () => {
  it.each(Object.entries(PREPARE_VARIANTS))('prepare: %s', (_name, params) => {
    syntaxCheck(renderPrepareHostScript(params));
  });
  it.each(Object.entries(INSTALL_AGENT_VARIANTS))('install agent: %s', (_name, params) => {
    syntaxCheck(renderInstallAgentScript(params));
  });
  it.each(['haproxy', 'nginx'] as const)('check script for %s (POSIX sh)', (lb) => {
    syntaxCheck(renderKeepalivedCheckScript({ loadBalancer: lb, port: 6443 }), 'sh');
  });
  it('the syntax check can fail', () => {
    expect(() => syntaxCheck('if then fi')).toThrow();
  });
});

describe('renderPrepareHostScript', () => {
  const install = renderPrepareHostScript(PREPARE_VARIANTS['install, docker apt, defaults']!);
  const rich = renderPrepareHostScript(PREPARE_VARIANTS['install, ipvs, proxy, chrony, LB packages']!);
  const tarball = renderPrepareHostScript(PREPARE_VARIANTS['install, tarball, mirrors']!);
  const pre = renderPrepareHostScript(PREPARE_VARIANTS.preinstalled!);

  it('is strict bash and reports every step with one prefix', () => {
    for (const s of [install, rich, tarball, pre]) {
      expect(s.startsWith('#!/bin/bash\n')).toBe(true);
      expect(s).toContain('\nset -euo pipefail\n');
      const echoes = s.split('\n').filter((l) => /^\s*echo "/.test(l));
      // Besides progress lines: files written, and the values helpers return (a keyring path, a reason).
      for (const e of echoes)
        expect(e).toMatch(
          /kubeseed-prepare: |sourcedir|\$CONTAINERD_URL|> "\$MARKER"|echo "\$(have|keyring)"|echo (repository-unreachable|download-failed) /,
        );
    }
  });

  it('turns swap off, loads modules and applies sysctls', () => {
    expect(install).toContain('swapoff -a');
    expect(install).toContain('sed -E -i "/$SWAP_RE/s/^/#kubeseed: swap off# /" /etc/fstab');
    expect(install).toContain('systemctl mask "$unit"');
    expect(install).toContain('KERNEL_MODULES=(overlay br_netfilter)\n');
    expect(install).toContain('sysctl --system');
    expect(install).toContain('/proc/sys/net/ipv4/ip_forward');
  });

  it('loads the ipvs modules and installs ipset and ipvsadm only with ipvs', () => {
    expect(rich).toContain('KERNEL_MODULES=(overlay br_netfilter ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh nf_conntrack)');
    expect(rich).toContain('NODE_TOOLS=(conntrack iptables ipset ipvsadm)\n');
    expect(rich).toContain('EXTRA_PACKAGES=(haproxy keepalived chrony)\n');
    expect(install).not.toContain('ip_vs');
    expect(install).not.toMatch(/ipset|ipvsadm/);
  });

  // Issue 17 defect 4: kubeadm packages >= 1.32 no longer depend on cri-tools (kubernetes/release
  // cmd/krel/templates/latest/metadata.yaml) and kubelet packages built since 2025-09 no longer
  // depend on conntrack (kubelet.spec), so with --no-install-recommends nothing pulled them in.
  it('installs cri-tools of the minor from the Kubernetes repository, conntrack and iptables, on every node', () => {
    expect(install).toContain("CRI_TOOLS_RE='^1\\.37\\.'\n");
    expect(install).toContain('NODE_TOOLS=(conntrack iptables)\n');
    expect(rich).toContain("CRI_TOOLS_RE='^1\\.36\\.'\n");
    const section = install.slice(install.indexOf('# --- node tools'), install.indexOf('# --- containerd must be 2.x'));
    expect(section).toContain('v=$(newest_version cri-tools "$CRI_TOOLS_RE")');
    expect(section).toContain('want+=("cri-tools=$v")');
    expect(section).toContain('apt_get install -y -q --no-install-recommends --allow-downgrades "${want[@]}"');
    // the Kubernetes repository is configured before: the section comes after kubeadm's install
    expect(install.indexOf('# --- node tools')).toBeGreaterThan(install.indexOf('apt-mark hold kubelet kubeadm kubectl'));
    // cri-tools follows its repository (not held): only kubelet, kubeadm, kubectl and containerd.io are
    expect(install).not.toMatch(/apt-mark hold[^\n]*cri-tools/);
    const tarballSection = tarball.slice(tarball.indexOf('# --- node tools'));
    expect(tarballSection).toContain('NODE_TOOLS=(conntrack iptables)');
  });

  it('writes proxy settings only with a proxy, and removes stale ones without', () => {
    expect(rich).toContain('put_file /etc/systemd/system/containerd.service.d/http-proxy.conf 0644');
    expect(rich).toContain('Environment="HTTPS_PROXY=http://proxy.lan:3128"');
    expect(rich).toContain('Acquire::https::Proxy "http://proxy.lan:3128";');
    expect(rich).toContain('Acquire::https::Proxy::k8s1api.kloud.lan "DIRECT";');
    expect(rich).not.toContain('Proxy::100.64.0.0/16');
    expect(rich).toContain('export no_proxy=10.101.1.0/24,100.64.0.0/16,.svc,k8s1api.kloud.lan');
    expect(install).not.toContain('Environment="HTTP');
    expect(install).not.toContain('export http');
    expect(install).toContain('rm -f /etc/apt/apt.conf.d/95kubeseed-proxy');
  });

  it('installs containerd.io 2.x from Docker and kubeadm pinned to the patch from pkgs.k8s.io, held', () => {
    expect(install).toContain("DOCKER_REPO='https://download.docker.com/linux/{distro}'");
    expect(install).toContain("resolve_version containerd.io '^2\\.'");
    expect(install).toContain('apt-mark hold containerd.io');
    expect(install).toContain('K8S_REPO=https://pkgs.k8s.io/core:/stable:/v1.37/deb/\n');
    expect(install).toContain('K8S_KEY=https://pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key\n');
    expect(install).toContain("K8S_VERSION_RE='^1\\.37\\.0-'");
    expect(install).toContain('gpg --dearmor');
    expect(install).toContain('/etc/apt/keyrings');
    expect(install).toContain('apt-mark hold kubelet kubeadm kubectl');
    expect(rich).toContain('K8S_REPO=https://pkgs.k8s.io/core:/stable:/v1.36/deb/\n');
    expect(rich).toContain("K8S_VERSION_RE='^1\\.36\\.4-'");
  });

  it('installs containerd from the tarball plus runc with mirrored URLs', () => {
    expect(tarball).toContain("CONTAINERD_URL='https://mirror.lan/containerd/containerd-2.1.4-linux-{arch}.tar.gz'");
    expect(tarball).toContain("RUNC_URL='https://mirror.lan/runc/v1.3.0/runc.{arch}'");
    expect(tarball).toContain('tar -C /usr/local -xzf');
    expect(tarball).toContain('install -D -m 0755 "$TMP/runc" /usr/local/sbin/runc');
    expect(tarball).toContain('ExecStart=/usr/local/bin/containerd');
    expect(tarball).toContain('K8S_REPO=https://mirror.lan/k8s/v1.37/deb/\n');
    expect(tarball).not.toContain('resolve_version containerd.io');
  });

  it('preinstalled skips every install and checks the binaries', () => {
    for (const s of [pre, renderPrepareHostScript(PREPARE_VARIANTS['preinstalled, proxy, time']!)]) {
      // (The fetch helpers are defined in every variant; no download calls them here.)
      expect(s).not.toMatch(/apt_get install|apt-mark|fetch_or_fail "|install_key "|pkgs\.k8s\.io|download\.docker\.com/);
      expect(s).toContain('REQUIRED_BINARIES=(containerd runc kubeadm kubelet kubectl)');
      // what the install path adds is only recommended on an image: a warning names what is missing
      expect(s).toContain('RECOMMENDED_BINARIES=(crictl conntrack iptables)');
      expect(s).toContain('say "warning: ${absent[*]} not found on PATH');
    }
  });

  it('always installs the containerd config and enables containerd and kubelet, guarded without systemd', () => {
    for (const s of [install, pre]) {
      expect(s).toContain('install -D -m 0644 "$CONTAINERD_CONFIG_SOURCE" /etc/containerd/config.toml');
      expect(s).toContain('has_systemd() { [ -d /run/systemd/system ]; }');
      expect(s).toContain('systemctl enable --now containerd');
      expect(s).toContain('systemctl enable kubelet');
      // every systemctl call sits inside a has_systemd branch
      const l = s.split('\n');
      let depth = 0;
      for (const line of l) {
        if (/^\s*if has_systemd; then/.test(line)) depth = 1;
        else if (depth && /^(else|fi)$/.test(line)) depth = 0;
        if (/^\s*systemctl /.test(line) || /\| *while read -r unit/.test(line)) expect(depth, line).toBe(1);
      }
    }
    expect(rich).toContain('systemctl enable haproxy');
    expect(rich).toContain('systemctl restart keepalived');
  });

  it('does no kubelet work on a host without kubelet', () => {
    const lb = renderPrepareHostScript(PREPARE_VARIANTS['load balancer (no kubelet), proxy']!);
    expect(lb).not.toMatch(
      /swapoff|KERNEL_MODULES|sysctl --system|containerd|kubeadm|kubelet|pkgs\.k8s\.io|cri-tools|conntrack|NODE_TOOLS/,
    );
    expect(lb).toContain('EXTRA_PACKAGES=(nginx libnginx-mod-stream keepalived)');
    expect(lb).toContain('Acquire::http::Proxy "http://proxy.lan:3128";');
    expect(lb).toContain('systemctl restart nginx');
    expect(lb).toContain('not enabling or starting nginx, keepalived');
  });

  it('installs upstream etcd from its tarball without starting it', () => {
    const etcd = renderPrepareHostScript(PREPARE_VARIANTS['etcd binary member']!);
    expect(etcd).toContain("ETCD_URL='https://github.com/etcd-io/etcd/releases/download/v3.6.5/etcd-v3.6.5-linux-{arch}.tar.gz'");
    expect(etcd).toContain('for bin in etcd etcdctl etcdutl; do');
    expect(etcd).not.toMatch(/systemctl (enable|restart|start) etcd/);
    expect(etcd).not.toContain('kubeadm');
    const pre = renderPrepareHostScript(PREPARE_VARIANTS['etcd binary member, preinstalled']!);
    expect(pre).toContain('REQUIRED_BINARIES=(etcd)');
    expect(pre).not.toContain('ETCD_URL');
  });

  it('writes chrony sources only with time servers', () => {
    expect(rich).toContain('server ntp1.kloud.lan iburst');
    expect(rich).toContain('NTP=ntp1.kloud.lan 10.101.1.1');
    expect(install).not.toContain('chrony');
  });

  it.each([
    ['a bad version', { kubernetesVersion: '1.37', packagesMode: 'install' as const }],
    ['a bad package name', { kubernetesVersion: 'v1.37.0', packagesMode: 'install' as const, extraPackages: ['haproxy; rm -rf /'] }],
    ['a proxy with a quote', { kubernetesVersion: 'v1.37.0', packagesMode: 'install' as const, proxy: { http: 'http://x"y' } }],
    [
      'a proxy with a quote on a host without kubelet',
      { kubernetesVersion: 'v1.37.0', packagesMode: 'install' as const, kubernetesNode: false, proxy: { https: 'http://x"y' } },
    ],
    [
      'a no-proxy entry with a space',
      { kubernetesVersion: 'v1.37.0', packagesMode: 'install' as const, proxy: { http: 'http://p', noProxy: ['a b'] } },
    ],
    ['a bad time server', { kubernetesVersion: 'v1.37.0', packagesMode: 'install' as const, timeServers: ['$(reboot)'] }],
  ])('refuses %s', (_name, params) => {
    expect(() => renderPrepareHostScript(params)).toThrow(TemplateInputError);
  });
});

describe('renderInstallAgentScript', () => {
  const direct = renderInstallAgentScript(INSTALL_AGENT_VARIANTS['from the coordinator']!);
  const mirror = renderInstallAgentScript(INSTALL_AGENT_VARIANTS['from a mirror, through a proxy']!);

  it('downloads from the coordinator over the pinned CA and verifies the checksum', () => {
    expect(direct).toContain('COORDINATOR_URLS=(https://10.101.1.5:9443)\n');
    expect(direct).toContain('AGENT_URL_PREFIX=https://10.101.1.5:9443/agent\n');
    expect(direct).toContain(
      'fetch "$TMP/agent.gz" "${COORDINATOR_URLS[@]/%//agent/linux-$ARCH}" -- --proto =https --cacert "$COORDINATOR_CA"',
    );
    expect(direct).toContain(
      'fetch "$TMP/agent.sha256" "${COORDINATOR_URLS[@]/%//agent/linux-$ARCH.sha256}" -- --proto =https --cacert "$COORDINATOR_CA"',
    );
    expect(direct).toContain('ACTUAL=$(sha256sum "$TMP/agent"');
    expect(direct).toContain('x86_64|amd64) ARCH=amd64');
    expect(direct).toContain('aarch64|arm64) ARCH=arm64');
    expect(direct).toContain('MAX_ATTEMPTS=60');
    expect(direct).toContain('AGENT_PATH=/usr/local/bin/kubeseed-agent');
    expect(direct).toContain('systemctl start --no-block "$UNIT_NAME"');
    expect(direct).toContain('if [ -d /run/systemd/system ]; then');
  });

  it('downloads from a mirror without the pinned CA but takes the checksum from the coordinator', () => {
    expect(mirror).toContain('AGENT_URL_PREFIX=http://mirror.lan/kubeseed\n');
    expect(mirror).toContain('fetch "$TMP/agent.gz" "$AGENT_URL_PREFIX/linux-$ARCH" -- --location');
    expect(mirror).not.toContain('"$TMP/agent.gz" "$AGENT_URL_PREFIX/linux-$ARCH" -- --proto');
    expect(mirror).toContain(
      'fetch "$TMP/agent.sha256" "${COORDINATOR_URLS[@]/%//agent/linux-$ARCH.sha256}" -- --proto =https --cacert "$COORDINATOR_CA"',
    );
    expect(mirror).toContain('export https_proxy=http://proxy.lan:3128');
    expect(mirror).toContain('export no_proxy=10.101.1.5');
    // The coordinator never through the proxy, whatever no_proxy holds (curl < 7.86 ignores CIDRs there).
    expect(mirror).toContain('COORDINATOR_HOSTS=10.101.1.5\n');
    expect(mirror).toContain('.sha256}" -- --proto =https --cacert "$COORDINATOR_CA" --noproxy "$COORDINATOR_HOSTS" ||');
    expect(direct).toContain('linux-$ARCH}" -- --proto =https --cacert "$COORDINATOR_CA" --noproxy "$COORDINATOR_HOSTS" ||');
    expect(mirror).toContain('MAX_ATTEMPTS=5');
    expect(direct).not.toContain('_proxy');
  });

  it('tells the coordinator why it failed: the credential over the pinned CA only, in a piped body', () => {
    expect(direct).toContain(`CREDENTIAL_FILE=${CREDENTIAL_PATH}\n`);
    expect(direct).toContain(`AGENT_CONFIG=${AGENT_CONFIG_PATH}\n`);
    expect(direct).toContain('BEACON_ATTEMPTS=3\n');
    expect(direct).toMatch(
      /printf '%s' "\$body" \| curl [^\n]*--proto =https --cacert "\$COORDINATOR_CA" --noproxy "\$COORDINATOR_HOSTS"[^\n]*\n[^\n]*--data-binary @- [^\n]*\n[^\n]*"\$\{COORDINATOR_URLS\[[^\n]*\]\}\/v1\/install-failed"/,
    );
    // Every reason the script can send is one the coordinator's schema accepts.
    const sent = new Set([...direct.matchAll(/(?<![-\w])fail (?:"\$\(space_or )?([a-z-]+)/g)].map((m) => m[1]));
    sent.add('disk-full');
    expect([...sent].sort()).toEqual([...INSTALL_FAILURE_REASONS].sort());
  });

  it('refuses a plain-HTTP coordinator', () => {
    expect(() =>
      renderInstallAgentScript({ coordinatorUrl: 'http://10.0.0.1:9443', coordinatorCaFile: '/ca', unitSourcePath: '/u' }),
    ).toThrow(TemplateInputError);
  });
});
