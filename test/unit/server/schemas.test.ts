/**
 * The protocol's JSON Schemas and the types they describe cannot drift apart (checked at compile
 * time through protocol/schema-types.ts), and the status response schema is strict: real status
 * responses pass it, an unknown field or a wrong type fails it.
 */
import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { FromSchema, SameType } from '../../../protocol/schema-types.ts';
import type * as S from '../../../protocol/schemas.ts';
import { STATUS_RESPONSE_SCHEMA } from '../../../protocol/status-schema.ts';
import type * as W from '../../../protocol/wire.ts';
import { buildApp } from '../../../server/app.ts';
import type { RolloutStatus } from '../../../server/coordinator.ts';
import { MemoryStore } from '../../../server/store/index.ts';
import { makePlan } from './fixtures.ts';
import { createAgent, credentialOf, enrollBody, FakeClock, FakeKubernetes, makeInputs, OPERATOR_TOKEN } from './support.ts';

/** Compiles only when T is true: each line below fails `tsc` when a schema and its type differ. */
type Holds<T extends true> = T;
type SchemaTypes = [
  Holds<SameType<FromSchema<typeof S.MACHINE_FACTS_SCHEMA>, W.MachineFacts>>,
  Holds<SameType<FromSchema<typeof S.CLOUD_INIT_REPORT_SCHEMA>, W.CloudInitReport>>,
  Holds<SameType<FromSchema<typeof S.ENROLL_REQUEST_SCHEMA>, W.EnrollRequest>>,
  Holds<SameType<FromSchema<typeof S.ENROLL_RESPONSE_SCHEMA>, W.EnrollResponse>>,
  Holds<SameType<FromSchema<typeof S.INSTALL_FAILED_REQUEST_SCHEMA>, W.InstallFailedRequest>>,
  Holds<SameType<FromSchema<typeof S.INSTALL_FAILED_RESPONSE_SCHEMA>, W.InstallFailedResponse>>,
  Holds<SameType<FromSchema<typeof S.STEP_RESULTS_SCHEMA>, W.StepResults>>,
  Holds<SameType<FromSchema<typeof S.REPORT_REQUEST_SCHEMA>, W.ReportRequest>>,
  Holds<SameType<FromSchema<typeof S.REPORT_RESPONSE_SCHEMA>, W.ReportResponse>>,
  Holds<SameType<FromSchema<typeof S.HEARTBEAT_REQUEST_SCHEMA>, W.HeartbeatRequest>>,
  Holds<SameType<FromSchema<typeof S.ERROR_BODY_SCHEMA>, W.ErrorBody>>,
  Holds<SameType<FromSchema<typeof STATUS_RESPONSE_SCHEMA>, RolloutStatus>>,
];

describe('every schema describes exactly its wire type', () => {
  it('holds for each pair (a compile-time check: tsc fails otherwise)', () => {
    const holds: SchemaTypes[number] = true;
    // @ts-expect-error a schema that differs from its type fails the check: the check itself can fail
    const differs: Holds<SameType<FromSchema<typeof S.REPORT_RESPONSE_SCHEMA>, W.ErrorBody>> = true;
    expect([holds, differs]).toEqual([true, true]);
  });
});

const validate = new Ajv({ allErrors: true, strict: false }).compile(STATUS_RESPONSE_SCHEMA);

const apps: FastifyInstance[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

/** A coordinator with an enrolled control plane (cloud-init report), an install-failed worker and security events. */
async function busyCoordinator(): Promise<{ app: FastifyInstance; served: unknown }> {
  const clock = new FakeClock(Date.now());
  const app = buildApp(makeInputs(makePlan({ workers: 2 }), { clock }), {
    store: new MemoryStore(),
    kubernetes: new FakeKubernetes(),
    defaultWaitMs: 50,
  });
  apps.push(app);
  const cp1 = createAgent('cp1');
  const cloudInit = { status: 'done', extendedStatus: 'degraded done', exitCode: 2, errors: [], recoverableErrors: ['WARNING: x'] };
  expect((await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(cp1, { cloudInit }) })).statusCode).toBe(200);
  // Spent credential, other key: a security event.
  await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody({ ...createAgent('cp1', 1), facts: cp1.facts }) });
  const beacon = {
    protocol: 1,
    credential: credentialOf('w1'),
    host: 'w1',
    reason: 'disk-full',
    logTail: 'no space left on device\n',
    hostname: 'w1-vm',
    machineId: '0123456789abcdef0123456789abcdef',
    arch: 'x86_64',
  };
  expect((await app.inject({ method: 'POST', url: '/v1/install-failed', payload: beacon })).statusCode).toBe(200);
  const served = (await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json();
  return { app, served };
}

describe('the status response schema is strict', () => {
  it('a real status response passes, and the serializer drops nothing the coordinator said', async () => {
    const { app, served } = await busyCoordinator();
    expect(validate(served), JSON.stringify(validate.errors)).toBe(true);
    const status = JSON.parse(JSON.stringify(app.coordinator.status()));
    // The app adds which replica answered (server/replica.ts): the sole coordinator of a memory store.
    expect(served).toEqual({
      ...status,
      serverTime: expect.any(Number),
      coordinator: { id: expect.any(String), role: 'leader', store: 'memory' },
    });
    const hosts = (served as RolloutStatus).hosts;
    expect(hosts.find((h) => h.name === 'cp1')?.cloudInit?.extendedStatus).toBe('degraded done');
    expect(hosts.find((h) => h.name === 'w1')?.installFailed?.reason).toBe('disk-full');
    expect((served as RolloutStatus).securityEvents.length).toBeGreaterThan(0);
  });

  it('an unknown field fails it, at any depth', async () => {
    const { served } = await busyCoordinator();
    const status = served as RolloutStatus & Record<string, unknown>;
    expect(validate({ ...status, extra: 1 })).toBe(false);
    expect(validate({ ...status, hosts: [{ ...status.hosts[0], extra: true }] })).toBe(false);
    expect(validate({ ...status, counts: { ...status.counts, pending: 1 } })).toBe(false);
    expect(validate({ ...status, coordinator: { ...status.coordinator, role: 'boss' } })).toBe(false);
  });

  it('a wrong type or an unknown enum value fails it', async () => {
    const { served } = await busyCoordinator();
    const status = served as RolloutStatus;
    expect(validate({ ...status, done: 'yes' })).toBe(false);
    expect(validate({ ...status, hosts: [{ ...status.hosts[0], lastSeen: '12:00' }] })).toBe(false);
    const step = status.hosts[0]!.steps[0]!;
    expect(validate({ ...status, hosts: [{ ...status.hosts[0], steps: [{ ...step, state: 'exploded' }] }] })).toBe(false);
    const { securityEvents: _dropped, ...missing } = status;
    expect(validate(missing)).toBe(false);
  });
});
