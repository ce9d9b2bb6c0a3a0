/**
 * nginx.conf for a load-balancer host using the stream (TCP) module: an upstream of every control
 * plane's API server, `listen <endpoint port>`, proxy timeouts and passive health (max_fails /
 * fail_timeout; open-source nginx has no active checks). The file replaces `/etc/nginx/nginx.conf`
 * whole, so it loads the stream module itself when the distro builds it as a dynamic module
 * (Debian/Ubuntu `libnginx-mod-stream`). Pure; passes `nginx -t` (test/validators/templates).
 */
import type { LoadBalancerBackend } from './haproxy.ts';
import { assertIntRange, assertIp, assertName, assertPath, assertPort, hostPort, joinLines, TemplateInputError } from './text.ts';

export interface NginxStreamConfigParams {
  bindPort: number;
  /** Optional address to bind (default: every address). It must be local when nginx starts: not the VIP, which a BACKUP does not hold. */
  bindAddress?: string;
  backends: readonly LoadBalancerBackend[];
  /** `load_module` path, e.g. `/usr/lib/nginx/modules/ngx_stream_module.so`; omit when stream is built in. */
  loadModule?: string;
  /** Default `/run/nginx.pid` (what Debian's nginx.service expects). */
  pidFile?: string;
  /** `error_log` target: a path, or `stderr` (default `/var/log/nginx/error.log`). */
  errorLog?: string;
  /**
   * Per-connection log path (client, upstream, bytes, duration), or omitted for none (default).
   * Connections from loopback (keepalived's check, every second) are never logged.
   */
  accessLog?: string;
  /** `user` directive (default `www-data`, Debian's and Ubuntu's nginx user). Omit with `null` (nginx then keeps `nobody`). */
  user?: string | null;
  /** Passive health: failures within `failTimeout` seconds that mark a server down for `failTimeout` seconds (default 3 / 10). */
  maxFails?: number;
  failTimeout?: number;
  /** Idle timeout between two reads or writes (default `1h`: watches and exec streams are long and quiet). */
  idleTimeout?: string;
}

/** Per worker; with `worker_processes auto` one worker per CPU. */
const WORKER_CONNECTIONS = 4096;

export function renderNginxStreamConfig(p: NginxStreamConfigParams): string {
  const port = assertPort(p.bindPort, 'nginx bindPort');
  const listen = p.bindAddress === undefined ? `${port}` : hostPort(assertIp(p.bindAddress, 'nginx bindAddress'), port);
  if (p.backends.length === 0) throw new TemplateInputError('nginx: at least one backend (control plane) is required');
  const maxFails = assertIntRange(p.maxFails ?? 3, 0, 1000, 'nginx maxFails');
  const failTimeout = assertIntRange(p.failTimeout ?? 10, 1, 3600, 'nginx failTimeout');
  const idle = p.idleTimeout ?? '1h';
  if (!/^\d+(ms|s|m|h|d)?$/.test(idle)) throw new TemplateInputError(`nginx idleTimeout: '${idle}' is not an nginx time (e.g. 30s, 1h)`);
  const errorLog = p.errorLog ?? '/var/log/nginx/error.log';
  if (errorLog !== 'stderr') assertPath(errorLog, 'nginx errorLog');
  const user = p.user === undefined ? 'www-data' : p.user;
  const servers = p.backends.map((b) => {
    assertName(b.name, 'nginx backend name');
    const addr = hostPort(assertIp(b.address, `nginx backend ${b.name} address`), assertPort(b.port, `nginx backend ${b.name} port`));
    return `        server ${addr} max_fails=${maxFails} fail_timeout=${failTimeout}s;  # ${b.name}`;
  });

  return joinLines([
    '# kubeseed: nginx (stream module) in front of the Kubernetes API servers (TCP pass-through).',
    '# Rendered from the cluster spec; re-provisioning overwrites local changes.',
    ...(p.loadModule ? [`load_module ${assertPath(p.loadModule, 'nginx loadModule')};`] : []),
    ...(user === null ? [] : [`user ${assertName(user, 'nginx user')};`]),
    'worker_processes auto;',
    // Every proxied connection is two connections (client, upstream), each a descriptor. Debian's
    // nginx.service sets no LimitNOFILE, so without this the workers keep the soft limit of 1024.
    `worker_rlimit_nofile ${WORKER_CONNECTIONS * 2};`,
    `pid ${assertPath(p.pidFile ?? '/run/nginx.pid', 'nginx pidFile')};`,
    `error_log ${errorLog} notice;`,
    '',
    'events {',
    `    worker_connections ${WORKER_CONNECTIONS};`,
    '}',
    '',
    'stream {',
    ...(p.accessLog
      ? [
          "    log_format kubeseed '$remote_addr:$remote_port [$time_local] $status $bytes_sent $bytes_received $session_time upstream=$upstream_addr';",
          "    # keepalived's check connects from loopback every second: not logged.",
          '    map $remote_addr $kubeseed_loggable {',
          '        127.0.0.1 0;',
          '        ::1 0;',
          '        default 1;',
          '    }',
          `    access_log ${assertPath(p.accessLog, 'nginx accessLog')} kubeseed if=$kubeseed_loggable;`,
        ]
      : []),
    '    upstream kube_apiserver {',
    '        # Passive health: a server that refuses or times out max_fails times is skipped for fail_timeout.',
    ...servers,
    '    }',
    '',
    '    server {',
    `        listen ${listen};`,
    '        proxy_pass kube_apiserver;',
    '        proxy_connect_timeout 5s;',
    `        proxy_timeout ${idle};`,
    '        proxy_next_upstream on;',
    '        proxy_next_upstream_tries 3;',
    '    }',
    '}',
  ]);
}
