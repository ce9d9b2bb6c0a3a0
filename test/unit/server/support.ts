/**
 * Test support for the coordinator: a self-signed ECDSA P-256 TLS identity (openssl), agent key
 * pairs and request signing (protocol/wire.ts), inputs wired to the fixture plan, a fake clock and
 * a fake KubernetesApi that records what the coordinator asked of the API server.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterPlan } from '../../../generator/plan/types.ts';
import {
  canonicalRequest,
  type EnrollRequest,
  HEADER_HOST,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  type MachineFacts,
} from '../../../protocol/index.ts';
import type { CoordinatorInputs } from '../../../server/coordinator.ts';
import type { BootstrapTokenSpec, KubernetesApi } from '../../../server/kubernetes-api.ts';
import { createFakeSecrets, fakeBuildStep } from './fixtures.ts';

let tlsCache: { cert: string; key: string; ca: string } | undefined;

/** A self-signed ECDSA P-256 certificate for 127.0.0.1 / localhost (also its own CA). */
export function createTestTls(): { cert: string; key: string; ca: string } {
  if (tlsCache) return tlsCache;
  const dir = mkdtempSync(join(tmpdir(), 'ks-tls-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=kubeseed-test-coordinator',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
    ],
    { stdio: 'ignore' },
  );
  if (!existsSync(cert)) throw new Error('openssl did not produce a certificate');
  const pem = readFileSync(cert, 'utf8');
  tlsCache = { cert: pem, key: readFileSync(key, 'utf8'), ca: pem };
  rmSync(dir, { recursive: true, force: true });
  return tlsCache;
}

export class FakeClock {
  constructor(public t = Date.UTC(2026, 10, 22, 8, 0, 0)) {}
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface AgentIdentity {
  host: string;
  privateKey: KeyObject;
  publicKeyPem: string;
  facts: MachineFacts;
}

export function createAgent(host: string, index = 0): AgentIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const hex = (index + 1).toString(16).padStart(4, '0');
  return {
    host,
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    facts: {
      machineId: createHash('md5').update(host).digest('hex'),
      smbiosUuid: `00000000-0000-4000-8000-00000000${hex}`,
      macs: [`52:54:00:00:${hex.slice(0, 2)}:${hex.slice(2)}`],
      hostname: host,
      arch: 'amd64',
      os: 'ubuntu-24.04',
      clock: Date.now(),
      agentVersion: 'test',
    },
  };
}

export function credentialOf(host: string): string {
  return `cred-${host}-0123456789abcdef`;
}

export function enrollBody(agent: AgentIdentity, overrides: Partial<EnrollRequest> = {}): EnrollRequest {
  return {
    protocol: 1,
    credential: credentialOf(agent.host),
    host: agent.host,
    publicKey: agent.publicKeyPem,
    facts: agent.facts,
    ...overrides,
  };
}

/** Headers of a signed request per protocol/wire.ts. */
export function signedHeaders(
  agent: AgentIdentity,
  method: string,
  pathWithQuery: string,
  body: string,
  now: number,
): Record<string, string> {
  const timestamp = String(now);
  const nonce = randomBytes(12).toString('hex');
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const signature = sign(
    'sha256',
    Buffer.from(canonicalRequest(method, pathWithQuery, timestamp, nonce, bodyHash)),
    agent.privateKey,
  ).toString('base64');
  return {
    [HEADER_HOST]: agent.host,
    [HEADER_TIMESTAMP]: timestamp,
    [HEADER_NONCE]: nonce,
    [HEADER_SIGNATURE]: signature,
    ...(body ? { 'content-type': 'application/json' } : {}),
  };
}

export class FakeKubernetes implements KubernetesApi {
  tokens: BootstrapTokenSpec[] = [];
  deletedNodes: string[] = [];
  failTokens = false;
  failNodes = false;
  async createBootstrapToken(token: BootstrapTokenSpec): Promise<void> {
    if (this.failTokens) throw new Error('API server unavailable');
    this.tokens.push(token);
  }
  async deleteNode(name: string): Promise<void> {
    if (this.failNodes) throw new Error('API server unavailable');
    this.deletedNodes.push(name);
  }
}

export const OPERATOR_TOKEN = 'operator-token-for-tests-0123456789';

export function makeInputs(plan: ClusterPlan, overrides: Partial<CoordinatorInputs> = {}): CoordinatorInputs {
  const hosts = new Set(plan.hosts.map((h) => h.name));
  return {
    plan,
    secrets: createFakeSecrets(),
    buildStep: fakeBuildStep,
    tls: createTestTls(),
    enrollment: {
      verify: (host, credential) => (host && hosts.has(host) && credential === credentialOf(host) ? { host } : null),
    },
    operatorToken: OPERATOR_TOKEN,
    ...overrides,
  };
}
