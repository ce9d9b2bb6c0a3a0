/**
 * haproxy.cfg for a load-balancer host: a TCP (pass-through) frontend on the endpoint port that
 * forwards to every control plane's API server, with a health check of each backend (`/readyz`
 * over TLS without verification, or a plain TCP connect). Pure; passes `haproxy -c -dW -f`
 * (HAProxy 2.6) for every option combination (test/validators/templates).
 */
import { assertIntRange, assertIp, assertName, assertPath, assertPort, hostPort, joinLines, TemplateInputError } from './text.ts';

export interface LoadBalancerBackend {
  /** Server name in the config and in HAProxy's logs (the host's name). */
  name: string;
  /** The control plane's own IP address (names are resolved at start and would make the config depend on DNS). */
  address: string;
  /** API server port on that host (kubeadm's default 6443). */
  port: number;
}

export interface HaproxyConfigParams {
  /** The endpoint port: the frontend listens on it on every address of the host. */
  bindPort: number;
  /** Optional address to bind (default: all IPv4 addresses). It must be local when HAProxy starts: not the VIP, which a BACKUP does not hold. */
  bindAddress?: string;
  backends: readonly LoadBalancerBackend[];
  /** `readyz`: TLS `GET /readyz` expecting 200 (default). `tcp`: a TCP connect only. */
  healthCheck?: 'readyz' | 'tcp';
  /**
   * The `log` target of the `global` section, everything after the keyword. Real hosts:
   * `/dev/log local0` (default, journald/rsyslog). A foreground run that must show its log on
   * stdout: `stdout format raw daemon`.
   */
  log?: string;
  /** Optional admin socket path (`stats socket PATH mode 600 level admin`); its directory must exist. */
  statsSocket?: string;
  /** Seconds between checks of a backend (default 2), failures before DOWN (3), successes before UP (2). */
  checkInterval?: number;
  checkFall?: number;
  checkRise?: number;
  /** Idle timeout of client and server sides of a connection (default `1h`: watches and `kubectl exec` streams are long and quiet). */
  idleTimeout?: string;
}

const TIMEOUT = /^\d+(ms|s|m|h|d)?$/;

export function renderHaproxyConfig(p: HaproxyConfigParams): string {
  const port = assertPort(p.bindPort, 'haproxy bindPort');
  const bind = p.bindAddress === undefined ? `:${port}` : hostPort(assertIp(p.bindAddress, 'haproxy bindAddress'), port);
  if (p.backends.length === 0) throw new TemplateInputError('haproxy: at least one backend (control plane) is required');
  const log = p.log ?? '/dev/log local0';
  if (!/^[A-Za-z0-9/@:._ -]+$/.test(log)) throw new TemplateInputError(`haproxy log: '${log}' holds characters HAProxy would misread`);
  const idle = p.idleTimeout ?? '1h';
  if (!TIMEOUT.test(idle)) throw new TemplateInputError(`haproxy idleTimeout: '${idle}' is not an HAProxy time (e.g. 30s, 1h)`);
  const inter = assertIntRange(p.checkInterval ?? 2, 1, 3600, 'haproxy checkInterval');
  const fall = assertIntRange(p.checkFall ?? 3, 1, 100, 'haproxy checkFall');
  const rise = assertIntRange(p.checkRise ?? 2, 1, 100, 'haproxy checkRise');
  const health = p.healthCheck ?? 'readyz';
  const seen = new Set<string>();
  const servers = p.backends.map((b) => {
    const name = assertName(b.name, 'haproxy backend name');
    if (seen.has(name)) throw new TemplateInputError(`haproxy: backend name '${name}' appears twice`);
    seen.add(name);
    const addr = hostPort(assertIp(b.address, `haproxy backend ${name} address`), assertPort(b.port, `haproxy backend ${name} port`));
    return health === 'readyz' ? `    server ${name} ${addr} check check-ssl verify none` : `    server ${name} ${addr} check`;
  });

  return joinLines([
    '# kubeseed: HAProxy in front of the Kubernetes API servers (TCP pass-through; TLS ends at the API servers).',
    '# Rendered from the cluster spec; re-provisioning overwrites local changes.',
    'global',
    `    log ${log}`,
    ...(p.statsSocket ? [`    stats socket ${assertPath(p.statsSocket, 'haproxy statsSocket')} mode 600 level admin`] : []),
    '',
    'defaults',
    '    mode tcp',
    '    log global',
    '    # One line per connection: client address, frontend, backend/server, timings, bytes.',
    '    option tcplog',
    '    timeout connect 5s',
    `    timeout client ${idle}`,
    `    timeout server ${idle}`,
    '    timeout check 5s',
    '    retries 3',
    '',
    'frontend kube-apiserver',
    `    bind ${bind}`,
    "    # keepalived's check connects from loopback every second: not logged. Every other connection is,",
    '    # failed ones too (no dontlognull: it would hide connections refused for want of a server).',
    '    tcp-request content set-log-level silent if { src 127.0.0.0/8 ::1 }',
    '    default_backend kube-apiserver',
    '',
    'backend kube-apiserver',
    '    balance roundrobin',
    ...(health === 'readyz'
      ? [
          '    # /readyz is served to anonymous clients (system:public-info-viewer); 200 only when the API server can serve.',
          '    option httpchk GET /readyz',
          '    http-check expect status 200',
        ]
      : ['    # TCP connect check only (healthCheck: tcp).']),
    '    # Start even when a server name does not resolve; never block on DNS.',
    `    default-server init-addr last,libc,none inter ${inter}s fall ${fall} rise ${rise}`,
    ...servers,
  ]);
}
