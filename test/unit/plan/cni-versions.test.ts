/**
 * Issue 17 defects 1, 7 and 8 on the generator side: a cilium spec plans a sha256-pinned,
 * mirrorable cilium CLI (and chart) that the agent installs before `cilium install`; versions
 * come from one table per Kubernetes minor (pause, etcd, CNI) and `kubeseed plan` shows them;
 * Cilium leaves pod CIDR allocation to the controller-manager (`ipam.mode: kubernetes`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { main } from '../../../cli/main.ts';
import { buildStep } from '../../../generator/plan/build-step.ts';
import { planCni } from '../../../generator/plan/cni.ts';
import { placeholderSecrets } from '../../../generator/plan/document.ts';
import { sandboxImage } from '../../../generator/plan/host-files.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import { noProxyList } from '../../../generator/plan/proxy.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import { CILIUM_CHARTS, VERSIONS_BY_MINOR } from '../../../generator/versions.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { withLine } from '../spec/base-spec.ts';

function spec(version: string, extra = '', plugin = 'cilium'): ClusterSpec {
  let text = withLine('kubernetesVersion:', `  kubernetesVersion: ${version}`);
  text = withLine('mode: iptables', `    mode: iptables\n  cni:\n    plugin: ${plugin}${extra}`, text);
  return parseSpec(text, 'c.yaml').spec;
}

/** Every file `cni-apply` releases, by path. */
function filesOf(s: ClusterSpec): Record<string, string> {
  return Object.fromEntries(planCni(s).files.map((f) => [f.path, f.content]));
}

// The cilium-cli v0.19.7 release tarballs, as kubernetes-sigs/kubespray pins them
// (roles/kubespray_defaults/vars/main/checksums.yml, ciliumcli_binary_checksums, 2026-08-06).
const CLI_AMD64 = 'cd15e0983bf0acc7946cd05d453d1e58376ea92dec2642e745212df2b07d8852';
const CLI_ARM64 = '9482937f14061fb239f2dbb2f97f4103de1b101f5d5defbff319f294f9bd540f';

describe('cilium is installed, not assumed (defect 1)', () => {
  it('downloads the pinned cilium CLI (sha256 per architecture) and runs that executable', () => {
    const plan = planCni(spec('v1.37.0'));
    const cli = plan.downloads.find((d) => d.path === '/usr/local/bin/cilium');
    expect(cli).toEqual({
      url: 'https://github.com/cilium/cilium-cli/releases/download/v0.19.7/cilium-linux-{arch}.tar.gz',
      sha256: { amd64: CLI_AMD64, arm64: CLI_ARM64 },
      member: 'cilium',
      path: '/usr/local/bin/cilium',
    });
    const install = plan.commands.find((c) => c.includes('install'));
    expect(install?.[0]).toBe('/usr/local/bin/cilium');
  });

  it('the chart is a verified download too, so nothing is fetched from helm.cilium.io at install time', () => {
    const plan = planCni(spec('v1.37.0'));
    const chart = plan.downloads.find((d) => d.member === undefined);
    expect(chart?.url).toMatch(/^https:\/\/helm\.cilium\.io\/cilium-1\.\d+\.\d+\.tgz$/);
    expect(chart?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const install = plan.commands.find((c) => c.includes('install')) ?? [];
    expect(install[install.indexOf('--chart-directory') + 1]).toBe(`${chart?.path}/cilium`);
  });

  it('spec.mirrors.cilium serves both files; spec.mirrors.imageRepository every Cilium image', () => {
    const s = spec('v1.37.0', '\n  mirrors:\n    cilium: https://mirror.lan/cilium/\n    imageRepository: registry.lan/k8s');
    const plan = planCni(s);
    expect(plan.downloads.map((d) => d.url)).toEqual([
      'https://mirror.lan/cilium/v0.19.7/cilium-linux-{arch}.tar.gz',
      expect.stringMatching(/^https:\/\/mirror\.lan\/cilium\/cilium-1\.\d+\.\d+\.tgz$/),
    ]);
    const values = YAML.parse(filesOf(s)['/etc/kubeseed/cni/cilium-values.yaml'] ?? '');
    expect(values.image.repository).toBe('registry.lan/k8s/cilium/cilium');
    expect(values.operator.image.repository).toBe('registry.lan/k8s/cilium/operator');
    expect(values.envoy.image.repository).toBe('registry.lan/k8s/cilium/cilium-envoy');
    expect(values.certgen.image.repository).toBe('registry.lan/k8s/cilium/certgen');
    expect(values.hubble.relay.image.repository).toBe('registry.lan/k8s/cilium/hubble-relay');
  });

  it('behind spec.proxy the downloads carry the proxy and the no-proxy list containerd and apt get', () => {
    const s = spec(
      'v1.37.0',
      '\n  proxy:\n    http: http://proxy.corp.lan:3128\n    https: http://user:secret@proxy.corp.lan:3128\n    noProxy: [.corp.lan]',
    );
    const proxy = { http: 'http://proxy.corp.lan:3128', https: 'http://user:secret@proxy.corp.lan:3128', noProxy: noProxyList(s) };
    expect(proxy.noProxy).toEqual(expect.arrayContaining(['.corp.lan', 'api.t1.lan', s.networking.podSubnet, s.networking.serviceSubnet]));
    expect(planCni(s).proxy).toEqual(proxy);
    const plan = planCluster(s, { coordinatorCa: '', enrollmentCredentials: Object.fromEntries(s.hosts.map((h) => [h.name, 'cred'])) });
    const step = plan.steps.find((p) => p.kind === 'cni-apply');
    expect(step).toBeDefined();
    const params = step && buildStep(plan, step, placeholderSecrets).params;
    expect(params && 'proxy' in params ? params.proxy : undefined).toEqual(proxy);
    // Without a proxy the params stay as they were.
    expect(planCni(spec('v1.37.0')).proxy).toBeUndefined();
  });

  it('behind spec.proxy the upstream Calico and Flannel manifests are fetched through it', () => {
    const proxied = '\n  proxy:\n    https: http://proxy.corp.lan:3128';
    for (const plugin of ['calico', 'flannel'] as const) {
      const s = spec('v1.37.0', proxied, plugin);
      expect(planCni(s).proxy).toEqual({ https: 'http://proxy.corp.lan:3128', noProxy: noProxyList(s) });
      expect(planCni(spec('v1.37.0', '', plugin)).proxy).toBeUndefined();
    }
    expect(planCni(spec('v1.37.0', proxied, 'none')).proxy).toBeUndefined();
  });

  it('on Flatcar (read-only /usr) the CLI goes to /opt/bin', () => {
    const s = spec('v1.37.0');
    s.os.family = 'flatcar';
    expect(planCni(s).downloads[0]?.path).toBe('/opt/bin/cilium');
  });
});

describe('Cilium IPAM (defect 8)', () => {
  it('ipam.mode kubernetes: the controller-manager alone allocates node CIDRs from podSubnet', () => {
    const values = YAML.parse(filesOf(spec('v1.37.0'))['/etc/kubeseed/cni/cilium-values.yaml'] ?? '');
    expect(values.ipam).toEqual({ mode: 'kubernetes' });
    expect(JSON.stringify(values)).not.toContain('clusterPool');
  });

  it('kube-proxy-free: kubeProxyReplacement with the endpoint as the API server address', () => {
    const s = spec('v1.37.0');
    s.kubeProxy.mode = 'disabled';
    const values = YAML.parse(filesOf(s)['/etc/kubeseed/cni/cilium-values.yaml'] ?? '');
    expect(values).toMatchObject({ kubeProxyReplacement: true, k8sServiceHost: 'api.t1.lan', k8sServicePort: 6443 });
  });
});

describe('versions per Kubernetes minor (defect 7)', () => {
  it('Cilium for 1.37 is not the 1.18 line (its e2e list stops at 1.33)', () => {
    expect(spec('v1.37.0').cni.version).not.toMatch(/^v1\.18\./);
    expect(spec('v1.37.0').cni.version).toMatch(/^v1\.(2\d|19)\./);
  });

  it('the pause image follows kubeadm of each minor (1.36 moved to 3.10.2)', () => {
    expect(sandboxImage(spec('v1.34.2'))).toBe('registry.k8s.io/pause:3.10.1');
    expect(sandboxImage(spec('v1.36.0'))).toBe('registry.k8s.io/pause:3.10.2');
    expect(sandboxImage(spec('v1.37.0'))).toBe('registry.k8s.io/pause:3.10.2');
  });

  it("external etcd defaults to kubeadm's own etcd of the minor", () => {
    const ext = (v: string) => parseSpec(withLine('kubernetesVersion:', `  kubernetesVersion: ${v}`), 'c.yaml').spec.etcd.version;
    expect(ext('v1.34.0')).toBe('v3.6.5');
    expect(ext('v1.36.0')).toBe('v3.6.8');
    expect(ext('v1.37.0')).toBe('v3.7.0');
  });

  it('CNI defaults differ per minor where the upstream test matrix does; spec.cni.version still wins', () => {
    expect(spec('v1.34.0', '', 'calico').cni.version).toMatch(/^v3\.3[12]\.\d+$/);
    expect(spec('v1.37.0', '\n    version: v3.30.0', 'calico').cni.version).toBe('v3.30.0');
    expect(spec('v1.34.0').cni.version).toMatch(/^v1\.19\./);
  });
});

describe('the version table', () => {
  it('has every entry for every supported minor, each Cilium with a pinned chart digest', () => {
    expect(Object.keys(VERSIONS_BY_MINOR).map(Number)).toEqual([34, 35, 36, 37]);
    for (const row of Object.values(VERSIONS_BY_MINOR)) {
      expect(row.pause).toMatch(/^\d+\.\d+(\.\d+)?$/);
      expect(row.etcdImageTag).toMatch(/^3\.\d+\.\d+-\d+$/);
      for (const v of [row.calico, row.flannel, row.cilium]) expect(v).toMatch(/^v\d+\.\d+\.\d+$/);
      expect(CILIUM_CHARTS[row.cilium]).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('a cilium version without a pinned chart is a spec error naming the pinned ones', () => {
    expect(() => spec('v1.37.0', '\n    version: v1.18.2')).toThrow(/spec\.cni\.version: v1\.18\.2: .*pins v1\.19\.6, v1\.20\.0/);
    expect(spec('v1.37.0', '\n    version: v1.19.6').cni.version).toBe('v1.19.6');
  });
});

describe('kubeseed plan shows the chosen versions', () => {
  const work = tempDir('ks-versions-');

  it('prints one line with pause, etcd, the CNI and the cilium CLI', async () => {
    const file = join(work, 'c.yaml');
    writeFileSync(file, withLine('mode: iptables', '    mode: iptables\n  cni:\n    plugin: cilium'));
    let out = '';
    const code = await main(['plan', file], {
      stdout: (s) => {
        out += s;
      },
      stderr: () => undefined,
      env: {},
      cwd: work,
      isTTY: false,
    });
    expect(code).toBe(0);
    const line = out.split('\n').find((l) => l.startsWith('# Versions')) ?? '';
    expect(line).toMatch(
      /Kubernetes 1\.37: pause 3\.10\.2, etcd 3\.7\.0-0, Cilium v1\.\d+\.\d+ \(chart sha256 [0-9a-f]{12}…, cilium-cli v0\.19\.7\)/,
    );
  });
});
