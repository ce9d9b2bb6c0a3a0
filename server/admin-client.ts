/**
 * Client functions for the operator commands (`kubeseed status|hosts|retry|approve|rebind|remove`):
 * HTTPS with undici, the coordinator CA pinned, the operator token as a bearer token. Errors carry
 * the coordinator's stable code and message.
 */
import { Agent, request } from 'undici';
import type { HostStatus, RolloutStatus } from './coordinator.ts';
import type { AuditEntry } from './rollout/audit.ts';

export interface AdminConnection {
  /** `https://host:port` of the coordinator. */
  url: string;
  /** PEM of the coordinator CA (state directory). */
  ca: string;
  operatorToken: string;
  timeoutMs?: number;
}

export class AdminError extends Error {
  override readonly name = 'AdminError';
  constructor(
    message: string,
    readonly statusCode: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/** A host as `kubeseed hosts` lists it (GET /v1/admin/hosts): its status without the steps. */
export type HostListing = Omit<HostStatus, 'steps'>;

const dispatchers = new Map<string, Agent>();

function dispatcherFor(ca: string): Agent {
  let agent = dispatchers.get(ca);
  if (!agent) {
    agent = new Agent({ connect: { ca }, connections: 4 });
    dispatchers.set(ca, agent);
  }
  return agent;
}

async function call<T>(connection: AdminConnection, method: 'GET' | 'POST', path: string, payload?: object): Promise<T> {
  const response = await request(new URL(path, connection.url), {
    method,
    dispatcher: dispatcherFor(connection.ca),
    headers: {
      authorization: `Bearer ${connection.operatorToken}`,
      ...(payload ? { 'content-type': 'application/json' } : {}),
    },
    ...(payload ? { body: JSON.stringify(payload) } : {}),
    headersTimeout: connection.timeoutMs ?? 15_000,
    bodyTimeout: connection.timeoutMs ?? 15_000,
  });
  const text = await response.body.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.statusCode >= 400) {
    const error = (body ?? {}) as { code?: string; message?: string };
    throw new AdminError(error.message ?? `HTTP ${response.statusCode}`, response.statusCode, error.code ?? 'UNKNOWN');
  }
  return body as T;
}

export function fetchStatus(connection: AdminConnection): Promise<RolloutStatus> {
  return call(connection, 'GET', '/v1/status');
}

export async function listHosts(connection: AdminConnection): Promise<HostListing[]> {
  return (await call<{ hosts: HostListing[] }>(connection, 'GET', '/v1/admin/hosts')).hosts;
}

/** Every secret hand-out the coordinator recorded, oldest first; `host` keeps one host's. */
export async function fetchAudit(connection: AdminConnection, host?: string): Promise<AuditEntry[]> {
  const query = host === undefined ? '' : `?host=${encodeURIComponent(host)}`;
  return (await call<{ entries: AuditEntry[] }>(connection, 'GET', `/v1/admin/audit${query}`)).entries;
}

export function retryHost(connection: AdminConnection, host: string): Promise<{ requeued: string[] }> {
  return call(connection, 'POST', `/v1/admin/hosts/${encodeURIComponent(host)}/retry`);
}

export interface ApproveResult {
  approved: boolean;
  /** The fingerprint of the key bound (fleet candidates). */
  key?: string;
  /** Other candidates rejected by this approval. */
  rejected?: number;
}

/** Approves the host's waiting machine; `key` (SHA256:… fingerprint) picks one when several claim it. */
export function approveHost(connection: AdminConnection, host: string, key?: string): Promise<ApproveResult> {
  return call(connection, 'POST', `/v1/admin/hosts/${encodeURIComponent(host)}/approve`, key === undefined ? undefined : { key });
}

/** `dryRun`: the coordinator answers what would change and changes nothing. */
export function rebindHost(
  connection: AdminConnection,
  host: string,
  options: { dryRun?: boolean } = {},
): Promise<{ rebound: boolean; dryRun?: true; restarts?: string[] }> {
  return call(connection, 'POST', `/v1/admin/hosts/${encodeURIComponent(host)}/rebind`, options.dryRun ? { dryRun: true } : undefined);
}

export function removeHost(
  connection: AdminConnection,
  host: string,
  options: { dryRun?: boolean } = {},
): Promise<{ removed: boolean; cleanup: string[]; dryRun?: true; cancels?: string[] }> {
  return call(connection, 'POST', `/v1/admin/hosts/${encodeURIComponent(host)}/remove`, options.dryRun ? { dryRun: true } : undefined);
}

/** Closes pooled connections (CLI exit). */
export async function closeAdminClients(): Promise<void> {
  await Promise.all([...dispatchers.values()].map((d) => d.close()));
  dispatchers.clear();
}
