/**
 * The kubeadm TEST DOUBLE's `upgrade plan|apply|node` and `certs renew`, and kubectl's cordon/drain,
 * behave as the real programs do (doubles/bin/lib/kubeadm-upgrade.cjs and doubles/bin/kubectl list
 * each behaviour with its upstream source). Each case runs the doubles as processes on temporary
 * hosts that share one cluster state.
 */

import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DOUBLES_DIR, doubleEnv } from '../../../doubles/index.ts';
import { opensslCa } from '../../support/openssl.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeTempRoot } from './support.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A cluster of double hosts sharing one state file; `host(name)` makes another host of it. */
function cluster() {
  const shared = makeTempRoot('ks-upgrade-');
  cleanups.push(shared.cleanup);
  const stateFile = join(shared.root, 'cluster.json');
  const host = (name: string) => {
    const root = join(shared.root, name);
    mkdirSync(root, { recursive: true });
    const env = doubleEnv({ root, log: join(shared.root, 'calls.log'), clusterState: stateFile, kubernetesVersion: 'v1.37.1' });
    const put = (path: string, content: string, mode = 0o600) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content, { mode });
    };
    const run = (tool: string, ...args: string[]) => {
      const res = spawnSync(join(DOUBLES_DIR, tool), args, { env, encoding: 'utf8', input: '' });
      return { code: res.status, out: res.stdout, err: res.stderr };
    };
    /** What a package install of kubeadm at `version` leaves (the double reads it as its own version). */
    const installKubeadm = (version: string) => put('/.doubles/kubeadm-version', `${version}\n`, 0o644);
    return { root, put, run, installKubeadm, read: (p: string) => readFileSync(join(root, p), 'utf8') };
  };
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8'));
  // biome-ignore lint/suspicious/noExplicitAny: the doubles' state file is free-form JSON that tests reshape
  const patchState = (fn: (s: Record<string, any>) => void) => {
    const s = state();
    fn(s);
    writeFileSync(stateFile, JSON.stringify(s));
  };
  /** cp1 initialised (stacked etcd, Kubernetes v1.37.1) with a CNI applied: every node Ready; `prepare` runs before init. */
  const initialised = (cni = true, prepare?: (cp1: ReturnType<typeof host>) => void) => {
    const cp1 = host('cp1');
    prepare?.(cp1);
    cp1.put(
      '/c.yaml',
      'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  name: cp1\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: api:6443\n',
    );
    const r = cp1.run('kubeadm', 'init', '--config', '/c.yaml');
    expect(r.code, r.err).toBe(0);
    if (cni) {
      cp1.put('/cni.yaml', 'kind: DaemonSet\nmetadata: {name: cni}\n');
      expect(cp1.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '-f', '/cni.yaml').code).toBe(0);
    }
    return cp1;
  };
  return { host, state, patchState, initialised };
}

describe('kubeadm TEST DOUBLE: upgrade apply', () => {
  it('needs the version argument, a healthy cluster (Ready control planes) and an answer or --yes', () => {
    const c = cluster();
    const cp1 = c.initialised(false);
    expect(cp1.run('kubeadm', 'upgrade', 'apply').err).toMatch(/missing one or more required arguments\. Required arguments: \[version\]/);
    const notReady = cp1.run('kubeadm', 'upgrade', 'apply', 'v1.37.1', '--yes');
    expect(notReady.code).toBe(1);
    expect(notReady.err).toMatch(/\[ERROR ControlPlaneNodesReady\]: there are NotReady control-planes in the cluster: \[cp1\]/);
    const ignored = cp1.run('kubeadm', 'upgrade', 'apply', 'v1.37.1', '--yes', '--ignore-preflight-errors=ControlPlaneNodesReady');
    expect(ignored.code, ignored.err).toBe(0);
    expect(ignored.err).toMatch(/\[WARNING ControlPlaneNodesReady\]/);
    cp1.put('/cni.yaml', 'kind: DaemonSet\n');
    cp1.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '-f', '/cni.yaml');
    const unanswered = cp1.run('kubeadm', 'upgrade', 'apply', 'v1.37.1');
    expect(unanswered.code).toBe(1);
    expect(unanswered.out).toContain('[upgrade/confirm] Are you sure you want to proceed with the upgrade? [y/N]');
    expect(unanswered.err).toMatch(/won't proceed; the user didn't answer \(Y\|y\) in order to continue/);
  });

  it("enforces kubeadm's version skew policy: one minor at a time, never above kubeadm's minor, a newer patch only with --force", () => {
    const c = cluster();
    const cp1 = c.initialised();
    const refused = (version: string, pattern: RegExp, kind: 'mandatory' | 'skippable') => {
      const r = cp1.run('kubeadm', 'upgrade', 'apply', version, '--yes');
      expect(r.code, version).toBe(1);
      expect(r.err, version).toMatch(pattern);
      expect(r.err, version).toMatch(
        kind === 'mandatory' ? /Please fix the misalignments/ : /Can be bypassed if you pass the --force flag/,
      );
    };
    cp1.installKubeadm('v1.39.0');
    refused('v1.39.0', /"v1\.39\.0" is too high; kubeadm can upgrade only 1 minor version at a time/, 'mandatory');
    cp1.installKubeadm('v1.37.1');
    refused('v1.38.0', /at least one minor release higher than the kubeadm minor release \(38 > 37\)/, 'mandatory');
    refused('v1.37.2', /is higher than the kubeadm version "v1\.37\.1"\. Upgrade kubeadm first/, 'skippable');
    refused('v1.36.9', /Kubeadm version v1\.37\.1 can only be used to upgrade to Kubernetes version 1\.37/, 'skippable');
    cp1.installKubeadm('v1.38.0');
    refused('v1.38.0-rc.1', /is an unstable version and such upgrades weren't allowed/, 'skippable');
    // --force bypasses the skippable errors for real, but kubeseed's agent never sends it.
    expect(cp1.run('kubeadm', 'upgrade', 'apply', 'v1.37.2', '--force').code).toBe(2);
  });

  it('upgrades the static Pods, uploads the new kubernetesVersion and leaves the kubelet alone; a patch downgrade passes (kubeadm has no --allow-downgrade)', () => {
    const c = cluster();
    const cp1 = c.initialised();
    cp1.installKubeadm('v1.37.2');
    const r = cp1.run('kubeadm', 'upgrade', 'apply', 'v1.37.2', '--yes');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('[upgrade/versions] Cluster version: v1.37.1');
    expect(r.out).toContain('[upgrade/successful] SUCCESS! Your cluster was upgraded to "v1.37.2". Enjoy!');
    expect(cp1.read('etc/kubernetes/manifests/kube-apiserver.yaml')).toContain('kube-apiserver:v1.37.2');
    expect(cp1.read('etc/kubernetes/manifests/etcd.yaml')).toContain('etcd:v1.37.2');
    expect(c.state().kubernetesVersion).toBe('v1.37.2');
    expect(c.state().nodes.cp1).toMatchObject({ controlPlaneVersion: 'v1.37.2', kubeletVersion: 'v1.37.1' });
    const down = cp1.run('kubeadm', 'upgrade', 'apply', 'v1.37.1', '--yes');
    expect(down.code, down.err).toBe(0);
    expect(c.state().kubernetesVersion).toBe('v1.37.1');
  });
});

describe('kubeadm TEST DOUBLE: upgrade node and plan', () => {
  it('upgrade node takes the version apply uploaded: static Pods on a control plane, kubelet config everywhere; no version argument', () => {
    const c = cluster();
    const cp1 = c.initialised();
    cp1.installKubeadm('v1.37.2');
    expect(cp1.run('kubeadm', 'upgrade', 'apply', 'v1.37.2', '--yes').code).toBe(0);
    const cp2 = c.host('cp2');
    for (const m of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'])
      cp2.put(`/etc/kubernetes/manifests/${m}.yaml`, 'old\n');
    cp2.put('/.doubles/node-name', 'cp2\n');
    expect(cp2.run('kubeadm', 'upgrade', 'node', 'v1.37.2').err).toMatch(/accepts at most 0 arg\(s\), received 1/);
    const r = cp2.run('kubeadm', 'upgrade', 'node');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('[upgrade] The control plane instance for this node was successfully upgraded!');
    expect(cp2.read('etc/kubernetes/manifests/kube-scheduler.yaml')).toContain('kube-scheduler:v1.37.2');
    const w1 = c.host('w1');
    w1.put('/.doubles/node-name', 'w1\n');
    const w = w1.run('kubeadm', 'upgrade', 'node');
    expect(w.code, w.err).toBe(0);
    expect(w.out).toContain('Skipping phase. Not a control plane node.');
    expect(c.state().nodes.w1).toMatchObject({ kubeletConfigVersion: 'v1.37.2' });
    expect(c.state().nodes.w1.controlPlaneVersion).toBeUndefined();
  });

  it("plan: offline it falls back to kubeadm's own version; up to date says so", () => {
    const c = cluster();
    const cp1 = c.initialised();
    const same = cp1.run('kubeadm', 'upgrade', 'plan');
    expect(same.out).toContain("Couldn't fetch latest stable version from the internet");
    expect(same.out).toContain("Awesome, you're up-to-date! Enjoy!");
    cp1.installKubeadm('v1.37.3');
    const plan = cp1.run('kubeadm', 'upgrade', 'plan');
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).toContain('kubeadm upgrade apply v1.37.3');
    expect(cp1.run('kubeadm', 'upgrade', 'plan', 'v1.37.2').out).toContain('kubeadm upgrade apply v1.37.2');
  });
});

describe('kubeadm TEST DOUBLE: certs renew', () => {
  const notAfter = (file: string) =>
    Date.parse(spawnSync('openssl', ['x509', '-noout', '-enddate', '-in', file], { encoding: 'utf8' }).stdout.replace('notAfter=', ''));
  const serial = (file: string) => spawnSync('openssl', ['x509', '-noout', '-serial', '-in', file], { encoding: 'utf8' }).stdout.trim();

  it("init with real CAs (the coordinator's shared PKI) makes real apiserver, apiserver-kubelet-client and front-proxy-client leaves for 365 days; renew re-signs them", () => {
    const c = cluster();
    const work = tempDir('ks-ca-');
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const cp1 = c.initialised(true, (host) => {
      for (const [name, cn] of [
        ['ca', '/CN=kubernetes'],
        ['front-proxy-ca', '/CN=front-proxy-ca'],
      ]) {
        const made = opensslCa(work, name as string, cn as string, 3650);
        host.put(`/etc/kubernetes/pki/${name}.crt`, made.crt, 0o644);
        host.put(`/etc/kubernetes/pki/${name}.key`, made.key);
      }
    });
    const pki = (f: string) => join(cp1.root, 'etc/kubernetes/pki', f);
    const issuer = (f: string) => spawnSync('openssl', ['x509', '-noout', '-issuer', '-in', pki(f)], { encoding: 'utf8' }).stdout.trim();
    const verify = (ca: string, f: string) =>
      spawnSync('openssl', ['verify', '-CAfile', pki(ca), pki(f)], { encoding: 'utf8' }).stdout.trim();
    for (const [leaf, ca] of [
      ['apiserver.crt', 'ca.crt'],
      ['apiserver-kubelet-client.crt', 'ca.crt'],
      ['front-proxy-client.crt', 'front-proxy-ca.crt'],
    ] as const) {
      expect(verify(ca, leaf)).toBe(`${pki(leaf)}: OK`);
      expect(Math.round((notAfter(pki(leaf)) - Date.now()) / 86_400_000), leaf).toBe(365);
    }
    expect(issuer('front-proxy-client.crt')).toBe('issuer=CN = front-proxy-ca');
    const before = serial(pki('apiserver.crt'));
    const r = cp1.run('kubeadm', 'certs', 'renew', 'all');
    expect(r.out).toContain('certificate for serving the Kubernetes API renewed');
    expect(serial(pki('apiserver.crt'))).not.toBe(before);
    expect(verify('ca.crt', 'apiserver.crt')).toBe(`${pki('apiserver.crt')}: OK`);
  });

  it("init with a real cluster CA embeds real client certificates with kubeadm's identities in the kubeconfigs, and kubeadm's subjects on the leaves; renew re-signs the embedded ones", () => {
    const c = cluster();
    const work = tempDir('ks-ca-');
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const cp1 = c.initialised(true, (host) => {
      const made = opensslCa(work, 'ca', '/CN=kubernetes', 3650);
      host.put('/etc/kubernetes/pki/ca.crt', made.crt, 0o644);
      host.put('/etc/kubernetes/pki/ca.key', made.key);
    });
    const caPem = readFileSync(join(cp1.root, 'etc/kubernetes/pki/ca.crt'), 'utf8');
    const embedded = (file: string) => {
      const config = parseYaml(readFileSync(join(cp1.root, 'etc/kubernetes', file), 'utf8')) as {
        clusters: { cluster: { 'certificate-authority-data': string } }[];
        users: { name: string; user: Record<string, string> }[];
      };
      const user = config.users[0]!;
      const pem = (field: string) => Buffer.from(user.user[field]!, 'base64').toString('utf8');
      return {
        name: user.name,
        ca: Buffer.from(config.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString('utf8'),
        cert: new X509Certificate(pem('client-certificate-data')),
        key: createPrivateKey(pem('client-key-data')),
      };
    };
    // phases/kubeconfig/kubeconfig.go: one identity per file (../shared/reference/kubeadm.md 3.4).
    for (const [file, name, subject] of [
      ['admin.conf', 'kubernetes-admin', 'O=kubeadm:cluster-admins\nCN=kubernetes-admin'],
      ['super-admin.conf', 'kubernetes-super-admin', 'O=system:masters\nCN=kubernetes-super-admin'],
      ['controller-manager.conf', 'system:kube-controller-manager', 'CN=system:kube-controller-manager'],
      ['scheduler.conf', 'system:kube-scheduler', 'CN=system:kube-scheduler'],
    ] as const) {
      const e = embedded(file);
      expect(e.name, file).toBe(name);
      expect(e.cert.subject, file).toBe(subject);
      expect(e.ca).toBe(caPem);
      expect(e.cert.checkIssued(new X509Certificate(caPem)), file).toBe(true);
      expect(e.cert.verify(new X509Certificate(caPem).publicKey), file).toBe(true);
      expect(e.cert.checkPrivateKey(e.key), file).toBe(true);
      expect(Math.round((Date.parse(e.cert.validTo) - Date.now()) / 86_400_000), file).toBe(365);
    }
    // The leaves' subjects as kubeadm 1.37 makes them (certs.go; reference 3.4).
    const subject = (f: string) => new X509Certificate(readFileSync(join(cp1.root, 'etc/kubernetes/pki', f))).subject;
    expect(subject('apiserver-kubelet-client.crt')).toBe('O=system:kubelet-api-admin\nCN=kube-apiserver-kubelet-client');
    expect(subject('etcd/server.crt')).toBe('CN=cp1');
    expect(subject('etcd/peer.crt')).toBe('CN=cp1');
    expect(subject('etcd/healthcheck-client.crt')).toBe('CN=kube-etcd-healthcheck-client');
    expect(subject('apiserver-etcd-client.crt')).toBe('CN=kube-apiserver-etcd-client');
    expect(new X509Certificate(readFileSync(join(cp1.root, 'etc/kubernetes/pki/etcd/server.crt'))).subjectAltName).toContain('DNS:cp1');

    const before = embedded('admin.conf');
    const r = cp1.run('kubeadm', 'certs', 'renew', 'admin.conf');
    expect(r.code, r.err).toBe(0);
    const after = embedded('admin.conf');
    expect(after.cert.serialNumber).not.toBe(before.cert.serialNumber);
    expect(after.cert.subject).toBe(before.cert.subject);
    expect(after.cert.checkPrivateKey(before.key)).toBe(true); // kubeadm keeps the kubeconfig's key
    expect(after.cert.checkIssued(new X509Certificate(caPem))).toBe(true);
  });

  it('all renews every leaf and kubeconfig certificate from the local CAs (one more year) and says what to restart', () => {
    const c = cluster();
    const cp1 = c.initialised();
    const server = join(cp1.root, 'etc/kubernetes/pki/etcd/server.crt');
    // kubeadm makes leaves for certificateValidityPeriod, 8760h by default.
    expect(Math.round((notAfter(server) - Date.now()) / 86_400_000)).toBe(365);
    const before = { notAfter: notAfter(server), serial: serial(server) };
    const r = cp1.run('kubeadm', 'certs', 'renew', 'all');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('certificate for serving etcd renewed');
    expect(r.out).toContain('certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself renewed');
    expect(r.out).toContain('MISSING! certificate for serving the Kubernetes API'); // the double's init writes no apiserver.crt
    expect(r.out).toContain(
      'Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd',
    );
    expect(r.out).not.toContain('kubelet.conf');
    // Re-signed (a new serial) for one more year from now.
    expect(serial(server)).not.toBe(before.serial);
    expect(notAfter(server)).toBeGreaterThanOrEqual(before.notAfter);
    expect(Math.round((notAfter(server) - Date.now()) / 86_400_000)).toBe(365);
  });

  it('with external etcd the etcd certificates are not kubeadm\'s: a named one is "MISSING!" (exit 0), all skips them', () => {
    const c = cluster();
    const cp1 = c.initialised();
    c.patchState((s) => {
      s.etcd = 'external';
    });
    const one = cp1.run('kubeadm', 'certs', 'renew', 'apiserver-etcd-client');
    expect(one.code).toBe(0);
    expect(one.out).toContain('MISSING! certificate the apiserver uses to access etcd');
    const all = cp1.run('kubeadm', 'certs', 'renew', 'all');
    expect(all.out).not.toContain('certificate for serving etcd');
    expect(c.state().renewals.at(-1).names).not.toContain('etcd-server');
    expect(cp1.run('kubeadm', 'certs', 'renew', 'kubelet.conf').err).toMatch(/unknown command "kubelet.conf"/);
  });
});

describe('kubectl TEST DOUBLE: cordon, drain, uncordon', () => {
  it('drain needs --timeout, stops at DaemonSet pods unless ignored, waits on a PodDisruptionBudget until the timeout, then evicts', () => {
    const c = cluster();
    const cp1 = c.initialised();
    const k = (...a: string[]) => cp1.run('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', ...a);
    c.patchState((s) => {
      s.pods = [
        { namespace: 'kube-system', name: 'cni-x', node: 'cp1', daemonSet: true },
        { namespace: 'app', name: 'web-1', node: 'cp1', labels: { app: 'web' } },
      ];
      s.pdbs = [{ namespace: 'app', name: 'web', matchLabels: { app: 'web' }, disruptionsAllowed: 0 }];
    });
    expect(k('drain', 'cp1').code).toBe(2);
    const ds = k('drain', 'cp1', '--timeout=30s');
    expect(ds.code).toBe(1);
    expect(ds.err).toMatch(/cannot delete DaemonSet-managed Pods \(use --ignore-daemonsets to ignore\): kube-system\/cni-x/);
    const pdb = k('drain', 'cp1', '--ignore-daemonsets', '--timeout=30s');
    expect(pdb.code).toBe(1);
    expect(pdb.err).toMatch(/Cannot evict pod as it would violate the pod's disruption budget/);
    expect(pdb.err).toMatch(/global timeout reached: 30s/);
    expect(c.state().nodes.cp1.unschedulable).toBe(true);
    c.patchState((s) => {
      s.pdbs[0].disruptionsAllowed = 1;
    });
    const ok = k('drain', 'cp1', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=30s');
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('pod/web-1 evicted');
    expect(c.state().pods.map((p: { name: string }) => p.name)).toEqual(['cni-x']);
    expect(k('cordon', 'cp1').out).toContain('node/cp1 already cordoned');
    expect(k('uncordon', 'cp1').out).toContain('node/cp1 uncordoned');
    const nodes = JSON.parse(k('get', 'nodes', '-o', 'json').out);
    expect(nodes.items[0].spec.unschedulable).toBeUndefined();
    expect(nodes.items[0].status.nodeInfo.kubeletVersion).toBe('v1.37.1');
  });
});
