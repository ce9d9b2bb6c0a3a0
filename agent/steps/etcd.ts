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

/** The `etcdserver` release `/version` reports (`3.6.8`), or null when the member does not answer. */
export async function etcdServerVersion(run: StepRun, clientUrl: string, tls: TlsClientFiles): Promise<string | null> {
  try {
    const res = await run.ctx.net.tlsRequest({ url: `${clientUrl.replace(/\/+$/, '')}/version`, method: 'GET', tls, timeoutMs: 3_000 });
    if (res.status !== 200) return null;
    const body = JSON.parse(res.body) as { etcdserver?: unknown };
    return typeof body.etcdserver === 'string' ? body.etcdserver : null;
  } catch {
    return null;
  }
}

/** How many of `endpoints` answer /health. */
export async function countHealthy(run: StepRun, endpoints: readonly string[], tls: TlsClientFiles): Promise<number> {
  return (await Promise.all(endpoints.map((url) => isEtcdHealthy(run, url, tls)))).filter(Boolean).length;
}

/** A majority of `members` members. */
export function quorumOf(members: number): number {
  return Math.floor(members / 2) + 1;
}

/**
 * Waits until `local` answers /health (and `ready`, when given, says yes) and a majority of
 * `endpoints` answer too; StepFailure('etcd-unhealthy') after the etcd health timeout. `what` says
 * what just happened to the member (the failure message starts with it).
 */
export async function waitMemberWithQuorum(
  run: StepRun,
  p: { endpoints: readonly string[]; local: string; tls: TlsClientFiles; what: string; ready?: () => Promise<boolean> },
): Promise<void> {
  const quorum = quorumOf(p.endpoints.length);
  const ok = await run.waitFor(`etcd ${p.local} healthy with quorum`, run.ctx.timing.etcdHealthTimeoutMs, async () => {
    if (!(await isEtcdHealthy(run, p.local, p.tls))) return null;
    if (p.ready && !(await p.ready())) return null;
    const healthy = await countHealthy(run, p.endpoints, p.tls);
    return healthy >= quorum ? healthy : null;
  });
  if (ok === null)
    throw new StepFailure('etcd-unhealthy', `${p.what} ${p.local} was not healthy with ${quorum} of ${p.endpoints.length} members in time`);
  run.note(`etcd ${p.local} healthy, ${ok} of ${p.endpoints.length} members answer`);
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
