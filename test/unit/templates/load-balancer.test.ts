import { describe, expect, it } from 'vitest';
import {
  renderHaproxyConfig,
  renderKeepalivedCheckScript,
  renderKeepalivedConfig,
  renderNginxStreamConfig,
  TemplateInputError,
} from '../../../templates/index.ts';
import { BACKENDS, HAPROXY_VARIANTS, KEEPALIVED_VARIANTS, NGINX_VARIANTS } from './fixtures.ts';

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim());
}

describe('renderHaproxyConfig', () => {
  const readyz = renderHaproxyConfig(HAPROXY_VARIANTS['readyz, syslog']!);

  it('forwards the endpoint port in TCP mode to every control plane with a /readyz TLS check', () => {
    const l = lines(readyz);
    expect(l).toContain('bind :6443');
    expect(l).toContain('mode tcp');
    expect(l).toContain('option tcplog');
    expect(l).toContain('tcp-request content set-log-level silent if { src 127.0.0.0/8 ::1 }');
    expect(l).not.toContain('option dontlognull');
    expect(l).toContain('option httpchk GET /readyz');
    expect(l).toContain('http-check expect status 200');
    expect(l).toContain('default-server init-addr last,libc,none inter 2s fall 3 rise 2');
    for (const b of BACKENDS) expect(l).toContain(`server ${b.name} ${b.address}:6443 check check-ssl verify none`);
    expect(l).toContain('log /dev/log local0');
    expect(l.filter((x) => x.startsWith('timeout '))).toEqual([
      'timeout connect 5s',
      'timeout client 1h',
      'timeout server 1h',
      'timeout check 5s',
    ]);
  });

  it("runs as Debian's haproxy user in its chroot, bounded, with the runtime API socket operators drain backends through", () => {
    const l = lines(readyz);
    const global = l.slice(l.indexOf('global'), l.indexOf('defaults'));
    for (const want of [
      'user haproxy',
      'group haproxy',
      'chroot /var/lib/haproxy',
      'maxconn 8000',
      'stats socket /run/haproxy/admin.sock mode 660 level admin',
    ]) {
      expect(global).toContain(want);
    }
  });

  it('takes another user, chroot, connection limit and socket, and leaves each out on request', () => {
    const custom = lines(
      renderHaproxyConfig({
        bindPort: 6443,
        backends: BACKENDS,
        runAs: { user: 'lb', group: 'lbgroup' },
        chroot: '/srv/empty',
        maxConnections: 500,
        statsSocket: '/tmp/x/admin.sock',
      }),
    );
    for (const want of [
      'user lb',
      'group lbgroup',
      'chroot /srv/empty',
      'maxconn 500',
      'stats socket /tmp/x/admin.sock mode 660 level admin',
    ]) {
      expect(custom).toContain(want);
    }
    const bare = renderHaproxyConfig({ bindPort: 6443, backends: BACKENDS, runAs: null, chroot: null, statsSocket: null });
    expect(bare).not.toMatch(/^\s*(user|group|chroot|stats socket) /m);
    expect(lines(bare)).toContain('maxconn 8000');
  });

  it.each([
    ['tcp check', (l: string[]) => expect(l).toContain('server k8s1master1 10.101.1.101:6443 check')],
    ['tcp check', (l: string[]) => expect(l.some((x) => x.includes('httpchk') || x.includes('check-ssl'))).toBe(false)],
    ['stdout log (e2e foreground)', (l: string[]) => expect(l).toContain('log stdout format raw daemon')],
    ['stdout log (e2e foreground)', (l: string[]) => expect(l).toContain('bind :8443')],
    [
      'stats socket, bind address, tuned checks',
      (l: string[]) => expect(l).toContain('stats socket /run/haproxy/admin.sock mode 660 level admin'),
    ],
    ['stats socket, bind address, tuned checks', (l: string[]) => expect(l).toContain('bind 10.101.1.10:6443')],
    [
      'stats socket, bind address, tuned checks',
      (l: string[]) => expect(l).toContain('default-server init-addr last,libc,none inter 5s fall 2 rise 1'),
    ],
    ['stats socket, bind address, tuned checks', (l: string[]) => expect(l).toContain('timeout client 30m')],
  ] as const)('%s', (variant, check) => {
    check(lines(renderHaproxyConfig(HAPROXY_VARIANTS[variant]!)));
  });

  it.each([
    ['no backends', { bindPort: 6443, backends: [] }],
    ['a backend named by DNS', { bindPort: 6443, backends: [{ name: 'cp1', address: 'cp1.lan', port: 6443 }] }],
    ['port 0', { bindPort: 0, backends: BACKENDS }],
    ['a duplicate name', { bindPort: 6443, backends: [BACKENDS[0]!, BACKENDS[0]!] }],
    ['a server name with a space', { bindPort: 6443, backends: [{ name: 'cp 1', address: '10.0.0.1', port: 6443 }] }],
    ['a log target with a newline', { bindPort: 6443, backends: BACKENDS, log: '/dev/log local0\nbogus' }],
    ['a bad timeout', { bindPort: 6443, backends: BACKENDS, idleTimeout: '1 hour' }],
    ['maxconn 0', { bindPort: 6443, backends: BACKENDS, maxConnections: 0 }],
    ['a relative chroot', { bindPort: 6443, backends: BACKENDS, chroot: 'var/lib/haproxy' }],
    ['a user with a space', { bindPort: 6443, backends: BACKENDS, runAs: { user: 'ha proxy', group: 'haproxy' } }],
  ] as const)('refuses %s', (_name, params) => {
    expect(() => renderHaproxyConfig(params)).toThrow(TemplateInputError);
  });
});

describe('renderNginxStreamConfig', () => {
  it('loads the stream module, listens on the endpoint port and checks upstreams passively', () => {
    const l = lines(renderNginxStreamConfig(NGINX_VARIANTS['debian defaults']!));
    expect(l[2]).toBe('load_module /usr/lib/nginx/modules/ngx_stream_module.so;');
    expect(l).toContain('user www-data;');
    // Debian's nginx.service sets no LimitNOFILE: without this the workers keep the soft limit of 1024 descriptors.
    expect(l).toContain('worker_rlimit_nofile 8192;');
    expect(l).toContain('worker_connections 4096;');
    expect(l).toContain('pid /run/nginx.pid;');
    expect(l).toContain('error_log /var/log/nginx/error.log notice;');
    expect(l).toContain('listen 6443;');
    expect(l).toContain('proxy_pass kube_apiserver;');
    expect(l).toContain('proxy_connect_timeout 5s;');
    expect(l).toContain('proxy_timeout 1h;');
    for (const b of BACKENDS) expect(l).toContain(`server ${b.address}:6443 max_fails=3 fail_timeout=10s;  # ${b.name}`);
    expect(l.some((x) => x.startsWith('access_log'))).toBe(false);
  });

  it('renders the optional parts', () => {
    const l = lines(renderNginxStreamConfig(NGINX_VARIANTS['access log, no user, tuned']!));
    expect(l).toContain('listen 10.101.1.10:9443;');
    expect(l).toContain('access_log /var/log/nginx/kube-apiserver.log kubeseed if=$kubeseed_loggable;');
    expect(l).toContain('127.0.0.1 0;');
    expect(l.some((x) => x.startsWith('user '))).toBe(false);
    expect(l).toContain('server 10.101.1.101:6443 max_fails=1 fail_timeout=30s;  # k8s1master1');
    expect(l).toContain('proxy_timeout 10m;');
  });

  it('omits load_module when the module is built in, and takes stderr / pid paths', () => {
    const text = renderNginxStreamConfig({ bindPort: 6443, backends: BACKENDS, errorLog: 'stderr', pidFile: '/tmp/x/nginx.pid' });
    expect(text).not.toContain('load_module');
    expect(lines(text)).toContain('error_log stderr notice;');
    expect(lines(text)).toContain('pid /tmp/x/nginx.pid;');
  });

  it('refuses a relative error log path', () => {
    expect(() => renderNginxStreamConfig({ bindPort: 6443, backends: BACKENDS, errorLog: 'error.log' })).toThrow(TemplateInputError);
  });
});

describe('renderKeepalivedConfig', () => {
  it('renders unicast VRRP with PASS auth, the VIP and the tracked local check', () => {
    const l = lines(renderKeepalivedConfig(KEEPALIVED_VARIANTS['first, FAULT on failure, never preempts']!));
    for (const want of [
      'state BACKUP',
      'interface eth0',
      'virtual_router_id 51',
      'priority 150',
      'advert_int 1',
      'unicast_src_ip 10.101.1.11',
      '10.101.1.12',
      'auth_type PASS',
      'auth_pass k8s1pass',
      '10.101.1.10/24 dev eth0',
      'script "/etc/keepalived/kubeseed-check-lb.sh"',
      'interval 1',
      'timeout 2',
      'fall 2',
      'rise 2',
      'kubeseed_check_lb',
      'enable_script_security',
      'script_user root',
    ]) {
      expect(l).toContain(want);
    }
    expect(l.some((x) => x.startsWith('weight'))).toBe(false);
    expect(l.some((x) => x.startsWith('router_id'))).toBe(false);
  });

  it('never preempts by default: every host starts BACKUP and a recovered host leaves the VIP where it is', () => {
    const l = lines(renderKeepalivedConfig(KEEPALIVED_VARIANTS['first, FAULT on failure, never preempts']!));
    expect(l).toContain('nopreempt');
    expect(l).toContain('state BACKUP');
    expect(l.some((x) => x.startsWith('preempt_delay'))).toBe(false);
  });

  it('preempts after a delay, or at once, when asked', () => {
    const base = KEEPALIVED_VARIANTS['first, FAULT on failure, never preempts']!;
    const delayed = lines(renderKeepalivedConfig({ ...base, preempt: { delaySeconds: 300 } }));
    expect(delayed).toContain('preempt_delay 300');
    expect(delayed).toContain('state BACKUP');
    expect(delayed).not.toContain('nopreempt');
    const atOnce = lines(renderKeepalivedConfig({ ...base, state: 'MASTER', preempt: 'immediately' }));
    expect(atOnce).toContain('state MASTER');
    expect(atOnce.some((x) => x.includes('preempt'))).toBe(false);
  });

  it('renders BACKUP, weight, several peers and the script path', () => {
    const l = lines(renderKeepalivedConfig(KEEPALIVED_VARIANTS['weight, preempt delay, two peers, router id']!));
    for (const want of [
      'state BACKUP',
      'interface ens18',
      'priority 100',
      'weight -60',
      'preempt_delay 30',
      'advert_int 2',
      'router_id k8s1lb2',
      '10.101.1.11',
      '10.101.1.13',
      'auth_pass x',
      'script "/usr/local/libexec/kubeseed/check-lb.sh"',
    ]) {
      expect(l).toContain(want);
    }
  });

  const base = KEEPALIVED_VARIANTS['first, FAULT on failure, never preempts']!;
  it.each([
    ['a 9-character password', { ...base, authPass: '123456789' }],
    ['a password with a quote', { ...base, authPass: 'ab"c' }],
    ['no peers', { ...base, unicastPeers: [] }],
    ['itself as a peer', { ...base, unicastPeers: ['10.101.1.11'] }],
    ['priority 255', { ...base, priority: 255 }],
    ['router id 0', { ...base, virtualRouterId: 0 }],
    ['a bad state', { ...base, state: 'LEADER' as 'MASTER' }],
    ['a relative script path', { ...base, checkScriptPath: 'check.sh' }],
    ['a 16-character interface', { ...base, interface: 'enp0s31f6abcdefg' }],
    // keepalived.conf(5): nopreempt and preempt_delay work only when the initial state is not MASTER.
    ['MASTER without preemption', { ...base, state: 'MASTER' as const }],
    ['MASTER with a preemption delay', { ...base, state: 'MASTER' as const, preempt: { delaySeconds: 60 } }],
    // A weight only lowers the priority; without preemption no BACKUP would take the VIP.
    ['a weight without preemption', { ...base, checkWeight: -60 }],
    ['a preemption delay above 1000 s', { ...base, preempt: { delaySeconds: 1001 } }],
  ])('refuses %s', (_name, params) => {
    expect(() => renderKeepalivedConfig(params)).toThrow(TemplateInputError);
  });
});

describe('renderKeepalivedCheckScript', () => {
  it('checks the local process and port, never the API server', () => {
    const text = renderKeepalivedCheckScript({ loadBalancer: 'haproxy', port: 6443 });
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toContain('LB=haproxy');
    expect(text).toContain('ADDRESS=127.0.0.1');
    expect(text).toContain('PORT=6443');
    expect(text).toContain('/proc/[0-9]*/comm');
    // dash applies redirections left to right: a `2>/dev/null` after `< "$comm"` comes too late
    // for the open of a process that has just exited ("cannot open /proc/N/comm").
    expect(text).toContain('{ read -r name < "$comm"; } 2>/dev/null || continue');
    expect(text).toContain('/dev/tcp/');
    expect(text).not.toMatch(/readyz|healthz|curl|kubectl/);
  });

  it('takes nginx and an address', () => {
    const text = renderKeepalivedCheckScript({ loadBalancer: 'nginx', port: 8443, address: '10.101.1.10' });
    expect(text).toContain('LB=nginx');
    expect(text).toContain('ADDRESS=10.101.1.10');
    expect(text).toContain('PORT=8443');
  });
});
