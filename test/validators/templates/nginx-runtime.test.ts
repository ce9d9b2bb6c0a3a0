/**
 * The rendered nginx stream config and check script, run for real in a network namespace: the
 * check passes while nginx listens (no API server behind it), a connection from a non-loopback
 * address is in the access log while keepalived-style loopback checks are not, and the check
 * fails once nginx is stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as t from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { makeTempDir, must, Namespaces, run, sleep, writeFile } from './helpers.ts';

const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const ADDRESS = '10.79.0.1';

describe.skipIf(skipUnless('validators/templates nginx runtime', { root: true, commands: ['nginx', 'ip', 'bash', STREAM_MODULE] }))(
  'nginx stream + check script in a namespace',
  () => {
    const ns = new Namespaces('nr');
    const dir = makeTempDir('nginx-run');
    let netns = '';
    let nginx: ChildProcess | undefined;
    let check = '';
    const accessLog = `${dir}/access.log`;

    const runCheck = () => run('ip', ['netns', 'exec', netns, 'sh', check]);

    beforeAll(async () => {
      netns = ns.add('lb');
      ns.addStandaloneLink(netns, 'eth0');
      must('ip', ['-n', netns, 'addr', 'add', `${ADDRESS}/24`, 'dev', 'eth0']);
      must('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
      check = writeFile(dir, 'check.sh', t.renderKeepalivedCheckScript({ loadBalancer: 'nginx', port: 6443 }), 0o755);
      const conf = writeFile(
        dir,
        'nginx.conf',
        t.renderNginxStreamConfig({
          bindPort: 6443,
          backends: [{ name: 'cp1', address: '10.79.0.50', port: 6443 }],
          loadModule: STREAM_MODULE,
          pidFile: `${dir}/nginx.pid`,
          errorLog: 'stderr',
          accessLog,
          user: null,
        }),
      );
      nginx = spawn('ip', ['netns', 'exec', netns, 'nginx', '-e', 'stderr', '-g', 'daemon off;', '-c', conf], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      nginx.stderr?.resume();
      for (let i = 0; i < 100 && runCheck().status !== 0; i++) await sleep(50);
    });

    afterAll(async () => {
      if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
        const exited = new Promise((r) => nginx!.once('exit', r));
        nginx.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (nginx.exitCode === null && nginx.signalCode === null) nginx.kill('SIGKILL');
      }
      ns.deleteAll();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the check passes while nginx listens, though no API server is behind it', () => {
      const r = runCheck();
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });

    it('logs a connection from another address, not the loopback checks', async () => {
      const r = run('ip', ['netns', 'exec', netns, 'bash', '-c', `exec 3<>/dev/tcp/${ADDRESS}/6443; echo hello >&3; sleep 0.2`]);
      expect(r.status, r.stderr).toBe(0);
      let log = '';
      for (let i = 0; i < 100 && !log.includes(`${ADDRESS}:`); i++) {
        await sleep(50);
        log = run('cat', [accessLog]).stdout;
      }
      expect(log).toContain(`${ADDRESS}:`);
      expect(log).toContain('upstream=10.79.0.50:6443');
      expect(readFileSync(accessLog, 'utf8')).not.toContain('127.0.0.1:');
    });

    it('the check fails once nginx is stopped', async () => {
      const exited = new Promise((r) => nginx!.once('exit', r));
      nginx!.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      const r = runCheck();
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/kubeseed-check-lb: (no nginx process|nginx does not accept connections on 127\.0\.0\.1:6443)/);
    });
  },
);
