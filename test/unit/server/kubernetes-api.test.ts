/**
 * The real API-server client against a local HTTPS stand-in that, like kube-apiserver, requires a
 * client certificate from the cluster CA: bootstrap-token Secrets have kubeadm's shape, a lost
 * answer (409 AlreadyExists) counts as created, Node deletion treats 404 as done, and errors carry
 * the API's message. The client certificate is re-requested when it nears expiry.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesApi, KubernetesApiError } from '../../../server/kubernetes-api.ts';
import { tempDir } from '../../support/temp-dir.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
  clientCn: string | undefined;
}

let dir: string;
let server: Server;
let port: number;
const seen: Seen[] = [];
let nextStatus: number | undefined;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

beforeAll(async () => {
  dir = tempDir('ks-kapi-');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=kubernetes',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
  ]);
  openssl(['req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=kube-apiserver']);
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > srv.ext'], { cwd: dir });
  openssl([
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.crt',
    '-days',
    '1',
    '-extfile',
    'srv.ext',
  ]);
  openssl(['req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/O=kubeadm:cluster-admins/CN=kubeseed-coordinator']);
  openssl([
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '1',
  ]);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  server = createServer(
    { cert: read('srv.crt'), key: read('srv.key'), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += String(c);
      });
      req.on('end', () => {
        const cert = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({ method: req.method!, url: req.url!, body, clientCn: cert?.subject?.CN as string | undefined });
        const status = nextStatus ?? (req.method === 'POST' ? 201 : 200);
        nextStatus = undefined;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(status >= 400 ? { kind: 'Status', message: `refused with ${status}` } : {}));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('createKubernetesApi', () => {
  it('creates bootstrap-token Secrets and deletes Nodes with a CA-signed client certificate', async () => {
    let credentialCalls = 0;
    let now = Date.UTC(2026, 10, 22, 8, 0, 0);
    const api = createKubernetesApi({
      endpoint: `https://127.0.0.1:${port}`,
      caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      now: () => now,
      clientCredentials: async () => {
        credentialCalls++;
        return {
          cert: readFileSync(join(dir, 'client.crt'), 'utf8'),
          key: readFileSync(join(dir, 'client.key'), 'utf8'),
          expiresAt: now + 3600_000,
        };
      },
    });
    const expiresAt = Date.UTC(2026, 10, 22, 9, 0, 0);
    await api.createBootstrapToken({ id: 'abcdef', secret: '0123456789abcdef', expiresAt, description: 'test' });
    const post = seen.at(-1)!;
    expect(post).toMatchObject({ method: 'POST', url: '/api/v1/namespaces/kube-system/secrets', clientCn: 'kubeseed-coordinator' });
    expect(JSON.parse(post.body)).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bootstrap-token-abcdef', namespace: 'kube-system' },
      type: 'bootstrap.kubernetes.io/token',
      stringData: {
        description: 'test',
        'token-id': 'abcdef',
        'token-secret': '0123456789abcdef',
        expiration: '2026-11-22T09:00:00Z',
        'usage-bootstrap-authentication': 'true',
        'usage-bootstrap-signing': 'true',
        'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
      },
    });
    nextStatus = 409;
    await api.createBootstrapToken({ id: 'abcdef', secret: '0123456789abcdef', expiresAt, description: 'retry' });
    await api.deleteNode('w1');
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', url: '/api/v1/nodes/w1' });
    nextStatus = 404;
    await api.deleteNode('gone');
    nextStatus = 403;
    const refused = api.deleteNode('w2');
    await expect(refused).rejects.toBeInstanceOf(KubernetesApiError);
    await expect(refused).rejects.toThrow(/403 refused with 403/);
    expect(credentialCalls).toBe(1);
    now += 3600_000;
    await api.deleteNode('w3');
    expect(credentialCalls).toBe(2);
    await api.close();
  });

  it('does not talk to a server whose certificate is not from the cluster CA', async () => {
    const api = createKubernetesApi({
      endpoint: `https://127.0.0.1:${port}`,
      caPem: readFileSync(join(dir, 'client.crt'), 'utf8'),
      clientCredentials: async () => ({
        cert: readFileSync(join(dir, 'client.crt'), 'utf8'),
        key: readFileSync(join(dir, 'client.key'), 'utf8'),
        expiresAt: Date.now() + 3600_000,
      }),
    });
    await expect(api.deleteNode('w1')).rejects.toThrow();
    await api.close();
  });
});
