/**
 * The coordinator's parsed agent keys are bounded (issue 19, row (a)): a parsed P-256 key holds
 * ~4 KiB of OpenSSL memory outside V8's heap, and one kept for every enrolled host cost 45 MiB of
 * RSS with 5,000 agents waiting. The least recently used key is dropped past the bound; a host
 * whose key was dropped still authenticates (its stored key is parsed again), and a rebound host's
 * old key is never used.
 */
import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../../server/coordinator.ts';
import { AgentKeyCache } from '../../../server/rollout/live-state.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { type AgentIdentity, createAgent, enrollBody, FakeClock, FakeKubernetes, makeInputs, signedHeaders } from './support.ts';

function signed(agent: AgentIdentity, now: number) {
  const url = '/v1/next?wait=0';
  return { method: 'GET', url, headers: signedHeaders(agent, 'GET', url, '', now), rawBody: undefined };
}

describe('AgentKeyCache', () => {
  it('keeps at most its capacity, dropping the least recently used', async () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((h, i) => createPublicKey(createAgent(h, i).publicKeyPem));
    const cache = new AgentKeyCache(2);
    cache.set('a', a!);
    cache.set('b', b!);
    expect(cache.get('a')).toBe(a); // a is now the most recent
    cache.set('c', c!);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(a);
    cache.set('c', d!); // replacing a key keeps one entry
    expect(cache.size).toBe(2);
    expect(cache.get('c')).toBe(d);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
  });
});

describe('the coordinator with more agents than parsed keys it keeps', () => {
  it('authenticates every agent, keeps no more keys than its bound, and drops a rebound host key', async () => {
    const plan = makePlan({ workers: 9 });
    const clock = new FakeClock();
    const coordinator = new Coordinator(makeInputs(plan, { clock }), {
      store: new MemoryStore(),
      kubernetes: new FakeKubernetes(),
      agentKeyCacheSize: 3,
    });
    await coordinator.start();
    const agents = plan.hosts.map((h, i) => createAgent(h.name, i));
    for (const agent of agents) await coordinator.enroll(enrollBody(agent), '127.0.0.1');
    expect(agents.length).toBeGreaterThan(3);
    expect(coordinator.cachedAgentKeys()).toBeLessThanOrEqual(3);
    // Twice round the fleet: every key is parsed again after it was dropped.
    for (let round = 0; round < 2; round++)
      for (const agent of agents) expect(coordinator.authenticate(signed(agent, clock.now()))).toBe(agent.host);
    expect(coordinator.cachedAgentKeys()).toBe(3);

    // A host rebound to a new key: the old key, even if it was kept, no longer authenticates.
    const last = agents[agents.length - 1]!;
    expect(coordinator.authenticate(signed(last, clock.now()))).toBe(last.host); // cached now
    await coordinator.rebind(last.host);
    const fresh = createAgent(last.host, 99);
    await coordinator.enroll(enrollBody(fresh), '127.0.0.1');
    expect(() => coordinator.authenticate(signed(last, clock.now()))).toThrow(/signature/i);
    expect(coordinator.authenticate(signed(fresh, clock.now()))).toBe(last.host);
    coordinator.stop();
  });
});
