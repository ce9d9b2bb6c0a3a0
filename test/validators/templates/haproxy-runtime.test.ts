/**
 * The rendered haproxy.cfg with its process settings, run for real, and the keepalived check
 * script under process churn.
 *
 * HAProxy runs in a network namespace of its own (loopback only) with the generated defaults:
 * Debian's `haproxy` user and group, the chroot `/var/lib/haproxy` (both made by `apt install
 * haproxy`) and the runtime API socket, here in a directory made the way the package's
 * tmpfiles.d entry makes `/run/haproxy` (setgid, group haproxy). The test reads the process's uid
 * and root from /proc, then drains a backend through the socket the way an operator does
 * (`disable server`, `show servers state`) with a Node unix-socket client. HAProxy is stopped by
 * its pid.
 *
 * The check script runs 100 times while other processes start and exit; its stderr must hold
 * only its own messages: a process that exits between the /proc glob and the read must not leak
 * dash's "cannot open /proc/N/comm" into keepalived's log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as t from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { makeTempDir, must, Namespaces, run, sleep, writeFile } from './helpers.ts';

const BACKENDS = [
  { name: 'cp1', address: '127.0.0.2', port: 6443 },
  { name: 'cp2', address: '127.0.0.3', port: 6443 },
];

function idOf(kind: 'user' | 'group', name: string): number {
  return Number(must('id', [kind === 'user' ? '-u' : '-g', name]).trim());
}

/** One runtime API command; HAProxy answers and closes the connection (non-interactive mode). */
function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const conn = createConnection(socket, () => conn.write(`${command}\n`));
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      out += d;
    });
    conn.on('end', () => resolve(out));
    conn.on('error', reject);
    conn.setTimeout(5000, () => conn.destroy(new Error(`no answer to '${command}' within 5 s`)));
  });
}

/** `show servers state BACKEND` → server name → srv_admin_state (bit 0x01: forced maintenance). */
function adminStates(text: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines
    .find((l) => l.startsWith('# be_id'))!
    .slice(2)
    .split(' ');
  const nameAt = header.indexOf('srv_name');
  const adminAt = header.indexOf('srv_admin_state');
  const out: Record<string, number> = {};
  // The first line is the format version ("1"); each server line has one value per header column.
  for (const cols of lines.map((l) => l.split(' ')).filter((c) => c.length === header.length)) {
    out[cols[nameAt]!] = Number(cols[adminAt]);
  }
  return out;
}

describe.skipIf(
  skipUnless('validators/templates haproxy runtime', {
    root: true,
    commands: ['haproxy', 'ip', 'id', '/var/lib/haproxy'],
  }),
)('HAProxy with the generated process settings, for real', () => {
  const ns = new Namespaces('hr');
  const dir = makeTempDir('haproxy-run');
  const socketDir = `${dir}/run-haproxy`;
  const socket = `${socketDir}/admin.sock`;
  let haproxy: ChildProcess | undefined;
  let stdout = '';

  beforeAll(async () => {
    const netns = ns.add('lb');
    // As /usr/lib/tmpfiles.d/haproxy.conf makes /run/haproxy: "d /run/haproxy 2775 haproxy haproxy".
    mkdirSync(socketDir);
    chownSync(socketDir, idOf('user', 'haproxy'), idOf('group', 'haproxy'));
    chmodSync(socketDir, 0o2775);
    const text = t.renderHaproxyConfig({ bindPort: 6443, backends: BACKENDS, statsSocket: socket, log: 'stdout format raw daemon' });
    const cfg = writeFile(dir, 'haproxy.cfg', text);
    // `ip netns exec` execs haproxy, so the child's pid is HAProxy's own (-db: foreground, one process).
    haproxy = spawn('ip', ['netns', 'exec', netns, 'haproxy', '-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    haproxy.stderr?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    for (let i = 0; i < 100; i++) {
      if (run('test', ['-S', socket]).status === 0) break;
      await sleep(50);
    }
  });

  afterAll(async () => {
    if (haproxy && haproxy.exitCode === null && haproxy.signalCode === null) {
      const exited = new Promise((r) => haproxy!.once('exit', r));
      process.kill(haproxy.pid!, 'SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (haproxy.exitCode === null && haproxy.signalCode === null) process.kill(haproxy.pid!, 'SIGKILL');
    }
    ns.deleteAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops to the haproxy user inside the chroot', () => {
    expect(haproxy?.exitCode, stdout).toBeNull();
    const status = readFileSync(`/proc/${haproxy!.pid}/status`, 'utf8');
    const uid = idOf('user', 'haproxy');
    const gid = idOf('group', 'haproxy');
    expect(status).toMatch(new RegExp(`^Uid:\\t${uid}\\t${uid}\\t${uid}\\t${uid}$`, 'm'));
    expect(status).toMatch(new RegExp(`^Gid:\\t${gid}\\t${gid}\\t${gid}\\t${gid}$`, 'm'));
    expect(readlinkSync(`/proc/${haproxy!.pid}/root`)).toBe('/var/lib/haproxy');
  });

  it('makes the admin socket readable and writable by root and group haproxy only', () => {
    const st = statSync(socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(idOf('group', 'haproxy'));
  });

  it('drains a backend through the runtime API and brings it back', async () => {
    const before = adminStates(await adminCommand(socket, 'show servers state kube-apiserver'));
    expect(before).toEqual({ cp1: 0, cp2: 0 });
    expect(await adminCommand(socket, 'disable server kube-apiserver/cp1')).toBe('\n');
    const drained = adminStates(await adminCommand(socket, 'show servers state kube-apiserver'));
    expect(drained.cp1! & 1).toBe(1);
    expect(drained.cp2).toBe(0);
    await adminCommand(socket, 'enable server kube-apiserver/cp1');
    expect(adminStates(await adminCommand(socket, 'show servers state kube-apiserver'))).toEqual({ cp1: 0, cp2: 0 });
  });
});

describe.skipIf(skipUnless('validators/templates check script churn', { root: true, commands: ['ip', 'dash'] }))(
  'keepalived check script while processes come and go',
  () => {
    const ns = new Namespaces('cc');
    const dir = makeTempDir('check-churn');
    const churn: ChildProcess[] = [];

    afterAll(async () => {
      for (const c of churn) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
      ns.deleteAll();
      rmSync(dir, { recursive: true, force: true });
    });

    it('writes only its own messages to stderr', async () => {
      const netns = ns.add('chk');
      const script = writeFile(dir, 'check.sh', t.renderKeepalivedCheckScript({ loadBalancer: 'haproxy', port: 6443 }), 0o755);
      // Each loop starts and reaps a short-lived process without pause: /proc entries vanish while the script reads them.
      for (let i = 0; i < 3; i++) churn.push(spawn('dash', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' }));
      await sleep(200);
      // One shell runs the check 100 times, as keepalived would (sh, the check's own interpreter, is dash on Debian).
      const r = run('ip', ['netns', 'exec', netns, 'dash', '-c', `for i in $(seq 100); do dash ${script}; done`], { timeoutMs: 120_000 });
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines.length).toBe(100);
      expect(lines.filter((l) => !l.startsWith('kubeseed-check-lb: '))).toEqual([]);
    });
  },
);
