/**
 * kubeadm-join-control-plane / kubeadm-join-worker: refuse a half-done join (kubelet.conf or
 * manifests left by an earlier attempt: the coordinator releases a reset first), check the
 * endpoint, write the shared PKI and the v1beta4 JoinConfiguration (0600), run `kubeadm join
 * --config F`, then confirm the Node is registered and — stacked control planes — that the local
 * etcd member is a voter and no learner is left. A control plane is ready when its own API server
 * (params.localApiEndpoint, its advertise address) answers /readyz.
 */
import type { EndpointTarget, EtcdClientFiles } from '../../protocol/steps.ts';
import type { StepResults } from '../../protocol/wire.ts';
import { buildKubeadmArgv } from '../kubeadm-argv.ts';
import { listEtcdMembers, loadEtcdClient } from './etcd.ts';
import { hostPort, waitApiServerReady } from './kubeadm-init.ts';
import {
  ADMIN_CONF,
  ETCD_MANIFEST,
  KUBELET_CONF,
  kubeadmConfigPath,
  kubectlArgv,
  LOCAL_ETCD_CLIENT_URL,
  MANIFESTS_DIR,
  StepFailure,
  type StepRun,
} from './step-run.ts';

/**
 * Leftovers of an earlier join attempt, or [] on a clean host. Hidden files are no manifests: the
 * kubelet deb ships manifests/.kubelet-keep (kubernetes/release kubelet.spec) and the kubelet reads
 * only names not starting with "." (pkg/kubelet/config/file.go).
 */
export async function findJoinLeftovers(run: StepRun): Promise<string[]> {
  const left: string[] = [];
  if (await run.fs.exists(KUBELET_CONF)) left.push(KUBELET_CONF);
  for (const name of await run.fs.list(MANIFESTS_DIR)) if (!name.startsWith('.')) left.push(`${MANIFESTS_DIR}/${name}`);
  return left;
}

async function checkEndpoint(run: StepRun, endpoint: EndpointTarget | undefined): Promise<void> {
  if (!endpoint) return;
  const target = endpoint.vip ?? endpoint.host;
  const reached = await run.waitFor(`endpoint ${target}:${endpoint.port}`, run.ctx.timing.apiReadyTimeoutMs, async () => {
    const r = await run.ctx.net.tcpProbe(target, endpoint.port, run.ctx.timing.endpointTimeoutMs);
    return r === 'accepted' || r === 'refused' ? r : null;
  });
  if (!reached) throw new StepFailure('endpoint-unreachable', `${target}:${endpoint.port} timed out: check the load balancer / VIP`);
}

async function waitNodeRegistered(run: StepRun, kubeconfig: string, nodeName: string): Promise<boolean> {
  const ok = await run.waitFor(`node ${nodeName} registered`, run.ctx.timing.nodeRegisteredTimeoutMs, async () => {
    const r = await run.command(kubectlArgv(kubeconfig, 'get', 'node', nodeName, '-o', 'name'), { quiet: true, timeoutMs: 15_000 });
    return r.code === 0 ? true : null;
  });
  return ok === true;
}

async function waitEtcdVoter(run: StepRun, nodeName: string, clientUrl: string, client: EtcdClientFiles | undefined): Promise<boolean> {
  const tls = await loadEtcdClient(run, client);
  const ok = await run.waitFor(`etcd member ${nodeName} is a voter and no learner is left`, run.ctx.timing.etcdVoterTimeoutMs, async () => {
    const members = await listEtcdMembers(run, clientUrl, tls);
    const self = members.find((m) => m.name === nodeName);
    const learners = members.filter((m) => m.isLearner);
    return self && !self.isLearner && learners.length === 0 ? true : null;
  });
  return ok === true;
}

export async function runKubeadmJoin(run: StepRun<'kubeadm-join-control-plane' | 'kubeadm-join-worker'>): Promise<StepResults> {
  const { step } = run;
  const configPath = kubeadmConfigPath(step);
  const nodeName = step.params.nodeName ?? step.host;
  const controlPlane = step.kind === 'kubeadm-join-control-plane';
  const { localApiEndpoint: local, etcdEndpoints, etcdClient } = step.kind === 'kubeadm-join-control-plane' ? step.params : {};
  if (controlPlane && !local) throw new StepFailure('bad-params', 'kubeadm-join-control-plane needs params.localApiEndpoint', true);
  const leftovers = await findJoinLeftovers(run);
  if (leftovers.length > 0) {
    throw new StepFailure('half-done-join', `an earlier join left ${leftovers.join(', ')}: a reset must run before this join is retried`);
  }
  await checkEndpoint(run, step.params.endpoint);
  await run.writeFiles();
  await run.mustRun(
    buildKubeadmArgv('join', {
      config: configPath,
      ignorePreflightErrors: step.params.ignorePreflightErrors,
      verbosity: step.params.verbosity,
    }),
  );
  const kubeconfig = controlPlane && (await run.fs.exists(ADMIN_CONF)) ? ADMIN_CONF : KUBELET_CONF;
  const nodeRegistered = await waitNodeRegistered(run, kubeconfig, nodeName);
  if (!nodeRegistered) throw new StepFailure('node-not-registered', `node ${nodeName} did not register`, false, { nodeRegistered: false });
  if (!controlPlane) return { nodeRegistered };
  // The new member's own API server, not the load balancer (which answers as soon as any member does).
  const apiServerReady = await waitApiServerReady(run, kubeconfig, local && `https://${hostPort(local.address, local.port)}`);
  // Stacked etcd: the coordinator names the local member's client URL; an etcd manifest written by
  // the join says the same when it does not. External etcd: no local member to check.
  const etcdUrl = etcdEndpoints?.[0] ?? ((await run.fs.exists(ETCD_MANIFEST)) ? LOCAL_ETCD_CLIENT_URL : undefined);
  if (!etcdUrl) {
    // External etcd: the coordinator completes this join on nodeRegistered && apiServerReady.
    if (!apiServerReady)
      throw new StepFailure('apiserver-not-ready', 'the API server did not answer /readyz after the join', false, {
        nodeRegistered,
        apiServerReady,
      });
    return { nodeRegistered, apiServerReady };
  }
  const etcdVoter = await waitEtcdVoter(run, nodeName, etcdUrl, etcdClient);
  if (!etcdVoter)
    throw new StepFailure('etcd-learner', `etcd member ${nodeName} did not become a voter`, false, {
      nodeRegistered,
      apiServerReady,
      etcdVoter: false,
    });
  return { nodeRegistered, apiServerReady, etcdVoter };
}
