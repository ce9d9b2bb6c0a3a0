/**
 * The x64 agent executable against the REAL coordinator (server/startCoordinator, HTTPS on
 * 127.0.0.1) driving a plan made by the real planner and step builder: one control plane and one
 * worker, external load balancer at 127.0.0.1 (so every TCP check stays on loopback), Flannel.
 * Each host is a separate agent process with its own root; kubeadm and kubectl are the TEST
 * DOUBLES sharing one cluster state. Proves the released v1beta4 documents pass the double's field
 * checks, the signing matches the coordinator's verifier, and the rollout reaches done.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doubleEnv, readDoubleLog } from '../../doubles/index.ts';
import { buildStep } from '../../generator/plan/build-step.ts';
import { PREPARE_SCRIPT } from '../../generator/plan/host-files.ts';
import { planRollout } from '../../generator/plan/plan.ts';
import { type RunningCoordinator, startCoordinator } from '../../server/serve.ts';
import { MemoryStore } from '../../server/store/index.ts';
import { makeTempRoot, seedHealthyHost } from '../unit/agent/support.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { createTestTls, credentialOf, FakeKubernetes, makeInputs, OPERATOR_TOKEN } from '../unit/server/support.ts';
import { AGENT_X64, ensureAgentBuilt } from './agent-build.ts';

const X64 = AGENT_X64;

const cleanups: Array<() => unknown> = [];
beforeAll(() => ensureAgentBuilt(), 120_000);
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function runAgent(env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(X64, ['--config', '/etc/kubeseed/agent.json'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stderr });
    });
  });
}

interface Rollout {
  hosts: Array<{ name: string; root: string }>;
  results: Array<{ code: number | null; stderr: string }>;
  calls: ReturnType<typeof readDoubleLog>;
  clusterState: string;
  status: unknown;
}

/** One control plane + one worker, external LB at 127.0.0.1, Flannel; every host an agent process. */
async function rollout(extraEnv: Record<string, string> = {}): Promise<Rollout> {
  const fixture = makePlan({ controlPlanes: 1, loadBalancers: 0, workers: 1 });
  const spec = structuredClone(fixture.spec);
  spec.loadBalancer = { type: 'external', interface: 'eth0', virtualRouterId: 51 };
  spec.controlPlaneEndpoint = { host: '127.0.0.1', port: 16443 }; // nothing listens: "refused" is a pass
  spec.cni = { plugin: 'flannel', version: 'v0.27.4' };
  const plan = planRollout(spec);
  const tls = createTestTls();
  const coordinator: RunningCoordinator = await startCoordinator(makeInputs(plan, { buildStep, tls }), {
    store: new MemoryStore(),
    kubernetes: new FakeKubernetes(),
    listen: { host: '127.0.0.1', port: 0 },
    logger: false,
    scheduler: { backoffBaseMs: 50 },
  });
  cleanups.push(() => coordinator.close());
  const shared = makeTempRoot('ks-real-');
  cleanups.push(shared.cleanup);
  const log = join(shared.root, 'calls.log');
  const clusterState = join(shared.root, 'cluster.json');
  const hosts = plan.hosts.map((h) => {
    const r = makeTempRoot(`ks-real-${h.name}-`);
    cleanups.push(r.cleanup);
    seedHealthyHost(r.write);
    r.write('/etc/machine-id', `${h.name.padEnd(32, '0')}\n`);
    r.write(
      '/etc/kubeseed/agent.json',
      JSON.stringify({
        coordinatorUrl: coordinator.url,
        caFile: '/etc/kubeseed/ca.crt',
        credentialFile: '/etc/kubeseed/credential',
        host: h.name,
      }),
    );
    r.write('/etc/kubeseed/ca.crt', tls.ca);
    r.write('/etc/kubeseed/credential', credentialOf(h.name), 0o600);
    // The plan's first step on these cloud-init hosts is prepare-host: a stand-in for the script the
    // user-data writes (the real one would install packages on this machine).
    r.write(PREPARE_SCRIPT, '#!/bin/bash\necho "kubeseed-prepare: stand-in host"\necho "kubeseed-prepare: done"\n', 0o755);
    return { name: h.name, root: r.root };
  });
  const results = await Promise.all(
    hosts.map((h) =>
      runAgent(
        {
          ...doubleEnv({ root: h.root, log, clusterState, kubernetesVersion: spec.kubernetesVersion }),
          KUBESEED_AGENT_ROOT: h.root,
          ...extraEnv,
        },
        90_000,
      ),
    ),
  );
  const status = (
    await coordinator.app.inject({ method: 'GET', url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })
  ).json();
  return { hosts, results, calls: readDoubleLog(log), clusterState, status };
}

describe('agent executable × real coordinator', () => {
  it('a control plane and a worker bootstrap through the real coordinator and finish', async () => {
    const { hosts, results, calls, clusterState, status } = await rollout();
    for (const [i, r] of results.entries()) expect(r.code, `${hosts[i]?.name}: ${r.stderr.slice(-3000)}`).toBe(0);
    const kubeadm = calls.filter((c) => c.tool === 'kubeadm' && c.argv[0] !== 'version');
    expect(kubeadm.map((c) => c.argv[0])).toEqual(['init', 'join']);
    for (const c of kubeadm) {
      expect(c.exit, c.error).toBe(0);
      expect(c.configMode).toBe(0o600);
    }
    expect(kubeadm[0]?.argv).toContain('--skip-token-print');
    const kubectl = calls.filter((c) => c.tool === 'kubectl');
    expect(kubectl.some((c) => c.argv.includes('apply') && c.argv.some((a) => a.endsWith('kube-flannel.yml')))).toBe(true);
    expect(kubectl.some((c) => c.argv.includes('rollout'))).toBe(true);
    for (const h of hosts) {
      expect(existsSync(join(h.root, 'var/lib/kubeseed/done')), h.name).toBe(true);
      expect(existsSync(join(h.root, 'etc/kubeseed/credential')), h.name).toBe(false);
      expect(statSync(join(h.root, 'var/lib/kubeseed/agent-key.pem')).mode & 0o777).toBe(0o600);
      for (const name of ['init.yaml', 'join.yaml']) expect(existsSync(join(h.root, 'etc/kubeseed', name))).toBe(false);
    }
    const state = JSON.parse(readFileSync(clusterState, 'utf8')) as { nodes: Record<string, unknown> };
    expect(Object.keys(state.nodes).sort()).toEqual(hosts.map((h) => h.name).sort());
    expect(status).toMatchObject({ done: true, counts: { done: 2 } });
    // no bootstrap token in any agent's journal
    for (const r of results) expect(r.stderr).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
  }, 120_000);

  it('a worker join that fails half-way is reset by the coordinator and retried to done', async () => {
    const { hosts, results, calls, status } = await rollout({ KUBESEED_DOUBLE_FAIL: 'kubeadm join=1' });
    for (const [i, r] of results.entries()) expect(r.code, `${hosts[i]?.name}: ${r.stderr.slice(-3000)}`).toBe(0);
    const worker = hosts.find((h) => h.name !== 'cp1');
    const kubeadm = calls.filter((c) => c.tool === 'kubeadm' && c.root === worker?.root && c.argv[0] !== 'version');
    expect(kubeadm.map((c) => `${c.argv[0]} ${c.exit}`)).toEqual(['join 1', 'reset 0', 'join 0']);
    const journal = results[hosts.indexOf(worker as (typeof hosts)[number])]?.stderr ?? '';
    expect(journal).toMatch(
      /"event":"step-finished","stepId":"[^"]*kubeadm-join-worker","attempt":1,"outcome":"failed","reason":"kubeadm-exit-1"/,
    );
    expect(status).toMatchObject({ done: true, counts: { done: 2 } });
  }, 120_000);
});
