/**
 * haproxy.cfg for a load-balancer host: a TCP (pass-through) frontend on the endpoint port that
 * forwards to every control plane's API server, with a health check of each backend (`/readyz`
 * over TLS without verification, or a plain TCP connect). The process settings follow what
 * Debian's and Ubuntu's haproxy package sets up: its `haproxy` user and group, the empty
 * `/var/lib/haproxy` as chroot (the package's unit bind-mounts /dev/log into it), and the runtime
 * API socket in `/run/haproxy` (created setgid haproxy by the package's tmpfiles.d entry, so the
 * socket belongs to group haproxy). Pure; passes `haproxy -c -dW -f` (HAProxy 2.6) for every
 * option combination, and a real HAProxy runs with it (test/validators/templates).
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
  /**
   * Runtime API socket (`stats socket PATH mode 660 level admin`), default
   * `/run/haproxy/admin.sock`; `null` leaves it out. Its directory must exist when HAProxy starts.
   */
  statsSocket?: string | null;
  /** User and group HAProxy drops to after binding (default Debian's `haproxy`/`haproxy`); `null` keeps root. */
  runAs?: { user: string; group: string } | null;
  /** Directory HAProxy chroots into after start (default `/var/lib/haproxy`, empty and root-owned); `null`: none. */
  chroot?: string | null;
  /** Global `maxconn`: concurrent connections before HAProxy stops accepting (default 8000). */
  maxConnections?: number;
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
  const runAs = p.runAs === undefined ? { user: 'haproxy', group: 'haproxy' } : p.runAs;
  const chroot = p.chroot === undefined ? '/var/lib/haproxy' : p.chroot;
  const socket = p.statsSocket === undefined ? '/run/haproxy/admin.sock' : p.statsSocket;
  const maxconn = assertIntRange(p.maxConnections ?? 8000, 1, 1_000_000, 'haproxy maxConnections');
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
    ...(runAs
      ? [
          '    # Root only to bind; then the unprivileged user of the distribution package.',
          `    user ${assertName(runAs.user, 'haproxy runAs.user')}`,
          `    group ${assertName(runAs.group, 'haproxy runAs.group')}`,
        ]
      : []),
    ...(chroot ? [`    chroot ${assertPath(chroot, 'haproxy chroot')}`] : []),
    // Kubernetes clients keep few, long connections (watches): 8000 is far above a large cluster's need and
    // bounds the worst case on a small LB machine (about 33 kB per busy connection). HAProxy raises its file
    // limit to about two descriptors per connection (~16 k), within any hard limit from 20000 up (systemd: 524288).
    `    maxconn ${maxconn}`,
    ...(socket
      ? [
          '    # Runtime API. Drain a control plane: echo "disable server kube-apiserver/NAME" | socat stdio SOCKET',
          '    # 660: root and group haproxy (the socket directory is setgid haproxy on Debian/Ubuntu).',
          `    stats socket ${assertPath(socket, 'haproxy statsSocket')} mode 660 level admin`,
        ]
      : []),
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
