/**
 * A coordinator for the reliability tier's API fuzzing and authorization tests: the real app
 * listening on 127.0.0.1 (HTTPS) with the durable JournalStore (the audit trail among its records) in a
 * temporary state directory, every log line captured, and freshly minted random secrets (real
 * PEM private keys, bootstrap tokens, certificate keys) so a leak check means something. Plus
 * `findLeaks`, the one secret scanner used on responses, logs, streams and files.
 */
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { SecretSource } from '../../generator/plan/types.ts';
import type { NextResponse, ReleasedStep } from '../../protocol/index.ts';
import { type RunningCoordinator, startCoordinator } from '../../server/serve.ts';
import { JournalStore } from '../../server/store/index.ts';
import { fakeBuildStep, makePlan } from '../unit/server/fixtures.ts';
import {
  type AgentIdentity,
  createAgent,
  createTestTls,
  enrollBody,
  FakeKubernetes,
  makeInputs,
  OPERATOR_TOKEN,
  signedHeaders,
} from '../unit/server/support.ts';
import { tempDir } from './temp-dir.ts';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomBootstrapToken(): string {
  const pick = (n: number) => Array.from(randomBytes(n), (b) => TOKEN_ALPHABET[b % TOKEN_ALPHABET.length]).join('');
  return `${pick(6)}.${pick(16)}`;
}

export function randomPrivateKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Every secret value minted in a run, by kind, for the leak scanner. */
export class SecretLedger {
  readonly values = new Map<string, string>();
  private cached: { needle: string; kind: string }[] | undefined;

  add(kind: string, value: string): void {
    this.values.set(value, kind);
    this.cached = undefined;
  }

  /**
   * PEMs are looked for line by line (tools print them wrapped; JSON escapes the newlines), minus
   * the lines that merely carry the public key (EC private keys embed it, and public keys are public).
   */
  needles(): { needle: string; kind: string }[] {
    if (this.cached) return this.cached;
    const out: { needle: string; kind: string }[] = [];
    for (const [value, kind] of this.values) {
      if (value.includes('-----BEGIN')) {
        const pub = publicBodyOf(value);
        for (const line of value.split('\n')) {
          if (line.length < 24 || line.startsWith('-----')) continue;
          if (pub && sharesWindow(line, pub, 16)) continue;
          out.push({ needle: line, kind });
        }
      } else out.push({ needle: value, kind });
    }
    this.cached = out;
    return out;
  }
}

function publicBodyOf(pem: string): string | undefined {
  try {
    return createPublicKey(pem)
      .export({ type: 'spki', format: 'pem' })
      .toString()
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
  } catch {
    return undefined;
  }
}

function sharesWindow(line: string, text: string, width: number): boolean {
  for (let i = 0; i + width <= line.length; i++) if (text.includes(line.slice(i, i + width))) return true;
  return false;
}

/** The kinds of secret (never the values) found in `text`. */
export function findLeaks(text: string, ledger: SecretLedger): string[] {
  const found = new Set<string>();
  for (const { needle, kind } of ledger.needles()) if (text.includes(needle)) found.add(kind);
  return [...found];
}

/** A SecretSource that mints real-looking random secrets and records them in the ledger. */
export function createRandomSecrets(ledger: SecretLedger): SecretSource {
  const token = randomBootstrapToken();
  const certificateKey = randomBytes(32).toString('hex');
  const adminKey = randomPrivateKeyPem();
  ledger.add('bootstrap token', token);
  ledger.add('certificate key', certificateKey);
  ledger.add('admin client key', adminKey);
  const keys = new Map<string, string>();
  return {
    bootstrapToken: () => token,
    certificateKey: () => certificateKey,
    discoveryHash: () => `sha256:${'d'.repeat(64)}`,
    pkiFile: (name, host) => {
      if (!name.endsWith('.key')) return `CERT-${name}`;
      const id = `${name}@${host ?? ''}`;
      let pem = keys.get(id);
      if (!pem) {
        pem = randomPrivateKeyPem();
        keys.set(id, pem);
        ledger.add(`private key ${name}`, pem);
      }
      return pem;
    },
    adminKubeconfig: () =>
      `apiVersion: v1\nkind: Config\nusers:\n- user:\n    client-key-data: ${Buffer.from(adminKey).toString('base64')}\n`,
  };
}

export interface FuzzCoordinator {
  running: RunningCoordinator;
  app: FastifyInstance;
  store: JournalStore;
  stateDir: string;
  ca: string;
  ledger: SecretLedger;
  logs: string[];
  plan: ReturnType<typeof makePlan>;
  agents: Map<string, AgentIdentity>;
  close(): Promise<void>;
}

/**
 * `warmAgentCache: false` keeps the agent executables (~100 MiB each, when built) from being read and
 * compressed in the background at start: a test that measures this process's memory must not count them.
 */
export async function startFuzzCoordinator(
  options: { workers?: number; enrollFailureLimit?: number; warmAgentCache?: boolean } = {},
): Promise<FuzzCoordinator> {
  const stateDir = tempDir('ks-fuzz-state-');
  const plan = makePlan({ workers: options.workers ?? 3 });
  const ledger = new SecretLedger();
  ledger.add('operator token', OPERATOR_TOKEN);
  const store = new JournalStore(join(stateDir, 'store'));
  await store.open();
  const logs: string[] = [];
  const tls = createTestTls();
  const running = await startCoordinator(makeInputs(plan, { secrets: createRandomSecrets(ledger), tls, buildStep: fakeBuildStep }), {
    store,
    kubernetes: new FakeKubernetes(),
    listen: { host: '127.0.0.1', port: 0 },
    logger: { level: 'info', stream: { write: (line: string) => logs.push(line) } },
    defaultWaitMs: 50,
    // The public agent download is fuzzed too (Range parsing) when the agent is built.
    ...(existsSync(DIST) ? { distDir: DIST } : {}),
    ...(options.enrollFailureLimit ? { enrollFailureLimit: options.enrollFailureLimit } : {}),
    ...(options.warmAgentCache === false ? { warmAgentCache: false } : {}),
  });
  const agents = new Map(plan.hosts.map((h, i) => [h.name, createAgent(h.name, i)]));
  for (const agent of agents.values()) ledger.add(`enrollment credential of ${agent.host}`, enrollBody(agent).credential!);
  return {
    running,
    app: running.app,
    store,
    stateDir,
    ca: tls.ca,
    ledger,
    logs,
    plan,
    agents,
    close: async () => {
      await running.close();
      await store.close();
    },
  };
}

export async function injectSigned(
  app: FastifyInstance,
  agent: AgentIdentity,
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
): Promise<{
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
  request: { headers: Record<string, string>; payload: string };
}> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const headers = signedHeaders(agent, method, url, payload, Date.now());
  const res = await app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
  return { statusCode: res.statusCode, body: res.body, headers: res.headers, request: { headers, payload } };
}

/** Asks for the host's next step (wait=0); the released step or null. */
export async function nextStep(app: FastifyInstance, agent: AgentIdentity): Promise<ReleasedStep | null> {
  const res = await injectSigned(app, agent, 'GET', '/v1/next?wait=0');
  if (res.statusCode === 204) return null;
  if (res.statusCode !== 200) throw new Error(`next for ${agent.host}: ${res.statusCode} ${res.body}`);
  return (JSON.parse(res.body) as NextResponse).step;
}

export async function reportSuccess(app: FastifyInstance, agent: AgentIdentity, step: ReleasedStep): Promise<void> {
  const res = await injectSigned(app, agent, 'POST', '/v1/report', {
    stepId: step.id,
    attempt: step.attempt,
    outcome: 'succeeded',
    logTail: `ran ${step.kind}`,
    startedAt: Date.now(),
    finishedAt: Date.now(),
    results: { etcdVoter: true, nodeRegistered: true, apiServerReady: true, etcdHealthy: true, vipHeld: true, portOpen: true },
  });
  if (res.statusCode !== 200) throw new Error(`report ${step.id}: ${res.statusCode} ${res.body}`);
}

/** The rollout and secret state: every store record except security events (rate-limit counters live in memory). */
export function snapshotState(store: JournalStore): string {
  return JSON.stringify(store.list('').filter((r) => !r.key.startsWith('security/')));
}

/** Adds the bootstrap tokens the coordinator minted itself (token/ records) to the ledger. */
export function recordMintedTokens(fc: FuzzCoordinator): number {
  const tokens = fc.store.list<{ token: string }>('token/');
  for (const t of tokens) fc.ledger.add('minted bootstrap token', t.value.token);
  return tokens.length;
}
