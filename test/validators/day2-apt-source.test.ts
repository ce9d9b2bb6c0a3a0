/**
 * A minor upgrade's packages come from the TARGET minor's repository, for real: pkgs.k8s.io's
 * layout with one signed flat repository per minor (`core:/stable:/v1.36/deb/`, `…/v1.37/deb/`,
 * built by e2e/harness/apt-repo.ts: kubelet, kubeadm, kubectl and kubernetes-cni with their real
 * names, Depends and files), served on loopback inside a private network namespace; the host is an
 * overlay of this machine's root (nothing here changes) whose Kubernetes source names v1.36 as
 * the prepare script left it. The agent's kubelet-upgrade step, built by the coordinator's
 * buildStep from a v1.37.0 spec, runs the real bash, curl, gpg, apt-get and apt-mark chrooted in
 * that overlay (systemctl is the TEST DOUBLE: systemd is not PID 1 there). Without the step's
 * apt-source script (the code before it existed) apt cannot find 1.37.0 and the step fails; with it
 * the source moves to v1.37, kubelet and kubectl are installed at 1.37.0 and held. A second run at
 * the same minor leaves the source as it is.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exec } from '../../agent/io.ts';
import { createNodeExec, createNodeNet, createRootFs, systemClock } from '../../agent/node-io.ts';
import { DEFAULT_STEP_TIMING, executeStep, type StepContext } from '../../agent/steps/index.ts';
import { DOUBLES_DIR, doubleEnv, readDoubleLog } from '../../doubles/index.ts';
import { buildStep, KUBERNETES_APT_SOURCE_SCRIPT } from '../../generator/plan/build-step.ts';
import { placeholderSecrets } from '../../generator/plan/document.ts';
import { planCluster } from '../../generator/plan/plan.ts';
import { parseSpec } from '../../generator/spec/parse.ts';
import type { ClusterSpec } from '../../generator/spec/types.ts';
import type { ReleasedStep } from '../../protocol/wire.ts';
import { buildKubernetesMinorRepos } from '../e2e/harness/apt-repo.ts';
import { skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';

const PORT = 18081;
const repoUrl = (minor: string) => `http://127.0.0.1:${PORT}/core:/stable:/v${minor}/deb/`;
/** dpkg-query's field marker. */
const D = '$';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The host: an overlay of / in its own mount and network namespaces, the mirror on its loopback. */
const HOLDER = `
set -euo pipefail
T=$1; REPO=$2; PORT=$3; READY=$4; OVERLAY=$5
ip link set lo up
# shellcheck source=/dev/null
. "$OVERLAY"
overlay_root "$T"
# Only the Kubernetes repository: the machine's own sources are unreachable here.
rm -f "$R"/etc/apt/sources.list "$R"/etc/apt/sources.list.d/*
# A node image carries no kubectl of a cloud SDK (this machine may).
chroot "$R" dpkg --purge kubelet kubeadm kubectl >/dev/null 2>&1 || true
/usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$REPO" >/dev/null 2>&1 &
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.05; done
echo "$$" > "$READY"
exec sleep infinity
`;

const EXAMPLE = readFileSync('examples/ha-stacked.yaml', 'utf8');
const OVERLAY_SCRIPT = join(import.meta.dirname, '../support/overlay-root.sh');

function specAt(version: string, minor: string): ClusterSpec {
  const text = EXAMPLE.replace('kubernetesVersion: v1.37.0', `kubernetesVersion: ${version}`).replace(
    /\n {2}os:\n {4}family: ubuntu\n/,
    `\n  mirrors:\n    kubernetesApt: ${repoUrl(minor)}\n  os:\n    family: debian\n    packages: install\n`,
  );
  const spec = parseSpec(text, 'cluster.yaml').spec;
  expect(spec.mirrors.kubernetesApt).toBe(repoUrl(minor));
  return spec;
}

/** kubelet-upgrade of the first worker as the coordinator releases it. */
function kubeletUpgrade(spec: ClusterSpec, id: string): ReleasedStep {
  const plan = planCluster(spec, { coordinatorCa: '', enrollmentCredentials: Object.fromEntries(spec.hosts.map((h) => [h.name, 'c'])) });
  const host = spec.hosts.find((h) => h.role === 'worker')!;
  const planned = { id, kind: 'kubelet-upgrade' as const, host: host.name, role: host.role, after: [], waitsFor: '', secrets: [] };
  const { files, params, redact } = buildStep(plan, planned, placeholderSecrets);
  return { id, kind: 'kubelet-upgrade', host: host.name, attempt: 1, files, params, redact } as ReleasedStep;
}

describe.skipIf(
  skipUnless('validators day-2 apt source', {
    root: true,
    commands: ['unshare', 'nsenter', 'chroot', 'dpkg-deb', 'gpg', 'apt-get', 'curl', '/usr/bin/python3', 'ip'],
  }),
)('day-2 package steps move the Kubernetes apt source to the target minor (real apt)', () => {
  let dir = '';
  let holder: ChildProcess | undefined;
  let pid = 0;
  let root = '';
  let merged = '';
  const log = () => join(dir, 'calls.log');

  /** argv chrooted into the host, in its namespaces, with only PATH and `env`. */
  const inHost = (argv: readonly string[], env: Record<string, string> = {}) => [
    'nsenter',
    '-t',
    String(pid),
    '-m',
    '-n',
    '--',
    'chroot',
    merged,
    '/usr/bin/env',
    '-i',
    `PATH=${PATH}`,
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...argv,
  ];
  const sh = (...argv: string[]) => {
    const [file, ...args] = inHost(argv, { DEBIAN_FRONTEND: 'noninteractive' });
    return execFileSync(file as string, args, { encoding: 'utf8', timeout: 60_000 });
  };

  function context(): StepContext {
    const host = createNodeExec({ env: { PATH } });
    const systemctl = createNodeExec({ env: doubleEnv({ root, log: log(), host: false }) });
    const exec: Exec = {
      run: (argv, o = {}) =>
        argv[0] === 'systemctl'
          ? systemctl.run([join(DOUBLES_DIR, 'systemctl'), ...argv.slice(1)], o)
          : host.run(inHost(argv, o.env ?? {}), { ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) }),
    };
    return {
      fs: createRootFs(root),
      exec,
      net: createNodeNet(),
      clock: systemClock,
      log: () => undefined,
      stateDir: '/var/lib/kubeseed',
      timing: { ...DEFAULT_STEP_TIMING },
    };
  }

  const installed = () =>
    sh('dpkg-query', '-W', `-f=${D}{Package}=${D}{Version}\\n`, 'kubelet', 'kubeadm', 'kubectl').trim().split('\n').sort();
  const source = () => readFileSync(join(root, 'etc/apt/sources.list.d/kubernetes.list'), 'utf8');

  beforeAll(async () => {
    dir = tempDir('ks-day2-apt-');
    mkdirSync(join(dir, 'repo'));
    await buildKubernetesMinorRepos({
      dir: join(dir, 'repo'),
      doublesBin: DOUBLES_DIR,
      minors: { '1.36': ['1.36.4-1.1'], '1.37': ['1.37.0-1.1'] },
      cniVersion: '1.7.1-1.1',
    });
    const t = join(dir, 'host');
    mkdirSync(t);
    writeFileSync(join(dir, 'holder.sh'), HOLDER, { mode: 0o755 });
    holder = spawn(
      'unshare',
      [
        '--net',
        '--mount',
        '--propagation',
        'private',
        '/bin/bash',
        join(dir, 'holder.sh'),
        t,
        join(dir, 'repo'),
        String(PORT),
        join(dir, 'ready'),
        OVERLAY_SCRIPT,
      ],
      {
        stdio: 'ignore',
        detached: true,
      },
    );
    const deadline = Date.now() + 20_000;
    while (!pid) {
      try {
        pid = Number(readFileSync(join(dir, 'ready'), 'utf8').trim());
      } catch {
        if (Date.now() > deadline) throw new Error('the test host did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    merged = join(t, 'merged');
    root = `/proc/${pid}/root${merged}`;

    // What the prepare script left on a v1.36.4 node: the v1.36 source and key (the same functions
    // render it), kubelet, kubeadm and kubectl 1.36.4 installed and held.
    writeFileSync(join(root, 'root/apt-source-1.36.sh'), kubeletUpgrade(specAt('v1.36.4', '1.36'), 'x').files[0]!.content, {
      mode: 0o700,
    });
    sh('/bin/bash', '/root/apt-source-1.36.sh');
    sh('apt-get', 'update', '-q');
    sh('apt-get', 'install', '-y', '-q', '--no-install-recommends', 'kubelet=1.36.4-1.1', 'kubeadm=1.36.4-1.1', 'kubectl=1.36.4-1.1');
    sh('apt-mark', 'hold', 'kubelet', 'kubeadm', 'kubectl');
  }, 180_000);

  afterAll(() => {
    if (holder?.pid) {
      try {
        process.kill(-holder.pid, 'SIGKILL');
      } catch {}
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts from the v1.36 repository with 1.36.4 installed and held', () => {
    expect(source()).toContain(`${repoUrl('1.36')} /`);
    expect(source()).toMatch(/^deb \[signed-by=\/etc\/apt\/keyrings\/kubernetes-apt-keyring\.gpg\] /);
    expect(installed()).toEqual(['kubeadm=1.36.4-1.1', 'kubectl=1.36.4-1.1', 'kubelet=1.36.4-1.1']);
  });

  it('without the apt-source script (the code before it) apt finds no 1.37.0 and the step fails', async () => {
    const step = kubeletUpgrade(specAt('v1.37.0', '1.37'), 'w1/upgrade-old/kubelet-upgrade');
    const { aptSourceScript: _dropped, ...params } = step.params as Record<string, unknown>;
    const r = await executeStep({ ...step, files: [], params } as unknown as ReleasedStep, context());
    expect(r.outcome, r.logTail).toBe('failed');
    expect(r.reason).toBe('apt-get-exit-100');
    expect(r.logTail).toMatch(/Version '1\.37\.0-\*' for 'kubelet' was not found/);
    expect(installed()).toContain('kubelet=1.36.4-1.1');
  }, 120_000);

  it('a minor upgrade moves the source to v1.37, installs kubelet and kubectl 1.37.0, holds them, restarts the kubelet', async () => {
    const step = kubeletUpgrade(specAt('v1.37.0', '1.37'), 'w1/upgrade-1.37.0/kubelet-upgrade');
    expect(step.params).toMatchObject({ packageManager: 'apt', aptSourceScript: KUBERNETES_APT_SOURCE_SCRIPT });
    const r = await executeStep(step, context());
    expect(r.outcome, r.logTail).toBe('succeeded');
    expect(r.logTail).toContain('apt source /etc/apt/sources.list.d/kubernetes.list written');
    expect(source()).toContain(`${repoUrl('1.37')} /`);
    expect(source()).not.toContain('v1.36');
    // kubeadm moves in its own step (kubeadm-upgrade-node); this one is the kubelet's and kubectl's.
    expect(installed()).toEqual(['kubeadm=1.36.4-1.1', 'kubectl=1.37.0-1.1', 'kubelet=1.37.0-1.1']);
    expect(sh('apt-mark', 'showhold').trim().split('\n').sort()).toEqual(['kubeadm', 'kubectl', 'kubelet']);
    expect(readDoubleLog(log()).map((c) => c.argv.join(' '))).toEqual(['daemon-reload', 'restart kubelet']);
    // The script is the step's file: gone after the step.
    expect(() => readFileSync(join(root, KUBERNETES_APT_SOURCE_SCRIPT.slice(1)))).toThrow();
  }, 120_000);

  it('at the same minor the source stays as it is', async () => {
    const before = source();
    const r = await executeStep(kubeletUpgrade(specAt('v1.37.0', '1.37'), 'w1/upgrade-again/kubelet-upgrade'), context());
    expect(r.outcome, r.logTail).toBe('succeeded');
    expect(r.logTail).not.toContain('apt source /etc/apt/sources.list.d/kubernetes.list written');
    expect(source()).toBe(before);
  }, 120_000);
});
