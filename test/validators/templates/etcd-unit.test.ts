/**
 * The rendered etcd unit's command line, run for real: three members in three network
 * namespaces on a bridge, each started with exactly the ExecStart of its unit (paths pointed at
 * a temp directory), with TLS client and peer authentication. The cluster forms from the
 * initial-cluster list and answers a TLS health check; a client without a certificate is refused.
 * Debian's etcd is 3.4: this proves the flags and the wiring, not the version kubeadm wants.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderEtcdUnit } from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { makeTempDir, must, Namespaces, run, sleep, writeFile } from './helpers.ts';

const MEMBERS = [
  { name: 'etcd1', ip: '10.80.0.11' },
  { name: 'etcd2', ip: '10.80.0.12' },
  { name: 'etcd3', ip: '10.80.0.13' },
];

/** The ExecStart command of a unit as argv (continuation lines joined). */
function execStart(unit: string): string[] {
  const text = unit.replace(/ \\\n\s*/g, ' ');
  const line = text.split('\n').find((l) => l.startsWith('ExecStart=') && l.length > 'ExecStart='.length);
  if (!line) throw new Error('no ExecStart');
  return line.slice('ExecStart='.length).trim().split(/\s+/);
}

describe.skipIf(skipUnless('validators/templates etcd unit', { root: true, commands: ['etcd', 'etcdctl', 'openssl', 'ip'] }))(
  'etcd unit command line: a 3-member TLS cluster in namespaces',
  () => {
    const dir = makeTempDir('etcd');
    const ns = new Namespaces('et');
    const netns: string[] = [];
    const children: ChildProcess[] = [];
    const pki = join(dir, 'pki');
    const endpoints = MEMBERS.map((m) => `https://${m.ip}:2379`).join(',');

    function openssl(args: string[]) {
      must('openssl', args);
    }

    beforeAll(() => {
      mkdirSync(pki);
      openssl([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=etcd-ca',
        '-keyout',
        `${pki}/ca.key`,
        '-out',
        `${pki}/ca.crt`,
      ]);
      const issue = (name: string, ext: string) => {
        openssl([
          'req',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-subj',
          `/CN=${name}`,
          '-keyout',
          `${pki}/${name}.key`,
          '-out',
          `${pki}/${name}.csr`,
        ]);
        writeFile(pki, `${name}.ext`, ext);
        openssl([
          'x509',
          '-req',
          '-in',
          `${pki}/${name}.csr`,
          '-CA',
          `${pki}/ca.crt`,
          '-CAkey',
          `${pki}/ca.key`,
          '-CAcreateserial',
          '-days',
          '1',
          '-extfile',
          `${pki}/${name}.ext`,
          '-out',
          `${pki}/${name}.crt`,
        ]);
      };
      issue('client', 'extendedKeyUsage=clientAuth\n');

      const br = ns.add('br');
      must('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
      must('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
      MEMBERS.forEach((m, i) => {
        const n = ns.add(m.name);
        netns.push(n);
        const hostSide = `ks${process.pid % 100000}e${i}`;
        must('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
        must('ip', ['link', 'set', hostSide, 'netns', br]);
        must('ip', ['-n', br, 'link', 'set', hostSide, 'master', 'br0', 'up']);
        must('ip', ['-n', n, 'addr', 'add', `${m.ip}/24`, 'dev', 'eth0']);
        must('ip', ['-n', n, 'link', 'set', 'eth0', 'up']);

        // The member's pki directory in kubeadm's layout: ca.crt, server.{crt,key}, peer.{crt,key}.
        issue(m.name, `subjectAltName=DNS:${m.name},DNS:localhost,IP:${m.ip},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`);
        const memberPki = join(dir, m.name, 'pki');
        mkdirSync(memberPki, { recursive: true });
        for (const [from, to] of [
          ['ca.crt', 'ca.crt'],
          [`${m.name}.crt`, 'server.crt'],
          [`${m.name}.key`, 'server.key'],
          [`${m.name}.crt`, 'peer.crt'],
          [`${m.name}.key`, 'peer.key'],
        ] as const) {
          must('cp', [join(pki, from), join(memberPki, to)]);
        }
        const unit = renderEtcdUnit({
          name: m.name,
          ip: m.ip,
          members: MEMBERS,
          initialClusterToken: 'kubeseed-test',
          etcdPath: must('sh', ['-c', 'command -v etcd']).trim(),
          dataDir: join(dir, m.name, 'data'),
          pkiDir: memberPki,
        });
        const argv = execStart(unit);
        const child = spawn('ip', ['netns', 'exec', n, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
        child.stderr?.resume();
        children.push(child);
      });
    });

    afterAll(async () => {
      // SIGKILL: a throwaway cluster; a graceful stop of all members takes seconds.
      const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
      const exited = alive.map((c) => new Promise((r) => c.once('exit', r)));
      for (const c of alive) c.kill('SIGKILL');
      await Promise.race([Promise.all(exited), sleep(3000)]);
      ns.deleteAll();
      rmSync(dir, { recursive: true, force: true });
    });

    const etcdctl = (args: string[]) =>
      run('ip', ['netns', 'exec', netns[0]!, 'etcdctl', `--endpoints=${endpoints}`, '--dial-timeout=1s', '--command-timeout=2s', ...args], {
        timeoutMs: 10_000,
        env: { ...process.env, ETCDCTL_API: '3' },
      });
    const tls = [`--cacert=${pki}/ca.crt`, `--cert=${pki}/client.crt`, `--key=${pki}/client.key`];

    it('forms one healthy cluster from the initial-cluster list', async () => {
      let health = etcdctl([...tls, 'endpoint', 'health']);
      for (let i = 0; i < 60 && health.status !== 0; i++) {
        await sleep(250);
        health = etcdctl([...tls, 'endpoint', 'health']);
      }
      expect(health.status, health.stderr).toBe(0);
      const list = etcdctl([...tls, 'member', 'list']);
      expect(list.status).toBe(0);
      for (const m of MEMBERS) expect(list.stdout).toContain(`${m.name}, https://${m.ip}:2380, https://${m.ip}:2379`);
    });

    it('refuses a client without a certificate', () => {
      const r = etcdctl([`--cacert=${pki}/ca.crt`, 'endpoint', 'health']);
      expect(r.status).not.toBe(0);
    });
  },
);
