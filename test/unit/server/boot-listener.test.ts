/**
 * The plain-HTTP boot listener (coordinator.httpListen): iPXE, NoCloud and Ignition content for the
 * fleet, and proof that no route returns a credential or a key. Machines booted from it enroll
 * without a credential and wait for approval.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { main } from '../../../cli/main.ts';
import { loadState } from '../../../generator/state/index.ts';
import { startBootListener } from '../../../server/boot-listener.ts';
import { loadCoordinatorState } from '../../../server/load-state.ts';
import type { EnrollmentCandidate, HostRecord } from '../../../server/model.ts';
import { isPxeInstalled } from '../../../server/pxe-state.ts';
import { ROOT } from '../../support/fixtures.ts';
import { tempDir } from '../../support/temp-dir.ts';

const work = tempDir('ks-boot-');
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
      '/nocloud/3c-ec-ef-00-01-01/user-data',
      '/nocloud/3c-ec-ef-00-01-01/meta-data',
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
    expect(await loaded.enrollment.verify(undefined, 'unauthenticated')).toEqual({ host: '*', requiresApproval: true });
    expect(await loaded.enrollment.verify(undefined, creds.fleet)).toEqual({ host: '*' });
    expect(await loaded.enrollment.verify(undefined, 'ksfleet_wrong')).toBeNull();
  });
});

describe('boot listener: the iPXE script follows the host state in the coordinator store (ADR 0022)', () => {
  const hosts: Record<string, HostRecord> = {};
  let byState: { url: string; close(): Promise<void> };
  const record = (name: string, extra: Partial<HostRecord> = {}): HostRecord => ({
    name,
    role: 'control-plane',
    credentialSpent: false,
    rebindAllowed: false,
    removed: false,
    awaitingApproval: false,
    ...extra,
  });
  const facts = (macs: string[]) => ({
    publicKey: 'k',
    machineId: 'm',
    smbiosUuid: '',
    macs,
    hostname: '',
    arch: 'amd64',
    os: 'ubuntu',
    agentVersion: '0',
    at: 0,
    sourceAddress: '10.106.1.50',
  });
  beforeAll(async () => {
    const loaded = await loadCoordinatorState(join(out, 'coordinator'), {});
    byState = await startBootListener(loaded.plan.spec, join(out, 'coordinator'), '127.0.0.1:0', {
      installed: (mac, host) => isPxeInstalled(hosts, mac, host),
    });
  });
  afterAll(async () => {
    await byState?.close();
  });
  const script = async (mac: string) => {
    const res = await request(`${byState.url}/ipxe?mac=${mac}`, { method: 'GET' });
    expect(res.statusCode).toBe(200);
    return res.body.text();
  };

  it('unknown MAC: nothing installed; known, not installed: its installer with its network; installed: its disk; rebind: the installer again', async () => {
    // A MAC the spec does not name gets no installer, whatever the store says (docs/pxe.md).
    hosts.m9 = record('m9', { enrollment: facts(['52:54:00:00:00:99']) });
    const unknown = await script('52-54-00-00-00-99');
    expect(unknown).not.toMatch(/^kernel /m);
    expect(unknown.trimEnd().split('\n').at(-1)).toBe('exit 1');

    // m1 is known and not installed: the Ubuntu installer, with its own seed (its static address).
    const fresh = await script('3c-ec-ef-00-01-01');
    expect(fresh).toMatch(/^kernel .*ds=nocloud;s=http:\/\/10\.106\.1\.5:8080\/nocloud\/3c-ec-ef-00-01-01\/ /m);
    const seed = await request(`${byState.url}/nocloud/3c-ec-ef-00-01-01/user-data`, { method: 'GET' });
    const autoinstall = YAML.parse(await seed.body.text()).autoinstall;
    expect(autoinstall.network.ethernets.eno1.addresses).toEqual(['10.106.1.101/24']);

    // Its installed system's agent claimed m1 (a candidate awaiting approval): boot the disk.
    const claim = { ...facts(['3c:ec:ef:00:01:01']), keyFingerprint: 'SHA256:x', firstSeen: 0, matchedBy: 'mac', fleetCredential: false };
    hosts.m1 = record('m1', { awaitingApproval: true, candidates: [claim as EnrollmentCandidate] });
    const installed = await script('3c-ec-ef-00-01-01');
    expect(installed).not.toMatch(/^(kernel|initrd|boot|sanboot)\b/m);
    expect(installed.trimEnd().split('\n').at(-1)).toBe('exit 0');
    // Bound after approval: still the disk, never a reinstall.
    hosts.m1 = record('m1', { enrollment: facts(['3c:ec:ef:00:01:01']), credentialSpent: true });
    expect((await script('3c-ec-ef-00-01-01')).trimEnd().split('\n').at(-1)).toBe('exit 0');
    // Another known host is unaffected.
    expect(await script('3c-ec-ef-00-01-02')).toMatch(/^kernel /m);

    // `kubeseed rebind m1` (the operator rebuilds it): the binding goes, the installer comes back.
    hosts.m1 = record('m1', { rebindAllowed: true, candidates: [claim as EnrollmentCandidate] });
    expect(await script('3c-ec-ef-00-01-01')).toMatch(/^kernel /m);
  });
});

describe('boot listener --assets DIR: boot files, read-only, with byte ranges', () => {
  const assets = tempDir('ks-assets-');
  const kernel = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  let withAssets: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    mkdirSync(join(assets, 'ubuntu'));
    writeFileSync(join(assets, 'ubuntu/vmlinuz'), kernel);
    writeFileSync(join(work, 'outside'), 'not an asset');
    const loaded = await loadCoordinatorState(join(out, 'coordinator'), {});
    withAssets = await startBootListener(loaded.plan.spec, join(out, 'coordinator'), '127.0.0.1:0', { assetsDir: assets });
  });
  afterAll(async () => {
    await withAssets?.close();
    rmSync(assets, { recursive: true, force: true });
  });
  const fetchAsset = async (path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'POST' = 'GET') => {
    const res = await request(`${withAssets.url}${path}`, { method, headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  it('serves a file whole or by one byte range, and HEAD without a body', async () => {
    const whole = await fetchAsset('/assets/ubuntu/vmlinuz');
    expect(whole.status).toBe(200);
    expect(whole.body.equals(kernel)).toBe(true);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    const part = await fetchAsset('/assets/ubuntu/vmlinuz', { range: 'bytes=10-19' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 10-19/1000');
    expect(part.body.equals(kernel.subarray(10, 20))).toBe(true);
    const tail = await fetchAsset('/assets/ubuntu/vmlinuz', { range: 'bytes=-5' });
    expect(tail.body.equals(kernel.subarray(995))).toBe(true);
    const open = await fetchAsset('/assets/ubuntu/vmlinuz', { range: 'bytes=990-' });
    expect(open.headers['content-range']).toBe('bytes 990-999/1000');
    const beyond = await fetchAsset('/assets/ubuntu/vmlinuz', { range: 'bytes=1000-' });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe('bytes */1000');
    const head = await fetchAsset('/assets/ubuntu/vmlinuz', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('1000');
    expect(head.body.length).toBe(0);
    expect((await fetchAsset('/assets/ubuntu/vmlinuz', {}, 'POST')).status).toBe(405);
  });

  it('never leaves DIR and answers 404 for what is not there; the other routes still answer', async () => {
    for (const bad of [
      '/assets/../outside',
      '/assets/ubuntu/../../outside',
      '/assets/%2e%2e/outside',
      '/assets/ubuntu/',
      '/assets/ubuntu//vmlinuz',
      '/assets/ubuntu/initrd',
      '/assets/ubuntu',
    ]) {
      const r = await fetchAsset(bad);
      expect(r.status, bad).toBe(404);
      expect(r.body.toString()).not.toContain('not an asset');
    }
    expect((await fetchAsset('/boot.ipxe')).body.toString()).toMatch(/^#!ipxe/);
    // Without --assets nothing is served there.
    expect((await get('/assets/ubuntu/vmlinuz')).status).toBe(404);
  });
});

describe('boot listener: a router error', () => {
  it('is a generic 500 for that request, and the listener keeps answering', async () => {
    const loaded = await loadCoordinatorState(join(out, 'coordinator'), {});
    // httpListen that resolvePxeBaseUrl refuses: every routed request throws inside the router.
    const spec = { ...loaded.plan.spec, coordinator: { ...loaded.plan.spec.coordinator, httpListen: 'nonsense' } };
    const broken = await startBootListener(spec, join(out, 'coordinator'), '127.0.0.1:0');
    try {
      for (let i = 0; i < 2; i++) {
        const res = await request(`${broken.url}/boot.ipxe`, { method: 'GET' });
        expect(res.statusCode).toBe(500);
        expect(await res.body.text()).toBe('internal error\n');
      }
    } finally {
      await broken.close();
    }
  });
});
