/**
 * Day-2 upgrade steps (ADR 0039), run by an idle agent in the order the coordinator releases them,
 * after kubeadm's "Upgrading kubeadm clusters":
 * - kubeadm-upgrade-apply: kubeadm package at the target, then `kubeadm upgrade apply v<version> --yes`
 *   (once per cluster, on one control plane);
 * - kubeadm-upgrade-node: kubeadm package at the target, then `kubeadm upgrade node`;
 * - node-drain: `kubectl drain` (cordons first; evictions respect PodDisruptionBudgets) with a timeout;
 * - kubelet-upgrade: kubelet and kubectl packages at the target, `daemon-reload`, kubelet restarted;
 * - node-uncordon: `kubectl uncordon`.
 * Package installs: apt first runs the step's script that points the Kubernetes source at the target
 * minor's repository (the prepare script's functions), then unholds, installs `<pkg>=<version>-*`
 * and holds again; `none` (image-based hosts, the TEST DOUBLES) checks the installed kubeadm
 * instead. Every command is argv, never a shell string.
 */
import { type Day2Packages, prepareHostCommand } from '../../protocol/steps.ts';
import type { StepResults } from '../../protocol/wire.ts';
import { buildKubeadmArgv } from '../kubeadm-argv.ts';
import { ADMIN_CONF, kubectlArgv, StepFailure, type StepRun } from './step-run.ts';
import { readyNodeNames } from './verify.ts';

const RELEASE = /^\d+\.\d+\.\d+$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function checkedVersion(run: StepRun, version: string): string {
  if (!RELEASE.test(version))
    throw new StepFailure('bad-params', `${run.step.kind}: version "${version}" is not a release like 1.37.2`, true);
  return version;
}

function checkedNode(run: StepRun, name: string): string {
  if (!NODE_NAME.test(name)) throw new StepFailure('bad-params', `${run.step.kind}: "${name}" is not a node name`, true);
  return name;
}

/**
 * apt: the Kubernetes source moved to the target minor's repository (the step's script: pkgs.k8s.io
 * has one repository per minor), then unhold, install `<pkg>=<version>-*`, hold again (the packages
 * stay pinned between upgrades).
 */
async function installPackages(run: StepRun, packages: Day2Packages, names: readonly string[], version: string): Promise<void> {
  const { packageManager, aptSourceScript } = packages;
  if (packageManager === 'none') return;
  if (packageManager !== 'apt')
    throw new StepFailure('unsupported-packages', `${packageManager}: day-2 package installs support apt only`, true);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  if (aptSourceScript) {
    await run.writeFiles();
    const r = await run.command(prepareHostCommand(aptSourceScript), { env });
    if (r.code !== 0)
      throw new StepFailure(
        r.notFound ? 'bash-not-found' : 'apt-source-failed',
        `${aptSourceScript} could not point the Kubernetes apt source at ${version.split('.').slice(0, 2).join('.')}: ${r.output.trim().split('\n').pop() ?? ''}`,
      );
  }
  await run.mustRun(['apt-mark', 'unhold', ...names], { env });
  await run.mustRun(['apt-get', 'update'], { env });
  await run.mustRun(['apt-get', 'install', '-y', '--allow-change-held-packages', ...names.map((n) => `${n}=${version}-*`)], { env });
  await run.mustRun(['apt-mark', 'hold', ...names], { env });
}

/** The installed kubeadm must be the target (`kubeadm version -o short`), or kubeadm refuses the upgrade anyway. */
async function requireKubeadm(run: StepRun, version: string): Promise<void> {
  const r = await run.mustRun(['kubeadm', 'version', '-o', 'short']);
  const installed = r.output.trim().split('\n').pop()?.trim() ?? '';
  if (installed !== `v${version}`)
    throw new StepFailure(
      'kubeadm-not-at-target',
      `kubeadm is ${installed || 'unknown'}, the upgrade needs v${version}; install kubeadm ${version} first`,
    );
}

async function kubeadmPackage(run: StepRun<'kubeadm-upgrade-apply' | 'kubeadm-upgrade-node'>): Promise<string> {
  const version = checkedVersion(run, run.step.params.version);
  await installPackages(run, run.step.params, ['kubeadm'], version);
  await requireKubeadm(run, version);
  return version;
}

/**
 * The upgrade does not start while a node is missing or not Ready (issue 22): one look, no wait — a
 * failed step, retried with backoff and by `kubeseed retry`, shows which. kubeadm's own preflight
 * checks only the control-plane nodes.
 */
async function checkNodesReady(run: StepRun<'kubeadm-upgrade-apply'>): Promise<void> {
  const expect = run.step.params.expectNodes;
  const r = await run.command(kubectlArgv(ADMIN_CONF, 'get', 'nodes', '-o', 'json'), { quiet: true, timeoutMs: 30_000 });
  if (r.notFound) throw new StepFailure('kubectl-not-found', 'kubectl is not installed');
  if (r.code !== 0) throw new StepFailure('api-server-unreachable', `kubectl get nodes exited ${r.code}: ${r.output.trim().slice(-300)}`);
  const ready = readyNodeNames(r.output);
  const notReady = expect.filter((n) => !ready.includes(n));
  if (notReady.length > 0)
    throw new StepFailure(
      'nodes-not-ready',
      `the upgrade does not start while nodes are not Ready: ${notReady.join(', ')}; make them Ready (kubectl get nodes), then \`kubeseed retry ${run.step.host}\``,
    );
  run.note(`all ${expect.length} nodes Ready`);
}

export async function runKubeadmUpgradeApply(run: StepRun<'kubeadm-upgrade-apply'>): Promise<StepResults> {
  await checkNodesReady(run);
  const version = await kubeadmPackage(run);
  const { ignorePreflightErrors, verbosity } = run.step.params;
  await run.mustRun(buildKubeadmArgv('upgrade-apply', { version: `v${version}`, yes: true, ignorePreflightErrors, verbosity }));
  return {};
}

export async function runKubeadmUpgradeNode(run: StepRun<'kubeadm-upgrade-node'>): Promise<StepResults> {
  await kubeadmPackage(run);
  const { ignorePreflightErrors, verbosity } = run.step.params;
  await run.mustRun(buildKubeadmArgv('upgrade-node', { ignorePreflightErrors, verbosity }));
  return {};
}

export async function runNodeDrain(run: StepRun<'node-drain'>): Promise<StepResults> {
  const { nodeName, kubeconfig, timeoutSeconds, ignoreDaemonSets, deleteEmptyDirData } = run.step.params;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1)
    throw new StepFailure('bad-params', 'node-drain needs a timeout: without one kubectl waits forever', true);
  await run.writeFiles();
  const argv = kubectlArgv(kubeconfig, 'drain', checkedNode(run, nodeName), `--timeout=${timeoutSeconds}s`);
  if (ignoreDaemonSets) argv.push('--ignore-daemonsets');
  if (deleteEmptyDirData) argv.push('--delete-emptydir-data');
  const r = await run.command(argv, { timeoutMs: (timeoutSeconds + 60) * 1000 });
  if (r.notFound) throw new StepFailure('kubectl-not-found', 'kubectl is not installed');
  if (r.code !== 0) {
    const pdb = /disruption budget/.test(r.output);
    throw new StepFailure(
      pdb ? 'drain-blocked-by-pdb' : 'drain-failed',
      pdb
        ? `a PodDisruptionBudget allowed no eviction from ${nodeName} within ${timeoutSeconds}s`
        : `kubectl drain ${nodeName} exited ${r.code}`,
    );
  }
  return {};
}

export async function runKubeletUpgrade(run: StepRun<'kubelet-upgrade'>): Promise<StepResults> {
  const version = checkedVersion(run, run.step.params.version);
  const names = run.step.params.packages.filter((p) => p === 'kubelet' || p === 'kubectl');
  await installPackages(run, run.step.params, names, version);
  await run.mustRun(['systemctl', 'daemon-reload']);
  await run.mustRun(['systemctl', 'restart', 'kubelet']);
  return {};
}

export async function runNodeUncordon(run: StepRun<'node-uncordon'>): Promise<StepResults> {
  await run.writeFiles();
  await run.mustRun(kubectlArgv(run.step.params.kubeconfig, 'uncordon', checkedNode(run, run.step.params.nodeName)));
  return {};
}
