/**
 * The rendered HAProxy + keepalived + check script, run for real: two load-balancer namespaces on
 * a bridge (the bridge in a namespace of its own), HAProxy and keepalived in each with the
 * generated files. Both start BACKUP with nopreempt, as kubeseed generates them. The VIP comes up
 * on the first host to run although no API server exists (the check only looks at the local
 * HAProxy), and a host started later leaves it there; killing the
 * holder's HAProxy makes the check fail and the VIP moves to the other within 5 s; once its
 * HAProxy is back, the VIP stays where it is (no second break of every connection).
 * Every address is used only through `ip netns exec` / `ip -n`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as t from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { makeTempDir, must, Namespaces, run, sleep, writeFile } from './helpers.ts';

const VIP = '10.78.0.100';
const LB = [
  { name: 'lb1', ip: '10.78.0.11', priority: 150 },
  { name: 'lb2', ip: '10.78.0.12', priority: 100 },
];

function holdsVip(ns: string): boolean {
  return run('ip', ['-n', ns, '-4', 'addr', 'show', 'dev', 'eth0']).stdout.includes(`inet ${VIP}/`);
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (cond()) return Date.now() - start;
    await sleep(50);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

describe.skipIf(skipUnless('validators/templates failover', { root: true, commands: ['haproxy', 'keepalived', 'ip', 'bash'] }))(
  'keepalived + HAProxy failover in namespaces',
  () => {
    const ns = new Namespaces('fo');
    const children: ChildProcess[] = [];
    const dir = makeTempDir('failover');
    const netns: Record<string, string> = {};
    const haproxy: Record<string, ChildProcess> = {};
    const output: Record<string, string> = {};
    let checkScript = '';

    function start(args: string[], outputKey?: string): ChildProcess {
      // `ip netns exec` execs the command, so the child's PID is the daemon's own.
      const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', (d: Buffer) => {
        if (outputKey) output[outputKey] = (output[outputKey] ?? '') + d.toString();
      });
      child.stderr?.resume();
      children.push(child);
      return child;
    }

    // The control plane does not exist: HAProxy marks it DOWN but keeps listening, as before kubeadm init.
    // Each LB host has its own runtime socket (on a real host: /run/haproxy/admin.sock).
    function startHaproxy(name: string): void {
      const cfg = writeFile(
        dir,
        `${name}-haproxy.cfg`,
        t.renderHaproxyConfig({
          bindPort: 6443,
          backends: [{ name: 'cp1', address: '10.78.0.50', port: 6443 }],
          log: 'stdout format raw daemon',
          statsSocket: `${dir}/${name}-admin.sock`,
        }),
      );
      haproxy[name] = start(['netns', 'exec', netns[name]!, 'haproxy', '-db', '-f', cfg], `haproxy-${name}`);
    }

    function startKeepalived(lb: (typeof LB)[number]): void {
      const conf = writeFile(
        dir,
        `${lb.name}-keepalived.conf`,
        t.renderKeepalivedConfig({
          interface: 'eth0',
          vip: VIP,
          vipPrefix: 24,
          virtualRouterId: 77,
          priority: lb.priority,
          state: 'BACKUP',
          unicastSrcIp: lb.ip,
          unicastPeers: LB.filter((o) => o !== lb).map((o) => o.ip),
          authPass: 'kstest01',
          checkScriptPath: checkScript,
        }),
      );
      const p = (s: string) => `${dir}/${lb.name}-${s}.pid`;
      start(['netns', 'exec', netns[lb.name]!, 'keepalived', '-n', '-l', '-D', '-f', conf, '-p', p('k'), '-r', p('vrrp'), '-c', p('chk')]);
    }

    beforeAll(() => {
      const br = ns.add('br');
      must('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
      must('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
      LB.forEach((lb, i) => {
        const n = ns.add(lb.name);
        netns[lb.name] = n;
        const hostSide = `ks${process.pid % 100000}v${i}`;
        must('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
        must('ip', ['link', 'set', hostSide, 'netns', br]);
        must('ip', ['-n', br, 'link', 'set', hostSide, 'master', 'br0', 'up']);
        must('ip', ['-n', n, 'addr', 'add', `${lb.ip}/24`, 'dev', 'eth0']);
        must('ip', ['-n', n, 'link', 'set', 'eth0', 'up']);
      });

      checkScript = writeFile(dir, 'check-lb.sh', t.renderKeepalivedCheckScript({ loadBalancer: 'haproxy', port: 6443 }), 0o755);
      for (const lb of LB) startHaproxy(lb.name);
      // lb2's keepalived starts in the first test, once lb1 holds the VIP: with nopreempt the first host ready wins.
      startKeepalived(LB[0]!);
    });

    afterAll(async () => {
      // SIGTERM first: keepalived's parent then stops its VRRP and checker children itself.
      const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
      const exited = alive.map((c) => new Promise((resolve) => c.once('exit', resolve)));
      for (const c of alive) c.kill('SIGTERM');
      await Promise.race([Promise.all(exited), sleep(5000)]);
      for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      // Children left behind by a keepalived that had to be killed: by the PIDs it wrote.
      for (const lb of LB) {
        for (const f of ['vrrp', 'chk']) {
          const pid = Number(run('cat', [`${dir}/${lb.name}-${f}.pid`]).stdout.trim());
          if (pid > 0 && run('kill', ['-0', String(pid)]).status === 0) run('kill', ['-9', String(pid)]);
        }
      }
      ns.deleteAll();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the VIP comes up on the first LB host without any API server, and stays there when the next one starts', async () => {
      await waitFor(() => holdsVip(netns.lb1!), 15_000);
      startKeepalived(LB[1]!);
      await waitFor(() => run('ip', ['netns', 'exec', netns.lb2!, 'sh', checkScript]).status === 0, 5000);
      await sleep(4000);
      expect(holdsVip(netns.lb1!)).toBe(true);
      expect(holdsVip(netns.lb2!)).toBe(false);
      expect(run('ip', ['netns', 'exec', netns.lb1!, 'sh', checkScript]).status).toBe(0);
    });

    it('HAProxy logs a connection through the VIP on stdout with the client address (tcplog)', async () => {
      // From lb2's namespace to the VIP held by lb1. Meanwhile keepalived's loopback checks stay out of the log.
      const r = run('ip', ['netns', 'exec', netns.lb2!, 'bash', '-c', `exec 3<>/dev/tcp/${VIP}/6443; echo hello >&3; sleep 0.2`]);
      expect(r.status, r.stderr).toBe(0);
      await waitFor(() => (output['haproxy-lb1'] ?? '').includes(`${LB[1]!.ip}:`), 5000);
      const line = output['haproxy-lb1']!.split('\n').find((l) => l.includes(`${LB[1]!.ip}:`))!;
      // No control plane answers yet, so no server was chosen: <NOSRV>; with one it names the server.
      expect(line).toMatch(/kube-apiserver kube-apiserver\/(<NOSRV>|cp1) /);
      expect(output['haproxy-lb2'] ?? '').not.toContain(`${LB[1]!.ip}:`);
      expect(output['haproxy-lb1']).not.toContain('127.0.0.1:');
    });

    it("after the holder's HAProxy dies, its check fails and the VIP moves to the other host within 5 s", async () => {
      const victim = haproxy.lb1!;
      process.kill(victim.pid!, 'SIGKILL');
      const killedAt = Date.now();
      await waitFor(() => victim.exitCode !== null || victim.signalCode !== null, 2000);
      const check = run('ip', ['netns', 'exec', netns.lb1!, 'sh', checkScript]);
      expect(check.status).toBe(1);
      expect(check.stderr).toContain('does not accept connections on 127.0.0.1:6443');
      await waitFor(() => holdsVip(netns.lb2!) && !holdsVip(netns.lb1!), 8000);
      const moved = Date.now() - killedAt;
      expect(moved).toBeLessThan(5000);
    });

    it('once its HAProxy is back, the higher-priority host leaves the VIP where it is (nopreempt)', async () => {
      startHaproxy('lb1');
      await waitFor(() => run('ip', ['netns', 'exec', netns.lb1!, 'sh', checkScript]).status === 0, 5000);
      // rise 2 at 1 s intervals, then a preempting keepalived would take the VIP back within ~3.5 s: wait well past that.
      const until = Date.now() + 8000;
      while (Date.now() < until) {
        expect(holdsVip(netns.lb1!)).toBe(false);
        expect(holdsVip(netns.lb2!)).toBe(true);
        await sleep(250);
      }
    });
  },
);
