/**
 * The agent's single executables (Node SEA): the x64 one runs `--version` and a full
 * enroll → preflight → kubeadm init (TEST DOUBLE) → report → done cycle against an HTTPS
 * coordinator on 127.0.0.1 with a pinned CA; the arm64 one runs `--version` under qemu-user.
 * Builds dist/ first when it is missing or older than the agent's sources.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doubleEnv, readDoubleLog } from '../../doubles/index.ts';
import type { ReportRequest } from '../../protocol/wire.ts';
import { skipUnless } from '../support/requirements.ts';
import { makeTempRoot, makeTlsMaterial, seedHealthyHost, startFakeCoordinator } from '../unit/agent/support.ts';
import { AGENT_ARM64, AGENT_X64, ensureAgentBuilt } from './agent-build.ts';

const X64 = AGENT_X64;
const ARM64 = AGENT_ARM64;
const TOKEN = 'abcdef.0123456789abcdef';

const cleanups: Array<() => unknown> = [];
beforeAll(() => ensureAgentBuilt(), 120_000);
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function run(
  file: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('agent single executable, linux-x64', () => {
  it('prints its version', async () => {
    const r = await run(X64, ['--version'], { PATH: '/usr/bin:/bin' }, 20_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^kubeseed-agent \d+\.\d+\.\d+ \(node v22\.23\.3, linux\/x64\)/);
    expect(r.stderr).toBe(''); // no experimental-SEA warning
  });

  it('runs enroll → step → report → done against an HTTPS coordinator on loopback', async () => {
    const tls = makeTlsMaterial();
    let released = false;
    const coordinator = await startFakeCoordinator(tls, (req) => {
      if (req.path === '/v1/enroll') {
        return {
          status: 200,
          body: {
            host: 'cp-1',
            role: 'control-plane',
            serverTime: Date.now(),
            awaitingApproval: false,
            kubernetesVersion: '1.37.1',
            endpoint: { host: '127.0.0.1', port: 9 },
          },
        };
      }
      if (req.path.startsWith('/v1/next')) {
        if (released) return { status: 200, body: { step: null, done: true, serverTime: Date.now() } };
        released = true;
        const config = `apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nbootstrapTokens:\n- token: "${TOKEN}"\nnodeRegistration:\n  name: cp-1\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: 127.0.0.1:6443\n`;
        return {
          status: 200,
          body: {
            step: {
              id: 'init',
              kind: 'kubeadm-init',
              host: 'cp-1',
              attempt: 1,
              files: [{ path: '/etc/kubeseed/init.yaml', content: config, mode: 0o600, secret: true }],
              params: { kubeadmConfigPath: '/etc/kubeseed/init.yaml' },
              redact: [TOKEN],
            },
            done: false,
            serverTime: Date.now(),
          },
        };
      }
      if (req.path === '/v1/report') return { status: 200, body: { accepted: true } };
      return { status: 204 };
    });
    cleanups.push(() => coordinator.close());
    const host = makeTempRoot('ks-sea-');
    cleanups.push(host.cleanup);
    seedHealthyHost(host.write);
    host.write(
      '/etc/kubeseed/agent.json',
      JSON.stringify({
        coordinatorUrl: coordinator.url,
        caFile: '/etc/kubeseed/ca.crt',
        credentialFile: '/etc/kubeseed/credential',
        host: 'cp-1',
      }),
    );
    host.write('/etc/kubeseed/ca.crt', tls.caPem);
    host.write('/etc/kubeseed/credential', 'kscred-sea-0123456789', 0o600);
    const log = join(host.root, 'calls.log');
    const started = Date.now();
    const r = await run(
      X64,
      ['--config', '/etc/kubeseed/agent.json'],
      { ...doubleEnv({ root: host.root, log }), KUBESEED_AGENT_ROOT: host.root },
      60_000,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    const report = coordinator.requests.find((q) => q.path === '/v1/report')?.body as ReportRequest;
    expect(report).toMatchObject({ stepId: 'init', outcome: 'succeeded', results: { apiServerReady: true } });
    expect(report.logTail).not.toContain(TOKEN);
    expect(coordinator.requests.slice(1).every((q) => q.signatureValid)).toBe(true);
    expect(
      readDoubleLog(log)
        .filter((c) => c.tool === 'kubeadm')
        .map((c) => c.argv),
    ).toEqual([['version'], ['init', '--config', '/etc/kubeseed/init.yaml', '--skip-token-print', '--skip-certificate-key-print']]);
    expect(existsSync(join(host.root, 'var/lib/kubeseed/done'))).toBe(true);
    expect(existsSync(join(host.root, 'etc/kubeseed/credential'))).toBe(false);
    for (const line of r.stderr.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    expect(r.stderr).not.toContain(TOKEN);
  });
});

describe.skipIf(skipUnless('validators', { commands: ['qemu-aarch64', '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1'] }))(
  'agent single executable, linux-arm64 (qemu-user)',
  () => {
    it('prints its version under qemu-aarch64', async () => {
      const r = await run('qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', ARM64, '--version'], { PATH: '/usr/bin:/bin' }, 60_000);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/node v22\.23\.3, linux\/arm64\)/);
      const header = Buffer.alloc(20);
      const fd = openSync(ARM64, 'r');
      readSync(fd, header, 0, 20, 0);
      closeSync(fd);
      expect(header.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect(header.readUInt16LE(18)).toBe(183); // e_machine EM_AARCH64
    });
  },
);
