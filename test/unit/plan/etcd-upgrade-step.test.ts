/**
 * The etcd-member-upgrade step as the coordinator builds it (generator/plan/build-step.ts,
 * etcd-upgrade.ts) and as the agent runs it in static-pod mode against the kubeadm double:
 * binary members get the release tarball pinned by spec.mirrors.etcdSha256 (refused without a
 * digest), static-pod members the kubeadm etcd config with the new image tag. The real etcd
 * cluster run is test/validators/etcd-member-upgrade.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeExec, createRootFs, systemClock } from '../../../agent/node-io.ts';
import { DEFAULT_STEP_TIMING, executeStep, type StepContext } from '../../../agent/steps/index.ts';
import { doubleEnv, readDoubleLog } from '../../../doubles/index.ts';
import { buildStep } from '../../../generator/plan/build-step.ts';
import { placeholderSecrets } from '../../../generator/plan/document.ts';
import { etcdUpgradeIssues } from '../../../generator/plan/etcd-upgrade.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import { noProxyList } from '../../../generator/plan/proxy.ts';
import type { PlannedStep } from '../../../generator/plan/types.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import type { StepParamsOf } from '../../../protocol/steps.ts';
import type { ReleasedStep } from '../../../protocol/wire.ts';
import { makeTempRoot, scriptedNet } from '../agent/support.ts';

const EXAMPLE = readFileSync('examples/ha-external-etcd.yaml', 'utf8');
const AMD64 = 'a'.repeat(64);

function specWith(etcd: string, mirrors = ''): ClusterSpec {
  const text = EXAMPLE.replace(/ {2}etcd:\n {4}mode: static-pod\n {4}version: v3\.6\.8[^\n]*\n/, `  etcd:\n${etcd}`).replace(
    '  coordinator:\n',
    `${mirrors}  coordinator:\n`,
  );
  return parseSpec(text, 'c.yaml').spec;
}

function built(spec: ClusterSpec, host = 'k8s2etcd2') {
  const plan = planCluster(spec, { coordinatorCa: '', enrollmentCredentials: Object.fromEntries(spec.hosts.map((h) => [h.name, 'c'])) });
  const step: PlannedStep = {
    id: `${host}/upgrade-1.36.4/etcd-member-upgrade`,
    kind: 'etcd-member-upgrade',
    host,
    role: 'etcd',
    after: [],
    waitsFor: '',
    secrets: [],
  };
  return buildStep(plan, step, placeholderSecrets);
}

describe('etcd-member-upgrade: what the coordinator sends', () => {
  it('binary mode: etcd, etcdctl and etcdutl from the tarball the prepare script used, pinned by spec.mirrors.etcdSha256, through spec.proxy', () => {
    const spec = specWith(
      '    mode: binary\n    version: v3.6.9\n',
      `  mirrors:\n    etcd: https://mirror.kloud.lan/etcd\n    etcdSha256:\n      etcd-v3.6.9-linux-amd64.tar.gz: ${AMD64}\n`,
    );
    expect(etcdUpgradeIssues(spec)).toEqual([]);
    const { files, params } = built(spec);
    expect(files).toEqual([]);
    const url = 'https://mirror.kloud.lan/etcd/v3.6.9/etcd-v3.6.9-linux-amd64.tar.gz';
    expect(params).toEqual({
      nodeName: 'k8s2etcd2',
      version: '3.6.9',
      etcdMode: 'binary',
      etcdEndpoints: ['https://10.102.1.21:2379', 'https://10.102.1.22:2379', 'https://10.102.1.23:2379'],
      localEndpoint: 'https://10.102.1.22:2379',
      etcdClient: {
        caFile: '/etc/kubernetes/pki/etcd/ca.crt',
        certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
        keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
      },
      downloads: ['etcd', 'etcdctl', 'etcdutl'].map((tool) => ({
        url,
        sha256: AMD64,
        member: `etcd-v3.6.9-linux-amd64/${tool}`,
        path: `/usr/local/bin/${tool}`,
      })),
      proxy: { http: 'http://proxy.kloud.lan:3128', https: 'http://proxy.kloud.lan:3128', noProxy: noProxyList(spec) },
    });
  });

  it('binary mode without a digest for the release file is refused, naming the file and where to put its SHA-256', () => {
    const spec = specWith('    mode: binary\n    version: v3.6.9\n');
    expect(etcdUpgradeIssues(spec)).toEqual([
      expect.stringMatching(
        /^spec\.mirrors\.etcdSha256: no SHA-256 for etcd-v3\.6\.9-linux-amd64\.tar\.gz; .*add etcd-v3\.6\.9-linux-amd64\.tar\.gz: <sha256>/,
      ),
    ]);
    expect(() => built(spec)).toThrow(/k8s2etcd2: spec\.mirrors\.etcdSha256 has no SHA-256 for etcd-v3\.6\.9-linux-amd64\.tar\.gz/);
  });

  it('static-pod mode: the kubeadm etcd config etcd-start wrote, now with the new image tag; no download', () => {
    const spec = specWith('    mode: static-pod\n    version: v3.6.9\n');
    expect(etcdUpgradeIssues(spec)).toEqual([]);
    const { files, params } = built(spec);
    expect(params).toMatchObject({ version: '3.6.9', etcdMode: 'static-pod', kubeadmConfigPath: '/etc/kubeseed/kubeadm/etcd.yaml' });
    expect(params).not.toHaveProperty('downloads');
    expect(files.map((f) => [f.path, f.secret, f.removeAfter])).toEqual([['/etc/kubeseed/kubeadm/etcd.yaml', false, false]]);
    expect(files[0]?.content).toContain('imageTag: 3.6.9-0');
    expect(files[0]?.content).toContain('name: k8s2etcd2');
  });
});

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('etcd-member-upgrade: the agent, static-pod mode (kubeadm double, scripted etcd answers)', () => {
  function member() {
    const { root, cleanup } = makeTempRoot('ks-etcd-up-');
    cleanups.push(cleanup);
    const log = join(root, 'calls.log');
    const net = scriptedNet();
    const ctx: StepContext = {
      fs: createRootFs(root),
      exec: createNodeExec({ env: doubleEnv({ root, log }) }),
      net,
      clock: systemClock,
      log: () => undefined,
      stateDir: '/var/lib/kubeseed',
      timing: { ...DEFAULT_STEP_TIMING, pollMs: 10, etcdHealthTimeoutMs: 200 },
    };
    return { root, log, net, ctx };
  }
  const spec = specWith('    mode: static-pod\n    version: v3.6.9\n');
  const { files, params } = built(spec);
  const clientFiles = ['ca.crt', 'healthcheck-client.crt', 'healthcheck-client.key'].map((f) => ({
    path: `/etc/kubernetes/pki/etcd/${f}`,
    content: `${f}\n`,
    mode: 0o600,
    secret: false,
  }));
  const released = (over: Partial<StepParamsOf<'etcd-member-upgrade'>> = {}, attempt = 1): ReleasedStep =>
    ({
      id: `k8s2etcd2/op-${attempt}/etcd-member-upgrade`,
      kind: 'etcd-member-upgrade',
      host: 'k8s2etcd2',
      attempt,
      files: [...files, ...clientFiles],
      params: { ...params, ...over },
      redact: [],
    }) as ReleasedStep;
  /** Every member healthy; /version of this one reports `version`; `down` members answer nothing. */
  const answers =
    (version: string, down: string[] = []) =>
    (url: string) => {
      if (down.some((d) => url.startsWith(d))) return { status: 503, body: '' };
      if (url.endsWith('/version')) return { status: 200, body: JSON.stringify({ etcdserver: version, etcdcluster: '3.6.0' }) };
      return { status: 200, body: '{"health":"true"}' };
    };

  it('writes the config, runs kubeadm init phase etcd local, and succeeds once /version says the target with a quorum', async () => {
    const m = member();
    m.net.tlsHandler = answers('3.6.9');
    const r = await executeStep(released(), m.ctx);
    expect(r, r.logTail).toMatchObject({ outcome: 'succeeded', results: { etcdHealthy: true } });
    expect(readDoubleLog(m.log).map((c) => [c.tool, ...c.argv])).toEqual([
      ['kubeadm', 'init', 'phase', 'etcd', 'local', '--config', '/etc/kubeseed/kubeadm/etcd.yaml'],
    ]);
    // The config kubeadm read names the new image (the double writes the manifest without reading the tag).
    expect(readFileSync(join(m.root, 'etc/kubeseed/kubeadm/etcd.yaml'), 'utf8')).toContain('imageTag: 3.6.9-0');
    expect(readFileSync(join(m.root, 'etc/kubernetes/manifests/etcd.yaml'), 'utf8')).toContain('kind: Pod');
  });

  it('fails with etcd-version-mismatch while the member still reports the old release', async () => {
    const m = member();
    m.net.tlsHandler = answers('3.6.8');
    const r = await executeStep(released(), m.ctx);
    expect(r).toMatchObject({ outcome: 'failed', reason: 'etcd-version-mismatch' });
    expect(r.logTail).toContain('reports etcdserver 3.6.8 on /version, the upgrade wants 3.6.9');
  });

  it('does not touch the member when the others hold no quorum without it', async () => {
    const m = member();
    m.net.tlsHandler = answers('3.6.8', ['https://10.102.1.21:2379', 'https://10.102.1.23:2379']);
    const r = await executeStep(released(), m.ctx);
    expect(r).toMatchObject({ outcome: 'failed', reason: 'etcd-no-quorum-without-member' });
    expect(readDoubleLog(m.log)).toEqual([]);
  });

  it.each([
    [{ version: 'v3.6.9' }, /not a release like 3\.6\.8/],
    [{ localEndpoint: 'https://10.9.9.9:2379' }, /not among the members' endpoints/],
    [{ etcdMode: 'binary' as const }, /binary mode needs the etcd executable/],
  ])('%j is a permanent bad-params failure', async (over, message) => {
    const m = member();
    const r = await executeStep(released(over), m.ctx);
    expect(r).toMatchObject({ outcome: 'failed', reason: 'bad-params', permanent: true });
    expect(r.logTail).toMatch(message);
  });
});
