/**
 * etcd over HTTPS with a client certificate, natively (no etcdctl on the host): `GET /health` and
 * the v3 JSON gateway (`POST /v3/cluster/member/list`, `/v3/cluster/member/remove`).
 */
import type { EtcdClientFiles } from '../../protocol/steps.ts';
import type { TlsClientFiles } from '../io.ts';
import { ETCD_HEALTHCHECK_CLIENT, StepFailure, type StepRun } from './step-run.ts';

export interface EtcdMember {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** The client files the step names (kubeadm's healthcheck client when it names none), read. */
export async function loadEtcdClient(run: StepRun, files: EtcdClientFiles = ETCD_HEALTHCHECK_CLIENT): Promise<TlsClientFiles> {
  return {
    ca: await run.require(files.caFile, 'etcd-client-missing'),
    cert: await run.require(files.certFile, 'etcd-client-missing'),
    key: await run.require(files.keyFile, 'etcd-client-missing'),
  };
}

/** true when `/health` answers 200 with `"health":"true"`. */
export async function isEtcdHealthy(run: StepRun, clientUrl: string, tls: TlsClientFiles): Promise<boolean> {
  try {
    const res = await run.ctx.net.tlsRequest({ url: `${clientUrl.replace(/\/+$/, '')}/health`, method: 'GET', tls, timeoutMs: 3_000 });
    if (res.status !== 200) return false;
    const body = JSON.parse(res.body) as { health?: unknown };
    return body.health === 'true' || body.health === true;
  } catch {
    return false;
  }
}

export async function listEtcdMembers(run: StepRun, clientUrl: string, tls: TlsClientFiles): Promise<EtcdMember[]> {
  const res = await run.ctx.net.tlsRequest({
    url: `${clientUrl.replace(/\/+$/, '')}/v3/cluster/member/list`,
    method: 'POST',
    body: '{}',
    tls,
    timeoutMs: 5_000,
  });
  if (res.status !== 200) throw new StepFailure('etcd-api-error', `member list: HTTP ${res.status}`);
  const body = JSON.parse(res.body) as { members?: Array<Partial<EtcdMember>> };
  return (body.members ?? []).map((m) => ({
    ID: String(m.ID ?? ''),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    isLearner: m.isLearner === true,
  }));
}

export async function removeEtcdMember(run: StepRun, clientUrl: string, tls: TlsClientFiles, id: string): Promise<void> {
  const res = await run.ctx.net.tlsRequest({
    url: `${clientUrl.replace(/\/+$/, '')}/v3/cluster/member/remove`,
    method: 'POST',
    body: JSON.stringify({ ID: id }),
    tls,
    timeoutMs: 10_000,
  });
  if (res.status !== 200) throw new StepFailure('etcd-api-error', `member remove ${id}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
}
