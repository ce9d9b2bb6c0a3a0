/**
 * Every load-balancer and keepalived variant passes the real validators: `haproxy -c -dW -f`
 * (warnings fail), `nginx -t` with the stream module, and `keepalived -t` inside a fresh network
 * namespace holding the configured interface with the rendered check script at the configured
 * path. Also parses containerd's TOML files with Python's tomllib and lints the scripts with
 * shellcheck. Each validator is shown to reject a broken file, so none of these can pass vacuously.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as t from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import {
  HAPROXY_VARIANTS,
  INSTALL_AGENT_VARIANTS,
  KEEPALIVED_VARIANTS,
  NGINX_VARIANTS,
  PREPARE_VARIANTS,
} from '../../unit/templates/fixtures.ts';
import { makeTempDir, Namespaces, run, writeFile } from './helpers.ts';

const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const dirs: string[] = [];
function tempDir(label: string): string {
  const d = makeTempDir(label);
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(skipUnless('validators/templates haproxy', { commands: ['haproxy'] }))('haproxy -c -dW', () => {
  const dir = tempDir('haproxy');
  function check(name: string, text: string) {
    return run('haproxy', ['-c', '-dW', '-f', writeFile(dir, `${name}.cfg`, text)]);
  }

  it.each(Object.entries(HAPROXY_VARIANTS))('%s', (name, params) => {
    const r = check(name.replace(/\W+/g, '-'), t.renderHaproxyConfig(params));
    expect(r.stderr + r.stdout).not.toMatch(/WARNING|ALERT/);
    expect(r.status, r.stderr).toBe(0);
  });

  it('rejects a config with a warning (no timeouts), so -dW is in force', () => {
    const text = t.renderHaproxyConfig(HAPROXY_VARIANTS['readyz, syslog']!).replace(/^ {4}timeout (client|server) .*\n/gm, '');
    expect(check('no-timeouts', text).status).not.toBe(0);
  });
});

describe.skipIf(skipUnless('validators/templates nginx', { root: true, commands: ['nginx', 'ip', STREAM_MODULE] }))(
  'nginx -t (stream module)',
  () => {
    const dir = tempDir('nginx');
    const ns = new Namespaces('nx');
    afterAll(() => ns.deleteAll());
    // nginx -t binds the listen sockets: run it in a namespace of its own that holds the bind address.
    function check(name: string, params: t.NginxStreamConfigParams) {
      const netns = ns.add(name);
      if (params.bindAddress) {
        ns.addStandaloneLink(netns, 'eth0');
        run('ip', ['-n', netns, 'addr', 'add', `${params.bindAddress}/24`, 'dev', 'eth0']);
      }
      // Host paths replaced by temp paths: nginx -t opens the log files it is given.
      const text = t.renderNginxStreamConfig({
        ...params,
        pidFile: `${dir}/${name}.pid`,
        errorLog: 'stderr',
        ...(params.accessLog ? { accessLog: `${dir}/${name}-access.log` } : {}),
      });
      return run('ip', ['netns', 'exec', netns, 'nginx', '-q', '-t', '-e', 'stderr', '-c', writeFile(dir, `${name}.conf`, text)]);
    }

    it.each(Object.entries(NGINX_VARIANTS))('%s', (name, params) => {
      const r = check(name.replace(/\W+/g, '-'), params);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });

    it('rejects the config without load_module (the stream module is dynamic here)', () => {
      const { loadModule: _, ...rest } = NGINX_VARIANTS['debian defaults']!;
      const r = check('no-module', rest);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('unknown directive "stream"');
    });
  },
);

describe.skipIf(skipUnless('validators/templates keepalived', { root: true, commands: ['keepalived', 'ip'] }))(
  'keepalived -t in a network namespace',
  () => {
    const dir = tempDir('keepalived');
    const ns = new Namespaces('kt');
    afterAll(() => ns.deleteAll());
    const script = writeFile(dir, 'check-lb.sh', t.renderKeepalivedCheckScript({ loadBalancer: 'haproxy', port: 6443 }), 0o755);

    function check(name: string, params: t.KeepalivedConfigParams, withInterface = true) {
      const netns = ns.add(name);
      if (withInterface) ns.addStandaloneLink(netns, params.interface);
      const conf = writeFile(dir, `${name}.conf`, t.renderKeepalivedConfig({ ...params, checkScriptPath: script }));
      return run('ip', ['netns', 'exec', netns, 'keepalived', '-t', '-f', conf]);
    }

    it.each(Object.entries(KEEPALIVED_VARIANTS).map(([k, v], i) => [k, v, i] as const))('%s', (_name, params, i) => {
      const r = check(`v${i}`, params);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });

    it('rejects the config when the interface is missing, so the namespace matters', () => {
      const r = check('noif', KEEPALIVED_VARIANTS['first, FAULT on failure, never preempts']!, false);
      expect(r.status).not.toBe(0);
    });
  },
);

describe.skipIf(skipUnless('validators/templates shellcheck', { commands: ['shellcheck'] }))('shellcheck', () => {
  const dir = tempDir('shellcheck');
  const scripts: [string, string, string][] = [
    ...Object.entries(PREPARE_VARIANTS).map(
      ([k, v]) => [`prepare: ${k}`, t.renderPrepareHostScript(v), 'bash'] as [string, string, string],
    ),
    ...Object.entries(INSTALL_AGENT_VARIANTS).map(
      ([k, v]) => [`install agent: ${k}`, t.renderInstallAgentScript(v), 'bash'] as [string, string, string],
    ),
    ['check script: haproxy', t.renderKeepalivedCheckScript({ loadBalancer: 'haproxy', port: 6443 }), 'sh'],
    ['check script: nginx', t.renderKeepalivedCheckScript({ loadBalancer: 'nginx', port: 6443 }), 'sh'],
  ];

  it.each(scripts.map(([name, text, shell], i) => [name, text, shell, i] as const))('%s has no findings', (_name, text, shell, i) => {
    const r = run('shellcheck', ['--shell', shell, '--severity', 'style', writeFile(dir, `s${i}.sh`, text)]);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('reports a finding in a flawed script', () => {
    const r = run('shellcheck', [writeFile(dir, 'bad.sh', '#!/bin/bash\nrm -rf $1/*\n')]);
    expect(r.status).not.toBe(0);
  });
});

describe.skipIf(skipUnless('validators/templates toml', { commands: ['python3'] }))("containerd TOML (Python's tomllib)", () => {
  function parseToml(text: string): unknown {
    const r = run('python3', ['-c', 'import json, sys, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))'], { input: text });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout);
  }

  it('config.toml parses to the CRI plugin settings', () => {
    const doc = parseToml(t.renderContainerdConfig({ sandboxImage: 'registry.k8s.io/pause:3.10.1' }));
    expect(doc).toEqual({
      version: 3,
      plugins: {
        'io.containerd.cri.v1.images': {
          pinned_images: { sandbox: 'registry.k8s.io/pause:3.10.1' },
          registry: { config_path: '/etc/containerd/certs.d' },
        },
        'io.containerd.cri.v1.runtime': {
          containerd: { runtimes: { runc: { runtime_type: 'io.containerd.runc.v2', options: { SystemdCgroup: true } } } },
        },
      },
    });
  });

  it('hosts.toml parses to server + hosts', () => {
    const doc = parseToml(t.renderContainerdHostsToml('docker.io', ['https://mirror.lan', 'mirror2.lan:5000']));
    expect(doc).toEqual({
      server: 'https://registry-1.docker.io',
      host: {
        'https://mirror.lan': { capabilities: ['pull', 'resolve'] },
        'https://mirror2.lan:5000': { capabilities: ['pull', 'resolve'] },
      },
    });
  });

  it('the parser rejects broken TOML', () => {
    expect(() => parseToml('version = 3\n[plugins\n')).toThrow();
  });
});

describe.skipIf(skipUnless('validators/templates systemd units', { commands: ['systemd-analyze'] }))('systemd-analyze verify', () => {
  const dir = tempDir('units');
  // ExecStart must name an existing executable for verify: the real paths are swapped for /usr/bin/true.
  const units: [string, string][] = [
    ['kubeseed-agent.service', t.renderAgentUnit({ agentPath: '/usr/bin/true', configPath: '/etc/kubeseed/agent.json' })],
    [
      'etcd.service',
      t.renderEtcdUnit({
        name: 'etcd1',
        ip: '10.101.1.21',
        members: [
          { name: 'etcd1', ip: '10.101.1.21' },
          { name: 'etcd2', ip: '10.101.1.22' },
        ],
        initialClusterToken: 'k8s1',
        etcdPath: '/usr/bin/true',
      }),
    ],
    ['containerd.service', t.renderContainerdUnit({ binaryPath: '/usr/bin/true' })],
    [
      'kubeseed-agent-ignition.service',
      t.renderAgentUnit({ agentPath: '/usr/bin/true', configPath: '/etc/kubeseed/agent.json', preparedBy: 'ignition' }),
    ],
    [t.CONTAINERD_SELECT_UNIT, t.renderContainerdSelectUnit({ scriptPath: '/usr/bin/true' })],
  ];
  const version = Number(/systemd (\d+)/.exec(run('systemd-analyze', ['--version']).stdout)?.[1] ?? 0);

  it.each(units)('%s', (name, text) => {
    const r = run('systemd-analyze', ['verify', '--man=no', writeFile(dir, name, text)]);
    expect(r.status, r.stderr).toBe(0);
    // Before systemd 254 the restart backoff keys are unknown (and ignored): the unit says so in a comment.
    const findings = r.stderr.split('\n').filter((l) => l && !(version < 254 && /Unknown key '(RestartSteps|RestartMaxDelaySec)'/.test(l)));
    expect(findings).toEqual([]);
  });

  it('reports a unit with a bad key and a missing executable', () => {
    const r = run('systemd-analyze', [
      'verify',
      '--man=no',
      writeFile(dir, 'bad.service', '[Service]\nExecStart=/nonexistent/x\nRestartt=always\n'),
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Unknown key 'Restartt'");
  });
});
