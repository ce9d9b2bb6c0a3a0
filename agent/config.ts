/**
 * The agent's configuration file on the host, written by the user-data (default
 * /etc/kubeseed/agent.json). It names where the coordinator is, the CA that is pinned for it,
 * the enrollment credential file and the spec host name (absent in fleet mode). No cluster
 * secret is ever in it.
 */

import { AGENT_CONFIG_PATH, AGENT_STATE_DIR } from '../protocol/host-paths.ts';

export interface AgentConfig {
  /** https://host:port of `kubeseed serve` (HTTPS API). */
  coordinatorUrl: string;
  /** Other replicas of the coordinator on the same etcd (spec.coordinator.replicaUrls): tried when this one is unreachable or a standby. */
  replicaUrls: string[];
  /** PEM file of the coordinator CA; the only CA the agent trusts. */
  caFile: string;
  /** The per-host (or fleet) enrollment credential, mode 0600; deleted when the host is done. */
  credentialFile: string;
  /** The spec host name this user-data was made for; absent in fleet mode. */
  host?: string;
  /** Keys, session, sentinels. Default /var/lib/kubeseed. */
  stateDir: string;
  /**
   * Stay installed and idle after the host is done, for day-2 steps (spec.day2.keepAgent, ADR 0033).
   * The generator always writes it (spec default true); absent (a config written by hand or before
   * day 2) keeps the rollout-only behaviour: disable the unit at done.
   */
  keepAgent: boolean;
}

export class AgentConfigError extends Error {
  readonly code = 'AGENT_CONFIG';
}

const KNOWN_KEYS = new Set(['coordinatorUrl', 'replicaUrls', 'caFile', 'credentialFile', 'host', 'stateDir', 'keepAgent']);
const HOST_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/** Parses and checks the JSON text of the config file; every problem is named in one error. */
export function parseAgentConfig(text: string, source = AGENT_CONFIG_PATH): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AgentConfigError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AgentConfigError(`${source}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(o))
    if (!KNOWN_KEYS.has(key)) problems.push(`unknown key "${key}" (accepted: ${[...KNOWN_KEYS].join(', ')})`);
  const str = (key: string, required: boolean): string | undefined => {
    const v = o[key];
    if (v === undefined) {
      if (required) problems.push(`"${key}" is required`);
      return undefined;
    }
    if (typeof v !== 'string' || v.length === 0) {
      problems.push(`"${key}" must be a non-empty string`);
      return undefined;
    }
    return v;
  };
  const coordinatorUrl = str('coordinatorUrl', true);
  const caFile = str('caFile', true);
  const credentialFile = str('credentialFile', true);
  const host = str('host', false);
  const stateDir = str('stateDir', false) ?? AGENT_STATE_DIR;
  const checkUrl = (key: string, value: string) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      problems.push(`"${key}" is not a URL: ${value}`);
    }
    if (url && url.protocol !== 'https:') problems.push(`"${key}" must be https:// (got ${url.protocol}); the agent talks only HTTPS`);
  };
  if (coordinatorUrl) checkUrl('coordinatorUrl', coordinatorUrl);
  const replicas = o.replicaUrls ?? [];
  const replicaUrls: string[] = [];
  if (!Array.isArray(replicas) || replicas.some((u) => typeof u !== 'string' || u.length === 0))
    problems.push('"replicaUrls" must be a list of https:// URLs');
  else
    for (const u of replicas as string[]) {
      checkUrl('replicaUrls', u);
      replicaUrls.push(u.replace(/\/+$/, ''));
    }
  for (const [key, value] of [
    ['caFile', caFile],
    ['credentialFile', credentialFile],
    ['stateDir', stateDir],
  ] as const) {
    if (value && !value.startsWith('/')) problems.push(`"${key}" must be an absolute path (got ${value})`);
  }
  if (host && !HOST_NAME.test(host)) problems.push(`"host" is not a valid host name: ${host}`);
  const keepAgent = o.keepAgent ?? false;
  if (typeof keepAgent !== 'boolean') problems.push(`"keepAgent" must be true or false (got ${JSON.stringify(o.keepAgent)})`);
  if (problems.length > 0 || !coordinatorUrl || !caFile || !credentialFile) {
    throw new AgentConfigError(`${source}: ${problems.join('; ')}`);
  }
  return {
    coordinatorUrl: coordinatorUrl.replace(/\/+$/, ''),
    replicaUrls,
    caFile,
    credentialFile,
    stateDir,
    keepAgent: keepAgent === true,
    ...(host ? { host } : {}),
  };
}
