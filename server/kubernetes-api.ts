/**
 * What the coordinator asks of the cluster's API server once it serves: create bootstrap-token
 * Secrets (renewal, late-added hosts) and delete Node objects (failed-join cleanup, `remove`).
 * `createKubernetesApi` talks HTTPS with undici, pinning the cluster CA and presenting a
 * short-lived client certificate the coordinator signs from the cluster CA (obtained through
 * `clientCredentials`, refreshed before it expires). Tests use a fake behind the same interface.
 */
import { Agent, request } from 'undici';

export interface BootstrapTokenSpec {
  /** 6 chars [a-z0-9]. */
  id: string;
  /** 16 chars [a-z0-9]. */
  secret: string;
  expiresAt: number;
  description: string;
}

export interface KubernetesApi {
  createBootstrapToken(token: BootstrapTokenSpec): Promise<void>;
  /** Deletes a Node object; a Node that does not exist counts as deleted. */
  deleteNode(name: string): Promise<void>;
}

export interface ClientCredentials {
  cert: string;
  key: string;
  /** ms since the epoch; renewed a minute before. */
  expiresAt: number;
}

export interface ApiServerAccess {
  /** `https://host:port` of the control-plane endpoint. */
  endpoint: string;
  /** Cluster CA PEM. */
  caPem: string;
  clientCredentials(): Promise<ClientCredentials>;
  now?: () => number;
  timeoutMs?: number;
}

export class KubernetesApiError extends Error {
  override readonly name = 'KubernetesApiError';
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/** The Secret kubeadm itself creates for a bootstrap token (kube-system/bootstrap-token-<id>). */
export function bootstrapTokenSecret(token: BootstrapTokenSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${token.id}`, namespace: 'kube-system' },
    type: 'bootstrap.kubernetes.io/token',
    stringData: {
      description: token.description,
      'token-id': token.id,
      'token-secret': token.secret,
      expiration: new Date(token.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'usage-bootstrap-authentication': 'true',
      'usage-bootstrap-signing': 'true',
      'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
    },
  };
}

export function createKubernetesApi(access: ApiServerAccess): KubernetesApi & { close(): Promise<void> } {
  const now = access.now ?? Date.now;
  let agent: Agent | undefined;
  let credentialsExpireAt = 0;

  async function dispatcher(): Promise<Agent> {
    if (agent && credentialsExpireAt - now() > 60_000) return agent;
    const credentials = await access.clientCredentials();
    const previous = agent;
    agent = new Agent({ connect: { ca: access.caPem, cert: credentials.cert, key: credentials.key }, connections: 4 });
    credentialsExpireAt = credentials.expiresAt;
    if (previous) void previous.close();
    return agent;
  }

  async function call(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const response = await request(new URL(path, access.endpoint), {
      method,
      dispatcher: await dispatcher(),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      headersTimeout: access.timeoutMs ?? 10_000,
      bodyTimeout: access.timeoutMs ?? 10_000,
    });
    const text = await response.body.text();
    return { status: response.statusCode, text: text.slice(0, 2000) };
  }

  return {
    async createBootstrapToken(token) {
      const { status, text } = await call('POST', '/api/v1/namespaces/kube-system/secrets', bootstrapTokenSecret(token));
      // 409: a previous attempt whose answer was lost already created it.
      if (status === 201 || status === 200 || status === 409) return;
      throw new KubernetesApiError(`creating bootstrap-token-${token.id} failed: HTTP ${status} ${reason(text)}`, status);
    },
    async deleteNode(name) {
      const { status, text } = await call('DELETE', `/api/v1/nodes/${encodeURIComponent(name)}`);
      if (status === 200 || status === 202 || status === 404) return;
      throw new KubernetesApiError(`deleting Node ${name} failed: HTTP ${status} ${reason(text)}`, status);
    },
    async close() {
      await agent?.close();
    },
  };
}

function reason(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: string };
    return parsed.message ?? '';
  } catch {
    return '';
  }
}
