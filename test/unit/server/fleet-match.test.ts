/**
 * Fleet enrollment: the fleet credential plus facts pick the spec host. A host that declares a MAC
 * or UUID matches only that; a hostname matches only a worker that declares neither; control-plane
 * and etcd matches wait for `approve` as candidates; ambiguous or unmatched machines are refused,
 * and a restarted agent gets its host back.
 */
import { describe, expect, it } from 'vitest';
import type { HostSpec } from '../../../generator/spec/types.ts';
import { FLEET_KEY } from '../../../generator/state/types.ts';
import type { MachineFacts } from '../../../protocol/index.ts';
import { Coordinator } from '../../../server/coordinator.ts';
import { matchFleetHost } from '../../../server/fleet-match.ts';
import type { HostRecord } from '../../../server/model.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, enrollBody, FakeClock, makeInputs } from './support.ts';

const host = (name: string, role: HostSpec['role'], extra: Partial<HostSpec> = {}): HostSpec => ({
  name,
  role,
  nameservers: [],
  labels: {},
  interface: 'eth0',
  arch: 'amd64',
  ...extra,
});
const facts = (extra: Partial<MachineFacts>): MachineFacts => ({
  machineId: 'm',
  smbiosUuid: '',
  macs: [],
  hostname: 'localhost',
  arch: 'amd64',
  os: 'x',
  clock: 0,
  agentVersion: 't',
  ...extra,
});
const record = (name: string, role: HostSpec['role'], enrollment?: HostRecord['enrollment']): HostRecord => ({
  name,
  role,
  credentialSpent: !!enrollment,
  rebindAllowed: false,
  removed: false,
  awaitingApproval: false,
  ...(enrollment ? { enrollment } : {}),
});

describe('matchFleetHost', () => {
  const hosts = [
    host('cp1', 'control-plane', { mac: '52:54:00:00:00:01' }),
    host('w1', 'worker', { mac: '52:54:00:00:00:11' }),
    host('w2', 'worker', { uuid: 'aaaa-bbbb' }),
    host('w3', 'worker'),
    host('w4', 'worker'),
  ];
  const records = Object.fromEntries(hosts.map((h) => [h.name, record(h.name, h.role)]));

  it.each([
    ['MAC', facts({ macs: ['52:54:00:00:00:11'] }), { host: 'w1', requiresApproval: false, matchedBy: 'mac' }],
    ['SMBIOS UUID (case-insensitive)', facts({ smbiosUuid: 'AAAA-BBBB' }), { host: 'w2', requiresApproval: false, matchedBy: 'uuid' }],
    [
      'hostname, for a worker that declares neither',
      facts({ hostname: 'w3' }),
      { host: 'w3', requiresApproval: false, matchedBy: 'hostname' },
    ],
    [
      'MAC beats hostname',
      facts({ hostname: 'w3', macs: ['52:54:00:00:00:11'] }),
      { host: 'w1', requiresApproval: false, matchedBy: 'mac' },
    ],
    ['control plane needs approval', facts({ macs: ['52:54:00:00:00:01'] }), { host: 'cp1', requiresApproval: true, matchedBy: 'mac' }],
  ])('%s', (_name, f, expected) => {
    expect(matchFleetHost(hosts, records, f)).toEqual(expected);
  });

  it('a hostname never matches a host that declares a MAC or UUID (the squatting attack of issue 18)', () => {
    for (const hostname of ['cp1', 'w1', 'w2']) {
      expect(matchFleetHost(hosts, records, facts({ hostname, macs: ['52:54:00:66:66:66'] }))).toMatchObject({ error: 'no-match' });
    }
  });

  it('a control-plane or etcd host that declares neither MAC nor UUID is never matched by hostname', () => {
    const bare = [host('cp9', 'control-plane'), host('etcd9', 'etcd'), host('lb9', 'load-balancer')];
    const bareRecords = Object.fromEntries(bare.map((h) => [h.name, record(h.name, h.role)]));
    for (const h of bare) expect(matchFleetHost(bare, bareRecords, facts({ hostname: h.name }))).toMatchObject({ error: 'no-match' });
  });

  it('a host with candidates waiting is still offered (a claim does not lock the real machine out)', () => {
    const waiting = { ...records, cp1: { ...record('cp1', 'control-plane'), awaitingApproval: true, candidates: [] } };
    expect(matchFleetHost(hosts, waiting, facts({ macs: ['52:54:00:00:00:01'] }))).toMatchObject({ host: 'cp1' });
  });

  it('refuses no match and ties', () => {
    expect(matchFleetHost(hosts, records, facts({ hostname: 'other' }))).toMatchObject({ error: 'no-match' });
    const twins = [host('a', 'worker', { mac: '52:54:00:00:00:99' }), host('b', 'worker', { mac: '52:54:00:00:00:98' })];
    const both = facts({ macs: ['52:54:00:00:00:99', '52:54:00:00:00:98'] });
    expect(matchFleetHost(twins, { a: record('a', 'worker'), b: record('b', 'worker') }, both)).toMatchObject({ error: 'ambiguous' });
  });

  it('skips bound hosts, except for the machine they are bound to', () => {
    const f = facts({ macs: ['52:54:00:00:00:11'], machineId: 'w1-machine' });
    const binding = {
      publicKey: 'k',
      machineId: 'w1-machine',
      smbiosUuid: '',
      macs: ['52:54:00:00:00:11'],
      hostname: '',
      arch: '',
      os: '',
      agentVersion: '',
      at: 0,
      sourceAddress: '',
    };
    const bound = { ...records, w1: record('w1', 'worker', binding) };
    expect(matchFleetHost(hosts, bound, f)).toEqual({ host: 'w1', requiresApproval: false, matchedBy: 'binding' });
    expect(matchFleetHost(hosts, bound, { ...f, machineId: 'clone' })).toMatchObject({ error: 'no-match' });
  });
});

describe('fleet enrollment through the coordinator', () => {
  it('binds by facts; control planes wait for approve; a restarted agent is idempotent', async () => {
    const plan = makePlan({ workers: 2 });
    plan.spec.hosts = plan.spec.hosts.map((h, i) => ({ ...h, mac: `52:54:00:aa:00:${String(i).padStart(2, '0')}` }));
    const clock = new FakeClock();
    const inputs = makeInputs(plan, {
      clock,
      enrollment: { verify: (_host, credential) => (credential === 'fleet-secret' ? { host: FLEET_KEY } : null) },
    });
    const c = new Coordinator(inputs, { store: new MemoryStore() });
    await c.start();
    const macOf = (name: string) => plan.spec.hosts.find((h) => h.name === name)!.mac!;
    const machine = (name: string, i: number) => {
      const agent = createAgent(`fleet-${i}`, i);
      agent.facts = { ...agent.facts, macs: [macOf(name)] };
      return agent;
    };
    const worker = machine('w2', 7);
    const body = { ...enrollBody(worker, { credential: 'fleet-secret' }) };
    delete body.host;
    const answer = await c.enroll(body, '10.0.0.7');
    expect(answer).toMatchObject({ host: 'w2', role: 'worker', awaitingApproval: false });
    expect((await c.enroll(body, '10.0.0.7')).host).toBe('w2');
    const cp = machine('cp2', 8);
    const cpBody = { ...enrollBody(cp, { credential: 'fleet-secret' }) };
    delete cpBody.host;
    expect(await c.enroll(cpBody, '10.0.0.8')).toMatchObject({ host: 'cp2', awaitingApproval: true });
    expect(c.waitingFor('cp2')).toMatch(/kubeseed approve cp2/);
    await c.approve('cp2');
    expect(c.status().hosts.find((h) => h.name === 'cp2')!.awaitingApproval).toBe(false);
    const stranger = createAgent('stranger', 9);
    const strangerBody = { ...enrollBody(stranger, { credential: 'fleet-secret' }) };
    delete strangerBody.host;
    await expect(c.enroll(strangerBody, '10.0.0.9')).rejects.toMatchObject({ statusCode: 404, code: 'UNKNOWN_HOST' });
  });
});
