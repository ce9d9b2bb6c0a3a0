/**
 * The plain-HTTP boot listener (coordinator.httpListen): iPXE, NoCloud and Ignition content for the
 * fleet, and proof that no route returns a credential or a key. Machines booted from it enroll
 * without a credential and wait for approval.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { loadState } from '../../../generator/state/index.ts';
import { startBootListener } from '../../../server/boot-listener.ts';
import { loadCoordinatorState } from '../../../server/load-state.ts';
import { ROOT } from '../../support/fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'ks-boot-'));
const out = join(work, 'out');
let listener: { url: string; close(): Promise<void> };
const silent = { stdout: () => {}, stderr: () => {}, env: {}, cwd: work, isTTY: false };

beforeAll(async () => {
  // The spec's addresses only appear inside the generated scripts; the listener binds loopback below.
  writeFileSync(join(work, 'fleet.yaml'), readFileSync(join(ROOT, 'examples/fleet-pxe.yaml')));
  expect(await main(['generate', join(work, 'fleet.yaml'), '--out', out], silent)).toBe(0);
  const loaded = await loadCoordinatorState(join(out, 'coordinator'), {});
  listener = await startBootListener(loaded.plan.spec, join(out, 'coordinator'), '127.0.0.1:0');
}, 60_000);
afterAll(async () => {
  await listener?.close();
  rmSync(work, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await request(`${listener.url}${path}`, { method: 'GET' });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('boot listener', () => {
  it('serves the iPXE index, per-MAC scripts, NoCloud and refuses unknown paths', async () => {
    expect((await get('/boot.ipxe')).body).toMatch(/^#!ipxe/);
    const byMac = await get('/ipxe?mac=3c-ec-ef-00-01-01');
    expect(byMac.status).toBe(200);
    expect(byMac.body).toContain('ds=nocloud');
    const userData = await get('/nocloud/fleet/user-data');
    expect(userData.status).toBe(200);
    expect(userData.body).toContain('unauthenticated');
    expect((await get('/nocloud/fleet/meta-data')).status).toBe(200);
    for (const bad of [
      '/nocloud/../coordinator/secrets.json',
      '/nocloud/%2e%2e/secrets.json',
      '//etc/passwd',
      '/nocloud/m1/user-data',
      '/ipxe?mac=zz',
    ]) {
      expect((await get(bad)).status, bad).toBeGreaterThanOrEqual(400);
    }
  });

  it('no route returns a credential, a token, a certificate key or a private key', async () => {
    const creds = JSON.parse(readFileSync(join(out, 'credentials/enrollment.json'), 'utf8')) as {
      hosts: Record<string, string>;
      fleet?: string;
    };
    const state = await loadState(join(out, 'coordinator'));
    const secrets = [...Object.values(creds.hosts), creds.fleet!, state.secrets.bootstrapToken, state.secrets.certificateKey];
    expect(creds.fleet).toBeTruthy();
    const paths = [
      '/boot.ipxe',
      '/nocloud/fleet/user-data',
      '/nocloud/fleet/meta-data',
      '/ignition/fleet.ign',
      '/',
      '/nocloud/',
      '/coordinator/http/user-data',
    ];
    for (const mac of ['3c-ec-ef-00-01-01', '3c-ec-ef-00-02-01', '52-54-00-00-00-99']) paths.push(`/ipxe?mac=${mac}`);
    for (const p of paths) {
      const { body } = await get(p);
      for (const s of secrets) expect(body.includes(s), `${p} leaks a secret`).toBe(false);
      expect(body).not.toContain('PRIVATE KEY');
    }
    // The files the listener reads, and the generated PXE tree, hold no secret either.
    for (const f of ['coordinator/http/user-data', 'pxe/nocloud/fleet/user-data']) {
      const text = readFileSync(join(out, f), 'utf8');
      for (const s of secrets) expect(text.includes(s), f).toBe(false);
    }
  });

  it('a machine booted from it is matched from facts but always waits for approval; the fleet credential itself does not', async () => {
    const loaded = await loadCoordinatorState(join(out, 'coordinator'), {});
    const creds = JSON.parse(readFileSync(join(out, 'credentials/enrollment.json'), 'utf8')) as { fleet: string };
    const facts = {
      machineId: 'x',
      smbiosUuid: '',
      macs: ['3c:ec:ef:00:02:01'],
      hostname: 'n1',
      arch: 'amd64',
      os: 'ubuntu',
      clock: 0,
      agentVersion: '0',
    };
    expect(await loaded.enrollment.verify(undefined, 'unauthenticated', facts)).toEqual({ host: '*', requiresApproval: true });
    expect(await loaded.enrollment.verify(undefined, creds.fleet, facts)).toEqual({ host: '*' });
    expect(await loaded.enrollment.verify(undefined, 'ksfleet_wrong', facts)).toBeNull();
  });
});
