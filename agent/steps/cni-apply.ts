/**
 * cni-apply: first every released download (a pinned release tarball, sha256-verified and unpacked
 * through `download.ts`: the cilium CLI and the Cilium chart), then `kubectl --kubeconfig
 * /etc/kubernetes/admin.conf apply --server-side -f` each released manifest (a file this step
 * wrote, or an upstream URL — server-side because operator CRDs are too large for the
 * last-applied annotation; an upstream URL is fetched with spec.proxy in kubectl's environment),
 * retried while the API settles; then `params.commands` in order (argv,
 * never a shell): only kubectl (given admin.conf), cilium and helm (given KUBECONFIG) may run —
 * by name, or by the absolute path a download of this step installed.
 */
import type { StepDownloadProxy } from '../../protocol/steps.ts';
import type { StepResults } from '../../protocol/wire.ts';
import { installDownload } from './download.ts';
import { ADMIN_CONF, kubectlArgv, StepFailure, type StepRun } from './step-run.ts';

const ALLOWED_COMMANDS = new Set(['kubectl', 'cilium', 'helm']);

/**
 * The argv actually run for a released command, or a StepFailure when it is not allowed. An
 * absolute path is accepted only when one of `installed` (executables this step installed) is
 * that path and its file name is an allowed tool.
 */
export function cniCommandArgv(command: readonly string[], installed: readonly string[] = []): string[] {
  const [tool, ...rest] = command;
  const name = tool?.startsWith('/') && installed.includes(tool) ? tool.slice(tool.lastIndexOf('/') + 1) : tool;
  if (!tool || !name || !ALLOWED_COMMANDS.has(name))
    throw new StepFailure(
      'command-not-allowed',
      `cni-apply may run ${[...ALLOWED_COMMANDS].join(', ')} (or one of them installed by this step); got ${tool ?? '(empty)'}`,
      true,
    );
  if (name === 'kubectl' && !rest.some((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig=')))
    return kubectlArgv(ADMIN_CONF, ...rest).map((a, i) => (i === 0 ? tool : a));
  return [tool, ...rest];
}

export async function runCniApply(run: StepRun<'cni-apply'>): Promise<StepResults> {
  const manifests = run.step.params.manifests ?? [];
  const commands = run.step.params.commands ?? [];
  const downloads = run.step.params.downloads ?? [];
  const executables = downloads.filter((d) => d.member !== undefined).map((d) => d.path);
  const argvs = commands.map((c) => cniCommandArgv(c, executables)); // refuse before anything runs
  await run.writeFiles();
  if (manifests.length === 0 && commands.length === 0 && downloads.length === 0)
    run.note('no CNI manifests or commands released (cni.plugin: none)');
  for (const download of downloads) await installDownload(run, download, run.step.params.proxy);
  const proxyEnv = kubectlProxyEnv(run.step.params.proxy);
  for (const manifest of manifests) {
    // kubectl fetches an upstream URL itself (Go's ProxyFromEnvironment); a local file needs no proxy.
    const env = /^https?:\/\//.test(manifest) ? proxyEnv : undefined;
    const applied = await run.waitFor(`kubectl apply ${manifest}`, run.ctx.timing.apiReadyTimeoutMs, async () => {
      const r = await run.command(kubectlArgv(ADMIN_CONF, 'apply', '--server-side', '--force-conflicts', '-f', manifest), {
        timeoutMs: 180_000,
        ...(env ? { env } : {}),
      });
      if (r.notFound) throw new StepFailure('kubectl-not-found', 'kubectl is not installed');
      return r.code === 0 ? true : null;
    });
    if (!applied) throw new StepFailure('kubectl-apply-failed', `kubectl apply -f ${manifest} failed`);
  }
  for (const argv of argvs) {
    const options = { timeoutMs: 15 * 60_000, env: { KUBECONFIG: ADMIN_CONF } };
    if (!isCiliumInstall(argv)) {
      await run.mustRun(argv, options);
      continue;
    }
    // `cilium install` is a Helm install: after an attempt that created the release but failed
    // later (say, --wait timed out), Helm refuses the name; the same flags then go to `upgrade`.
    const r = await run.command(argv, options);
    if (r.code === 0) continue;
    if (r.notFound) throw new StepFailure('cilium-not-found', 'cilium is not installed');
    if (r.timedOut) throw new StepFailure('cilium-timeout', `${argv.join(' ')} timed out`);
    if (!RELEASE_EXISTS.test(r.output)) throw new StepFailure(`cilium-exit-${r.code}`, `cilium install exited ${r.code}`);
    run.note('the cilium release exists from an earlier attempt: upgrading it with the same chart and values');
    await run.mustRun(
      argv.map((a, i) => (i === 1 ? 'upgrade' : a)),
      options,
    );
  }
  return {};
}

/**
 * spec.proxy as kubectl (Go's net/http ProxyFromEnvironment, golang.org/x/net/http/httpproxy) reads
 * it: upper- and lower-case names, NO_PROXY comma-separated with CIDRs. The API endpoint is in the
 * plan's no-proxy list, so kubectl still reaches it directly. Undefined without a proxy.
 */
function kubectlProxyEnv(proxy: StepDownloadProxy | undefined): Record<string, string> | undefined {
  if (!proxy || (!proxy.http && !proxy.https)) return undefined;
  const env: Record<string, string> = {};
  const set = (name: string, value: string) => {
    env[name.toUpperCase()] = value;
    env[name] = value;
  };
  if (proxy.https) set('https_proxy', proxy.https);
  if (proxy.http) set('http_proxy', proxy.http);
  set('no_proxy', proxy.noProxy.join(','));
  return env;
}

/** Helm's refusal to install a release name that exists (helm pkg/action/install.go). */
const RELEASE_EXISTS = /cannot re-use a name that is still in use/;

function isCiliumInstall(argv: readonly string[]): boolean {
  const tool = argv[0] ?? '';
  return tool.slice(tool.lastIndexOf('/') + 1) === 'cilium' && argv[1] === 'install';
}
