/**
 * kubeadm-init: write the released v1beta4 config (0600), run `kubeadm init --config F
 * [--upload-certs] --skip-token-print --skip-certificate-key-print` (`--upload-certs` only when
 * the config carries `certificateKey`), then wait until the API server is ready. The dispatcher
 * deletes the config afterwards. Result: apiServerReady.
 */
import type { StepResults } from '../../protocol/wire.ts';
import { buildKubeadmArgv } from '../kubeadm-argv.ts';
import { ADMIN_CONF, kubeadmConfigPath, kubectlArgv, MANIFESTS_DIR, StepFailure, type StepRun } from './step-run.ts';

/** Does the kubeadm config set `certificateKey` (InitConfiguration / JoinConfiguration.controlPlane)? */
export function configHasCertificateKey(config: string): boolean {
  return /^\s*certificateKey:\s*["']?[0-9a-fA-F]{64}["']?\s*$/m.test(config);
}

/** host:port, an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Polls /readyz through `kubeconfig`'s server, or through `server` (one API server's own URL; the
 * kubeconfig still supplies the CA and credentials, and the serving certificate names the advertise
 * address, so TLS verification holds).
 */
export async function waitApiServerReady(run: StepRun, kubeconfig = ADMIN_CONF, server?: string): Promise<boolean> {
  const argv = server
    ? kubectlArgv(kubeconfig, '--server', server, 'get', '--raw', '/readyz')
    : kubectlArgv(kubeconfig, 'get', '--raw', '/readyz');
  const ok = await run.waitFor(`API server ${server ? `${server} ` : ''}/readyz`, run.ctx.timing.apiReadyTimeoutMs, async () => {
    const r = await run.command(argv, { quiet: true, timeoutMs: 15_000 });
    return r.code === 0 && r.output.trim().endsWith('ok') ? true : null;
  });
  return ok === true;
}

/** What an interrupted `kubeadm init` leaves (a kube-vip manifest placed before init is not among them). */
const INIT_LEFTOVERS = [ADMIN_CONF, `${MANIFESTS_DIR}/kube-apiserver.yaml`, `${MANIFESTS_DIR}/etcd.yaml`];

export async function runKubeadmInit(run: StepRun<'kubeadm-init'>): Promise<StepResults> {
  const configPath = kubeadmConfigPath(run.step);
  // No sentinel (the dispatcher checked) but init's files exist: an earlier init was interrupted.
  // Its phases after the control plane (upload-certs, bootstrap tokens, addons) may be missing, so it
  // is not trusted: the coordinator releases a reset and the init again, with the same CA.
  const leftovers: string[] = [];
  for (const path of INIT_LEFTOVERS) if (await run.fs.exists(path)) leftovers.push(path);
  if (leftovers.length > 0)
    throw new StepFailure(
      'half-done-init',
      `an earlier kubeadm init left ${leftovers.join(', ')}: a reset must run before init is retried`,
    );
  await run.writeFiles();
  const config = await run.require(configPath, 'missing-config');
  const { ignorePreflightErrors, verbosity } = run.step.params;
  await run.mustRun(
    buildKubeadmArgv('init', {
      config: configPath,
      uploadCerts: configHasCertificateKey(config),
      skipTokenPrint: true,
      skipCertificateKeyPrint: true,
      ignorePreflightErrors,
      verbosity,
    }),
  );
  if (!(await waitApiServerReady(run)))
    throw new StepFailure('apiserver-not-ready', 'the API server did not become ready', false, { apiServerReady: false });
  return { apiServerReady: true };
}
