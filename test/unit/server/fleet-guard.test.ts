/**
 * The guards around fleet claims (issue 18): the claim limiter (per address and global, with the
 * seconds to wait), candidate bookkeeping and approval by fingerprint, and the bounded security
 * event log (first and latest per kind kept, the rest counted, also across a restart).
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderFrame } from '../../../cli/status.ts';
import { ClaimLimiter, keyFingerprint, MAX_CANDIDATES, pickCandidate, withCandidate } from '../../../server/enrollment-guard.ts';
import type { EnrollmentCandidate, HostRecord } from '../../../server/model.ts';
import { LATEST_PER_KIND, SecurityEventLog } from '../../../server/rollout/security-events.ts';
import type { RolloutStatus } from '../../../server/status-page/client/view-model.ts';
import { MemoryStore } from '../../../server/store/index.ts';

const pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

function candidate(name: string, at: number): EnrollmentCandidate {
  const publicKey = pem();
  return {
    publicKey,
    machineId: name,
    smbiosUuid: '',
    macs: ['52:54:00:00:00:01'],
    hostname: name,
    arch: 'amd64',
    os: 'ubuntu',
    agentVersion: 't',
    at,
    sourceAddress: '192.0.2.1',
    keyFingerprint: keyFingerprint(publicKey),
    firstSeen: at,
    matchedBy: 'mac',
    fleetCredential: false,
  };
}

const host: HostRecord = {
  name: 'm1',
  role: 'control-plane',
  credentialSpent: false,
  rebindAllowed: false,
  removed: false,
  awaitingApproval: false,
};

describe('ClaimLimiter', () => {
  it('limits each address, then all addresses, and says how long to wait', () => {
    const limiter = new ClaimLimiter({ perSource: 2, global: 3, windowMs: 60_000 });
    expect(limiter.take('a', 0).retryAfterSeconds).toBe(0);
    expect(limiter.take('a', 1_000).retryAfterSeconds).toBe(0);
    expect(limiter.take('a', 2_000)).toEqual({ retryAfterSeconds: 58, scope: 'source', firstRefusal: true });
    expect(limiter.take('a', 3_000).firstRefusal).toBe(false);
    expect(limiter.take('b', 4_000).retryAfterSeconds).toBe(0);
    expect(limiter.take('c', 5_000)).toMatchObject({ scope: 'global', retryAfterSeconds: 55 });
    // The window slides: a minute after the first claims, both limits open again.
    expect(limiter.take('a', 61_500).retryAfterSeconds).toBe(0);
  });
});

describe('candidates', () => {
  it('keeps at most MAX_CANDIDATES, dropping the one heard from least recently', () => {
    let record = host;
    const all = Array.from({ length: MAX_CANDIDATES + 3 }, (_, i) => candidate(`c${i}`, 1_000 + i));
    for (const c of all) record = withCandidate(record, c);
    expect(record.awaitingApproval).toBe(true);
    expect(record.candidates).toHaveLength(MAX_CANDIDATES);
    expect(record.candidates!.map((c) => c.machineId)).not.toContain('c0');
    expect(record.candidates!.map((c) => c.machineId)).toContain(`c${MAX_CANDIDATES + 2}`);
  });

  it('approves the only candidate without a key, and picks by full or long-prefix fingerprint among several', () => {
    const [a, b] = [candidate('a', 1), candidate('b', 2)];
    expect(pickCandidate('m1', [a], undefined)).toEqual({ chosen: a, rejected: [] });
    const blind = pickCandidate('m1', [a, b], undefined);
    expect('error' in blind && blind.error).toMatch(/2 machines claim m1/);
    expect('error' in blind && blind.error).toContain(a.keyFingerprint);
    expect(pickCandidate('m1', [a, b], b.keyFingerprint)).toEqual({ chosen: b, rejected: [a] });
    expect(pickCandidate('m1', [a, b], a.keyFingerprint.slice(0, 20))).toEqual({ chosen: a, rejected: [b] });
    expect(pickCandidate('m1', [a, b], 'SHA256:nope')).toHaveProperty('error');
    expect(pickCandidate('m1', [], undefined)).toHaveProperty('error');
  });
});

describe('SecurityEventLog', () => {
  it('keeps the first and the latest of each kind, counts the rest, and recounts after a restart', async () => {
    const store = new MemoryStore();
    await store.open();
    const log = new SecurityEventLog(store);
    await log.record({ at: 1, kind: 'identity-mismatch', sourceAddress: '10.0.0.1', message: 'clone' });
    for (let i = 0; i < 500; i++)
      await log.record({ at: 2 + i, kind: 'unauthenticated-claim', sourceAddress: `10.1.${i >> 8}.${i & 255}`, message: `claim ${i}` });
    const events = log.list();
    expect(events).toHaveLength(1 + 1 + LATEST_PER_KIND);
    expect(events[0]).toMatchObject({ kind: 'identity-mismatch', count: 1 });
    const claims = events.filter((e) => e.kind === 'unauthenticated-claim');
    expect(claims[0]).toMatchObject({ message: 'claim 0', count: 1 });
    expect(claims.at(-1)).toMatchObject({ message: 'claim 499', count: 500 });
    // A new instance over the same store (a restart) continues the count.
    const again = new SecurityEventLog(store);
    expect((await again.record({ at: 9, kind: 'unauthenticated-claim', sourceAddress: 'x', message: 'next' })).count).toBe(501);
    expect(again.list()).toHaveLength(1 + 1 + LATEST_PER_KIND);
  });
});

describe('kubeseed status shows the candidates and counts every security event', () => {
  it('lists each waiting machine under its host with the fingerprint to approve', () => {
    const c = candidate('squatter', Date.UTC(2026, 0, 2));
    const status = {
      cluster: { name: 'c', topology: 'stacked', kubernetesVersion: 'v1.37.0', certificateDistribution: 'coordinator' },
      serverTime: 0,
      done: false,
      initLock: null,
      token: null,
      counts: { hosts: 1, enrolled: 0, done: 0, failed: 0 },
      hosts: [
        {
          name: 'm1',
          role: 'control-plane',
          enrolled: false,
          removed: false,
          awaitingApproval: true,
          done: false,
          failed: false,
          currentStep: null,
          waitingFor: 'approval',
          phase: null,
          message: null,
          lastSeen: null,
          steps: [],
          candidates: [
            {
              keyFingerprint: c.keyFingerprint,
              machineId: 'squatter',
              smbiosUuid: '',
              macs: c.macs,
              hostname: 'm1',
              sourceAddress: '192.0.2.9',
              matchedBy: 'mac' as const,
              fleetCredential: false,
              firstSeen: c.firstSeen,
              lastSeen: c.at,
            },
          ],
        },
      ],
      coordinatorSteps: [],
      securityEvents: [
        { seq: 1, at: 0, kind: 'identity-mismatch' as const, sourceAddress: 'a', message: 'x', count: 1 },
        { seq: 2, at: 0, kind: 'unauthenticated-claim' as const, sourceAddress: 'a', message: 'first', count: 1 },
        { seq: 90, at: 0, kind: 'unauthenticated-claim' as const, sourceAddress: 'a', message: 'latest', count: 340 },
      ],
    };
    const text = renderFrame(status as unknown as RolloutStatus, { tty: false, color: false, columns: 200, now: 0 }).join('\n');
    expect(text).toContain(`candidate ${c.keyFingerprint}  machine-id squatter  MACs 52:54:00:00:00:01`);
    expect(text).toContain('from 192.0.2.9');
    expect(text).toContain('first seen 2026-01-02T00:00:00.000Z');
    expect(text).toContain('security events: 341 (latest: unauthenticated-claim: latest)');
  });
});
