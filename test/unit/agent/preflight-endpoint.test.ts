/**
 * The endpoint part of the agent's preflight (DESIGN "Rollout order" 1; issue 17 defect 6):
 * before init or join the endpoint's name must resolve, and to the load balancer's address when
 * the generator knows it — with or without a VIP — or the host waits with the reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Exec } from '../../../agent/io.ts';
import type { Session } from '../../../agent/machine.ts';
import { createRootFs } from '../../../agent/node-io.ts';
import { runPreflight } from '../../../agent/preflight.ts';
import { makeTempRoot, scriptedNet, seedHealthyHost } from './support.ts';

const roots: { cleanup: () => void }[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) r.cleanup();
});

const readyExec: Exec = {
  async run(argv) {
    const answers: Record<string, string> = {
      'cloud-init status': 'status: done\n',
      'containerd --version': 'containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7\n',
      'kubelet --version': 'Kubernetes v1.37.1\n',
      'kubeadm version': 'kubeadm version: &version.Info{Major:"1", Minor:"37", GitVersion:"v1.37.1", GitCommit:"x"}\n',
    };
    const output = answers[argv.slice(0, 2).join(' ')];
    return output === undefined
      ? { code: null, output: '', notFound: true, timedOut: false }
      : { code: 0, output, notFound: false, timedOut: false };
  },
};

function setup(dns: Record<string, string[]>, tcp: Record<string, 'accepted' | 'refused' | 'timeout'>) {
  const r = makeTempRoot();
  roots.push(r);
  seedHealthyHost(r.write);
  const net = scriptedNet();
  for (const [name, addresses] of Object.entries(dns)) net.dns.set(name, addresses);
  for (const [target, answer] of Object.entries(tcp)) net.tcpAnswers.set(target, answer);
  return { fs: createRootFs(r.root), net, exec: readyExec, now: 0, serverSkewMs: 0, prepared: true };
}

const session = (role: Session['role'], endpoint: Session['endpoint']): Session => ({
  host: 'h1',
  role,
  kubernetesVersion: '1.37.1',
  endpoint,
  serverSkewMs: 0,
});

describe('endpoint preflight', () => {
  it('blocks the init node when the name resolves nowhere, even without a VIP', async () => {
    const ctx = setup({}, { '*': 'timeout' });
    const res = await runPreflight(session('control-plane', { host: 'api.t1.lan', port: 6443, address: '10.1.0.11' }), ctx);
    expect(res.ok).toBe(false);
    expect(res.checks.at(-1)).toMatchObject({ name: 'endpoint-dns', ok: false });
    expect(res.checks.at(-1)?.message).toMatch(/api\.t1\.lan does not resolve \(getaddrinfo ENOTFOUND api\.t1\.lan\)/);
    expect(res.checks.at(-1)?.message).toMatch(/nameservers|hostsFile/);
  });

  it("blocks when a single load balancer's name resolves elsewhere, and probes that host's address", async () => {
    const endpoint = { host: 'api.t1.lan', port: 6443, address: '10.1.0.11' };
    const wrong = setup({ 'api.t1.lan': ['10.1.0.99'] }, { '10.1.0.11:6443': 'refused' });
    const blocked = await runPreflight(session('control-plane', endpoint), wrong);
    expect(blocked.ok).toBe(false);
    expect(blocked.checks.at(-1)?.message).toBe(
      "api.t1.lan resolves to 10.1.0.99, not to the load balancer's address 10.1.0.11: fix the DNS record (or networking.hostsFile)",
    );
    const right = setup({ 'api.t1.lan': ['10.1.0.11'] }, { '10.1.0.11:6443': 'refused' });
    const passed = await runPreflight(session('worker', endpoint), right);
    expect(passed.ok).toBe(true);
    expect(passed.checks.slice(-2)).toEqual([
      { name: 'endpoint-dns', ok: true, message: 'api.t1.lan → 10.1.0.11' },
      { name: 'endpoint-tcp', ok: true, message: '10.1.0.11:6443 refused' },
    ]);
  });

  it('with a VIP, the name must resolve to the VIP (also from an older coordinator that sends only vip)', async () => {
    const ctx = setup({ 'api.t1.lan': ['10.1.0.12'] }, { '*': 'accepted' });
    const modern = await runPreflight(
      session('control-plane', { host: 'api.t1.lan', port: 6443, vip: '10.1.0.10', address: '10.1.0.10' }),
      ctx,
    );
    expect(modern.checks.at(-1)?.message).toMatch(/resolves to 10\.1\.0\.12, not to the VIP 10\.1\.0\.10/);
    const legacy = await runPreflight(session('control-plane', { host: 'api.t1.lan', port: 6443, vip: '10.1.0.10' }), ctx);
    expect(legacy.ok).toBe(false);
  });

  it('an external load balancer of unknown address: the name need only resolve', async () => {
    const ctx = setup({ 'api.example.com': ['203.0.113.7'] }, { '203.0.113.7:6443': 'accepted' });
    const res = await runPreflight(session('worker', { host: 'api.example.com', port: 6443 }), ctx);
    expect(res.ok).toBe(true);
    expect(res.checks.slice(-2).map((c) => c.message)).toEqual(['api.example.com → 203.0.113.7', '203.0.113.7:6443 accepted']);
    const missing = await runPreflight(session('worker', { host: 'api.gone.example.com', port: 6443 }), ctx);
    expect(missing.checks.at(-1)).toMatchObject({ name: 'endpoint-dns', ok: false });
  });

  it('an address as endpoint needs no DNS', async () => {
    const ctx = setup({}, { '10.1.0.10:6443': 'refused' });
    const res = await runPreflight(session('worker', { host: '10.1.0.10', port: 6443, vip: '10.1.0.10', address: '10.1.0.10' }), ctx);
    expect(res.ok).toBe(true);
    expect(res.checks.map((c) => c.name)).not.toContain('endpoint-dns');
  });
});
