/**
 * Scenario 4 (issues 6, 17): the package-install path. `os.packages: install` with `mirrors`
 * pointing at a local mirror in a namespace: apt repositories signed with a test key (pkgs.k8s.io
 * layout for kubeadm/kubelet/kubectl 1.37.0 and 1.37.1 with cri-tools and kubernetes-cni, Docker's
 * layout for containerd.io 1.7 and 2.1) whose packages carry the real names, versions, Depends and
 * file lists and install shims to the TEST DOUBLES (harness/apt-repo.ts). The image is an
 * air-gapped site's: its only Debian source is the site's mirror, which serves REAL Debian .debs
 * (conntrack, iptables, ipset, ipvsadm and the libraries missing here, fetched by .ci/run with
 * `apt-get download`), so the kubelet's real `Depends: iptables` and our explicit node tools are
 * resolved by the real apt-get inside each overlay exactly as on a host. The user-data adds the
 * repositories and keys, installs the spec's versions, pins and holds them. External etcd in
 * binary mode from the same mirror (`mirrors.etcd`: Debian's etcd 3.4 repacked as an upstream
 * release tarball). 3 etcd + 3 CP + 2 LB + 1 worker.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { type AptRepo, addEtcdTarball, buildAptRepo, debianDebsDir, debianMirrorSource } from './harness/apt-repo.ts';
import { analyseRollout, type RolloutFacts } from './harness/checks.ts';
import { DOUBLES_BIN, E2eCluster } from './harness/cluster.ts';
import { createEtcdClient, etcdHealth } from './harness/etcd.ts';
import { E2E_COMMANDS } from './harness/requirements.ts';
import { itChecksTheRollout } from './harness/scenario.ts';
import { DEBIAN_ETCD, fleet } from './harness/spec.ts';
import { finishCluster, keepLogsOnFailure } from './harness/suite.ts';

const MIRROR = 'http://10.231.4.6:8080';
/** What a node ends up with from the packages (kube-proxy iptables mode: no ipset/ipvsadm). */
const NODE_PACKAGES = ['containerd.io', 'conntrack', 'cri-tools', 'iptables', 'kubeadm', 'kubectl', 'kubelet', 'kubernetes-cni'];

const E2E_DEBIAN_KEYRING = '/etc/apt/keyrings/site-debian-mirror.asc';

describe.skipIf(skipUnless('e2e', { root: true, commands: [...E2E_COMMANDS, 'gpg', 'dpkg-deb', 'apt-get', 'python3', debianDebsDir()] }))(
  'e2e scenario 4: packages from a local signed apt mirror',
  () => {
    let cluster: E2eCluster;
    let facts: RolloutFacts;
    const installed = new Map<string, { versions: string; holds: string; sources: string; kubeletKeep: boolean }>();
    let repo: AptRepo;
    const etcdFromMirror = new Map<string, string>();

    keepLogsOnFailure();

    beforeAll(async () => {
      cluster = new E2eCluster({
        prefix: `ks-${process.pid}-4-`,
        spec: {
          id: 's4',
          subnet: '10.231.4',
          topology: 'external-etcd',
          certificates: 'coordinator',
          packages: 'install',
          hosts: fleet({ lb: 2, etcd: 3, cp: 3, w: 1 }),
          extra: [
            ...DEBIAN_ETCD,
            'mirrors:',
            `  etcd: ${MIRROR}/etcd`,
            `  kubernetesApt: ${MIRROR}/k8s/`,
            `  kubernetesAptKey: ${MIRROR}/k8s/Release.key`,
            `  containerd: ${MIRROR}/docker/{distro}`,
            `  containerdKey: ${MIRROR}/docker/{distro}/gpg`,
          ],
        },
        doubleEnv: { KUBESEED_DOUBLE_SLEEP_MS: 'kubeadm init=1500,kubeadm join-control-plane=1500,kubeadm join=800' },
        mirror: { dir: '', port: 8080 },
        // An air-gapped site: the image's own apt sources are unreachable (no uplink); its only
        // Debian source is the site's mirror.
        prepareImage: async (host) => {
          await host.exec(['sh', '-c', 'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*']);
          // A node image need not carry them (this machine may): only the site's Debian mirror can provide them.
          const purge = await host.exec(['dpkg', '--purge', 'conntrack', 'iptables', 'ipset', 'ipvsadm'], { allowFail: true });
          if (purge.code !== 0) console.warn(`[e2e] dpkg --purge in the image exited ${purge.code}: ${purge.stderr}${purge.stdout}`);
          host.writeFile(E2E_DEBIAN_KEYRING, repo.key);
          host.writeFile('/etc/apt/sources.list.d/site-debian-mirror.list', debianMirrorSource(MIRROR, E2E_DEBIAN_KEYRING));
        },
      });
      repo = await buildAptRepo({
        dir: join(cluster.workDir, 'mirror'),
        doublesBin: DOUBLES_BIN,
        kubernetesVersions: ['1.37.0-1.1', '1.37.1-1.1'],
        criToolsVersions: ['1.37.0-1.1'],
        cniVersion: '1.7.1-1.1',
        containerdVersions: ['1.7.28-1', '2.1.4-1'],
      });
      await addEtcdTarball(repo.dir, 'v3.4.23', repo.arch);
      cluster.options.mirror = { dir: repo.dir, port: 8080 };
      await cluster.start();
      facts = analyseRollout(cluster, await cluster.waitForRollout(300_000));
      for (const h of cluster.hosts.values()) {
        const q = await h.host.exec(
          // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
          ['dpkg-query', '-W', '-f', '${Package}=${Version}\\n', ...NODE_PACKAGES],
          { allowFail: true },
        );
        const holds = await h.host.exec(['apt-mark', 'showhold'], { allowFail: true });
        const sources = await h.host.exec(['sh', '-c', 'cat /etc/apt/sources.list.d/*.list 2>/dev/null'], { allowFail: true });
        const kubeletKeep = h.host.readFile('/etc/kubernetes/manifests/.kubelet-keep') !== null;
        installed.set(h.spec.name, { versions: q.stdout, holds: holds.stdout, sources: sources.stdout, kubeletKeep });
        if (h.spec.role === 'etcd') etcdFromMirror.set(h.spec.name, h.host.readFile('/var/lib/kubeseed/etcd-tarball') ?? '');
      }
    });

    it('installed etcd from the mirror tarball and every member answers a TLS health check', async () => {
      for (const name of ['etcd1', 'etcd2', 'etcd3']) {
        expect(etcdFromMirror.get(name), name).toContain(`${MIRROR}/etcd/v3.4.23/etcd-v3.4.23-linux-`);
      }
      const health = await etcdHealth(cluster, await createEtcdClient(cluster));
      expect(health.ok, health.output).toBe(true);
    });

    afterAll(async () => {
      expect(await finishCluster(cluster, facts !== undefined)).toEqual([]);
    });

    itChecksTheRollout(() => facts, ['cp2', 'cp3']);

    it('installed, pinned and held the spec versions from the signed mirror on every Kubernetes node', () => {
      for (const name of ['cp1', 'cp2', 'cp3', 'w1']) {
        const got = installed.get(name)!;
        // conntrack and iptables come from the site's Debian mirror (the real .debs), cri-tools of
        // the minor and kubernetes-cni (the kubelet's Depends) from the Kubernetes repository.
        const versions = got.versions.split('\n').filter(Boolean).sort();
        expect(
          versions.map((v) => v.replace(/=.*/, '')),
          name,
        ).toEqual([...NODE_PACKAGES].sort());
        expect(versions, name).toEqual(
          expect.arrayContaining([
            'containerd.io=2.1.4-1',
            'cri-tools=1.37.0-1.1',
            'kubeadm=1.37.1-1.1',
            'kubectl=1.37.1-1.1',
            'kubelet=1.37.1-1.1',
            'kubernetes-cni=1.7.1-1.1',
          ]),
        );
        expect(
          versions.filter((v) => v.endsWith('=')),
          `${name}: known but not installed`,
        ).toEqual([]);
        expect(got.kubeletKeep, `${name}: the kubelet package's /etc/kubernetes/manifests/.kubelet-keep`).toBe(true);
        expect(got.holds.split('\n').filter(Boolean).sort(), name).toEqual(['containerd.io', 'kubeadm', 'kubectl', 'kubelet']);
        expect(got.sources, name).toContain(`${MIRROR}/k8s/`);
        expect(got.sources, name).toMatch(/signed-by=\/etc\/apt\/keyrings\//);
      }
    });
  },
);
