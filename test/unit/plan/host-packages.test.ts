/**
 * Issue 17 (defect 4): `kubeseed plan` shows what first boot installs on each host, and with
 * --no-install-recommends that must name cri-tools, conntrack, iptables (and ipset, ipvsadm with
 * kube-proxy ipvs) explicitly: no package of the supported minors pulls them all in.
 */
import { describe, expect, it } from 'vitest';
import { describeHostPlan, placeholderSecrets } from '../../../generator/plan/document.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { listPrepareHostPackages } from '../../../templates/index.ts';
import { fixedContext } from '../../support/fixtures.ts';
import { BASE_SPEC, withLine } from '../spec/base-spec.ts';

const packagesOf = (text: string, host: string): string[] => {
  const { spec } = parseSpec(text, 'c.yaml');
  const plan = planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), []);
  return (describeHostPlan(plan, host, placeholderSecrets).packages as string[] | undefined) ?? [];
};
const names = (rows: string[]) => rows.map((r) => r.split(' ')[0]);

describe('kubeseed plan: the packages each host gets', () => {
  it('a node gets cri-tools of its minor, conntrack and iptables besides containerd and the Kubernetes packages', () => {
    const cp = packagesOf(BASE_SPEC, 'cp1');
    expect(names(cp)).toEqual(['containerd.io', 'kubelet', 'kubeadm', 'kubectl', 'kubernetes-cni', 'cri-tools', 'conntrack', 'iptables']);
    expect(cp).toContain('cri-tools 1.37.x — Kubernetes apt repository v1.37, not held (crictl, set up by /etc/crictl.yaml)');
    expect(cp).toContain('kubelet 1.37.0 — Kubernetes apt repository v1.37, held');
    expect(names(packagesOf(BASE_SPEC, 'w1'))).toEqual(names(cp));
  });

  it('kube-proxy ipvs adds ipset and ipvsadm on nodes', () => {
    const ipvs = withLine('mode: iptables', '    mode: ipvs');
    expect(names(packagesOf(ipvs, 'w1')).slice(-4)).toEqual(['conntrack', 'iptables', 'ipset', 'ipvsadm']);
    expect(names(packagesOf(ipvs, 'lb1'))).not.toContain('ipvsadm');
  });

  it('a load balancer gets its daemons and none of the node tools', () => {
    expect(names(packagesOf(BASE_SPEC, 'lb1'))).toEqual(['haproxy', 'keepalived']);
  });

  it('a preinstalled image gets nothing installed', () => {
    const pre = withLine('platform: generic', '    platform: generic\n    packages: preinstalled');
    expect(packagesOf(pre, 'cp1')).toEqual([]);
  });

  it('the list follows the parameters of the prepare script', () => {
    const base = { kubernetesVersion: 'v1.36.2', packagesMode: 'install' } as const;
    expect(names(listPrepareHostPackages({ ...base, timeServers: ['ntp.lan'], extraPackages: ['iptables'] }))).toEqual([
      'containerd.io',
      'kubelet',
      'kubeadm',
      'kubectl',
      'kubernetes-cni',
      'cri-tools',
      'conntrack',
      'iptables',
      'chrony',
    ]);
    const etcd = listPrepareHostPackages({ ...base, kubernetesNode: false, etcd: { tarballUrl: 'https://e.lan/etcd-{arch}.tar.gz' } });
    expect(etcd).toEqual(['etcd, etcdctl, etcdutl — release tarball (etcd.mode: binary)']);
  });
});
