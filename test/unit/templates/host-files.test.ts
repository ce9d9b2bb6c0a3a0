import { describe, expect, it } from 'vitest';
import * as t from '../../../templates/index.ts';
import { renderAll } from './fixtures.ts';

describe('every renderer', () => {
  const first = renderAll();
  const second = renderAll();

  it.each(Object.keys(first))('%s: deterministic, no trailing spaces, no tabs, one final newline', (key) => {
    const text = first[key]!;
    expect(second[key]).toBe(text);
    const bad = text.split('\n').filter((l) => /[ \t]$/.test(l));
    expect(bad).toEqual([]);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(false);
    expect(text).not.toContain('\r');
    expect(text).not.toContain('undefined');
    expect(text).not.toContain('[object Object]');
  });

  it('templates/ imports nothing from the project but the host paths it shares with the agent (protocol/host-paths.ts)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('../../../templates/', import.meta.url);
    for (const file of readdirSync(dir)) {
      const src = readFileSync(new URL(file, dir), 'utf8');
      const imports = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const spec of imports) {
        const allowed = spec.startsWith('./') || spec.startsWith('node:') || spec === '../protocol/host-paths.ts';
        expect(allowed, `${file} imports ${spec}`).toBe(true);
      }
    }
  });
});

describe('renderContainerdConfig', () => {
  const text = t.renderContainerdConfig({ sandboxImage: 'registry.k8s.io/pause:3.10.1' });
  it('is config version 3 with SystemdCgroup, the pinned sandbox and certs.d', () => {
    const l = text.split('\n');
    expect(l).toContain('version = 3');
    const runc = l.indexOf("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]");
    expect(runc).toBeGreaterThan(0);
    expect(l.slice(runc + 1).find((x) => x.includes('SystemdCgroup'))).toBe('  SystemdCgroup = true');
    const pinned = l.indexOf("[plugins.'io.containerd.cri.v1.images'.pinned_images]");
    expect(l.slice(pinned + 1).find((x) => x.includes('sandbox'))).toBe('  sandbox = "registry.k8s.io/pause:3.10.1"');
    const registry = l.indexOf("[plugins.'io.containerd.cri.v1.images'.registry]");
    expect(l.slice(registry + 1).find((x) => x.includes('config_path'))).toBe('  config_path = "/etc/containerd/certs.d"');
  });
  it('refuses an image reference with a quote', () => {
    expect(() => t.renderContainerdConfig({ sandboxImage: 'pause"' })).toThrow(t.TemplateInputError);
  });
});

describe('renderContainerdHostsToml', () => {
  it('maps docker.io to registry-1.docker.io and lists mirrors in order', () => {
    const text = t.renderContainerdHostsToml('docker.io', ['https://mirror.lan', 'mirror2.lan:5000']);
    const l = text.split('\n');
    expect(l).toContain('server = "https://registry-1.docker.io"');
    expect(l.indexOf('[host."https://mirror.lan"]')).toBeLessThan(l.indexOf('[host."https://mirror2.lan:5000"]'));
    expect(l.filter((x) => x === "  capabilities = ['pull', 'resolve']")).toHaveLength(2);
  });
  it('uses the registry itself as server, and none for _default', () => {
    expect(t.renderContainerdHostsToml('registry.k8s.io', ['m.lan'])).toContain('server = "https://registry.k8s.io"');
    expect(t.renderContainerdHostsToml('_default', ['m.lan'])).not.toContain('server =');
    expect(t.containerdHostsTomlPath('quay.io')).toBe('/etc/containerd/certs.d/quay.io/hosts.toml');
  });
  it('gives a mirror whose path holds the /v2 API root override_path, so containerd uses the path as written', () => {
    // containerd core/remotes/docker/config/hosts.go parseHostConfig: the URL path is cleaned; unless
    // override_path is set, '/v2' is appended to a path that does not already end in '/v2'.
    const apiRoot = (toml: string, url: string): string => {
      const block = toml.split('[host.').find((b) => b.startsWith(`"${url}"]`)) ?? '';
      const path = new URL(url).pathname.replace(/\/+$/, '');
      if (/^\s*override_path = true$/m.test(block)) return path;
      return path.endsWith('/v2') ? path : `${path}/v2`;
    };
    const mirrors = [
      'https://registry.example.internal/v2/docker.io',
      'https://mirror.lan',
      'https://mirror.lan/v2',
      'https://nexus.lan/repository/docker-proxy',
    ] as const;
    const text = t.renderContainerdHostsToml('docker.io', mirrors);
    expect(apiRoot(text, mirrors[0])).toBe('/v2/docker.io');
    expect(apiRoot(text, mirrors[1])).toBe('/v2');
    expect(apiRoot(text, mirrors[2])).toBe('/v2');
    // A registry served under a prefix keeps its /v2 below the prefix: no override there.
    expect(apiRoot(text, mirrors[3])).toBe('/repository/docker-proxy/v2');
    expect(text.match(/override_path = true/g)).toHaveLength(1);
  });
  it('refuses no mirrors and a registry with a slash', () => {
    expect(() => t.renderContainerdHostsToml('docker.io', [])).toThrow(t.TemplateInputError);
    expect(() => t.renderContainerdHostsToml('docker.io/library', ['m'])).toThrow(t.TemplateInputError);
  });
});

describe('renderContainerdProxyDropin', () => {
  it('sets both spellings and escapes % for systemd', () => {
    const text = t.renderContainerdProxyDropin({ https: 'http://user:p%40ss@proxy:3128', noProxy: ['10.0.0.0/8', '.svc'] });
    expect(text).toContain('Environment="HTTPS_PROXY=http://user:p%%40ss@proxy:3128"');
    expect(text).toContain('Environment="https_proxy=http://user:p%%40ss@proxy:3128"');
    expect(text).toContain('Environment="NO_PROXY=10.0.0.0/8,.svc"');
    expect(text).not.toContain('HTTP_PROXY=');
  });
  it('refuses settings without a proxy', () => {
    expect(() => t.renderContainerdProxyDropin({ noProxy: ['x'] })).toThrow(t.TemplateInputError);
  });
});

describe('crictl, kernel modules, sysctls', () => {
  it('points crictl at containerd', () => {
    expect(t.renderCrictlConfig()).toContain(
      'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n',
    );
  });
  it('lists ipvs modules only with ipvs', () => {
    const plain = t.renderKernelModules();
    const ipvs = t.renderKernelModules({ ipvs: true });
    const mods = (s: string) => s.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(mods(plain)).toEqual(['overlay', 'br_netfilter']);
    expect(mods(ipvs)).toEqual(['overlay', 'br_netfilter', 'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'nf_conntrack']);
    expect(plain).not.toContain('ip_vs');
  });
  it('sets forwarding and bridge netfilter', () => {
    expect(t.renderSysctlConfig().split('\n').slice(1, 4)).toEqual([
      'net.ipv4.ip_forward = 1',
      'net.bridge.bridge-nf-call-iptables = 1',
      'net.bridge.bridge-nf-call-ip6tables = 1',
    ]);
  });
});

describe('renderEtcdUnit', () => {
  const members = [
    { name: 'etcd1', ip: '10.101.1.21' },
    { name: 'etcd2', ip: '10.101.1.22' },
    { name: 'etcd3', ip: '10.101.1.23' },
  ];
  const text = t.renderEtcdUnit({ name: 'etcd2', ip: '10.101.1.22', members, initialClusterToken: 'k8s1-cluster' });
  const flags = text.split('\n').map((l) => l.trim().replace(/ \\$/, ''));

  it('runs a new TLS member with the whole initial cluster', () => {
    for (const f of [
      '--name=etcd2',
      '--data-dir=/var/lib/etcd',
      '--listen-client-urls=https://10.101.1.22:2379,https://127.0.0.1:2379',
      '--advertise-client-urls=https://10.101.1.22:2379',
      '--listen-peer-urls=https://10.101.1.22:2380',
      '--initial-advertise-peer-urls=https://10.101.1.22:2380',
      '--initial-cluster=etcd1=https://10.101.1.21:2380,etcd2=https://10.101.1.22:2380,etcd3=https://10.101.1.23:2380',
      '--initial-cluster-state=new',
      '--initial-cluster-token=k8s1-cluster',
      '--client-cert-auth=true',
      '--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt',
      '--cert-file=/etc/kubernetes/pki/etcd/server.crt',
      '--key-file=/etc/kubernetes/pki/etcd/server.key',
      '--peer-client-cert-auth=true',
      '--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt',
      '--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt',
      '--peer-key-file=/etc/kubernetes/pki/etcd/peer.key',
      '--listen-metrics-urls=http://127.0.0.1:2381',
    ]) {
      expect(flags).toContain(f);
    }
    expect(flags).toContain('Type=notify');
    expect(flags).toContain('ExecStart=/usr/local/bin/etcd');
    expect(flags).toContain('Restart=always');
    expect(flags).toContain('WantedBy=multi-user.target');
  });

  it('continues every ExecStart line but the last', () => {
    const l = text.split('\n');
    const start = l.findIndex((x) => x.startsWith('ExecStart='));
    const end = l.findIndex((x, i) => i > start && !x.endsWith(' \\'));
    expect(l[end]).toBe('  --snapshot-count=10000');
  });

  it('refuses a member missing from the initial cluster or with another address', () => {
    expect(() => t.renderEtcdUnit({ name: 'etcd9', ip: '10.101.1.29', members, initialClusterToken: 'x' })).toThrow(t.TemplateInputError);
    expect(() => t.renderEtcdUnit({ name: 'etcd1', ip: '10.101.1.29', members, initialClusterToken: 'x' })).toThrow(t.TemplateInputError);
  });
});

describe('etcd kubelet drop-in', () => {
  it('resets ExecStart and runs a bare kubelet with its own config', () => {
    const l = t.renderEtcdKubeletDropin({ kubeletConfigPath: '/etc/systemd/system/kubelet.service.d/kubelet.conf' }).split('\n');
    const reset = l.indexOf('ExecStart=');
    expect(reset).toBeGreaterThan(0);
    expect(l[reset + 1]).toBe('ExecStart=/usr/bin/kubelet --config=/etc/systemd/system/kubelet.service.d/kubelet.conf');
    expect(l).toContain('Restart=always');
    expect(t.ETCD_KUBELET_DROPIN_PATH).toBe('/etc/systemd/system/kubelet.service.d/20-etcd-service-manager.conf');
    expect(t.etcdKubeletConfiguration()).toMatchObject({
      cgroupDriver: 'systemd',
      address: '127.0.0.1',
      authorization: { mode: 'AlwaysAllow' },
    });
  });
});

describe('renderAgentUnit', () => {
  const l = t.renderAgentUnit({ configPath: '/etc/kubeseed/agent.json' }).split('\n');
  it('starts after the network and cloud-final, restarts with backoff, installs into multi-user', () => {
    expect(l).toContain('Wants=network-online.target');
    expect(l).toContain('After=network-online.target cloud-final.service');
    expect(l).toContain('ExecStart=/usr/local/bin/kubeseed-agent --config /etc/kubeseed/agent.json');
    expect(l).toContain('Restart=on-failure');
    expect(l).toContain('RestartSec=5s');
    expect(l).toContain('RestartSteps=10');
    expect(l).toContain('StartLimitIntervalSec=0');
    expect(l).toContain('WantedBy=multi-user.target');
  });
  it('on Flatcar/Fedora CoreOS (no cloud-init) starts after the system extensions and containerd', () => {
    const ign = t.renderAgentUnit({ configPath: '/etc/kubeseed/agent.json', preparedBy: 'ignition' }).split('\n');
    expect(ign).toContain('Wants=network-online.target containerd.service');
    expect(ign).toContain('After=network-online.target systemd-sysext.service containerd.service');
    expect(ign.filter((x) => !x.startsWith('#')).join('\n')).not.toContain('cloud-final');
  });
  it('keeps no hardening that blocks kubeadm', () => {
    const active = l.filter((x) => !x.startsWith('#'));
    for (const knob of [
      'ProtectSystem',
      'ProtectKernelModules',
      'ProtectKernelTunables',
      'PrivateDevices',
      'NoNewPrivileges',
      'User=',
      'CapabilityBoundingSet',
    ]) {
      expect(active.some((x) => x.startsWith(knob))).toBe(false);
    }
  });
});
