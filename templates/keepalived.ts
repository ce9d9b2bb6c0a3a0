/**
 * keepalived.conf (VRRP with unicast peers) that holds the API endpoint's VIP on one
 * load-balancer host, and the check script keepalived runs to decide whether this host may hold
 * it. The check looks ONLY at the local load balancer (process alive, local port accepting):
 * before `kubeadm init` no API server answers, so a check of the API would keep the VIP down
 * forever and init could never reach the endpoint. Pure; every variant passes `keepalived -t`
 * inside a test namespace (test/validators/templates).
 */
import {
  assertHeredocSafe,
  assertIntRange,
  assertIp,
  assertName,
  assertPath,
  assertPort,
  joinLines,
  shQuote,
  TemplateInputError,
} from './text.ts';

export interface KeepalivedConfigParams {
  /** NIC that carries the VIP (network-config keeps its name stable with `set-name`). */
  interface: string;
  /** The VIP and its prefix length (the subnet of the LB hosts). */
  vip: string;
  vipPrefix: number;
  virtualRouterId: number;
  /** 1–254; the host that should hold the VIP first gets the highest. */
  priority: number;
  /** Initial state. Must be BACKUP unless `preempt` is `immediately` (keepalived.conf(5): nopreempt and preempt_delay need it). */
  state: 'MASTER' | 'BACKUP';
  /**
   * What a higher-priority host does when it comes back (reboot, repaired load balancer) while
   * another holds the VIP. Every move of the VIP breaks every connection through the load
   * balancer (watches, `kubectl exec`, kubelets), and a move back is a second break for nothing.
   * `never` (default, `nopreempt`): the VIP stays where it is until its holder fails; at a
   * simultaneous start the highest priority still wins (its master-down timer is the shortest).
   * `{delaySeconds}` (`preempt_delay`, 1–1000): the higher-priority host takes it back that long
   * after it has seen the lower-priority MASTER. `immediately`: keepalived's default.
   */
  preempt?: 'never' | 'immediately' | { delaySeconds: number };
  /** This host's own address (VRRP adverts go from it, unicast). */
  unicastSrcIp: string;
  /** The other LB hosts' addresses. */
  unicastPeers: readonly string[];
  /** VRRP PASS authentication, 1–8 printable characters (sent in clear: it prevents accidents between clusters, not attacks). */
  authPass: string;
  /** Where the check script lives (default `/etc/keepalived/kubeseed-check-lb.sh`); it must exist for keepalived to start. */
  checkScriptPath?: string;
  /** Seconds between checks (default 1), its timeout (2), failures before giving up the VIP (2), successes before taking it back (2). */
  checkInterval?: number;
  checkTimeout?: number;
  checkFall?: number;
  checkRise?: number;
  /**
   * Priority change while the check fails. 0 (default): a failing check moves the instance to
   * FAULT, which gives up the VIP at once (keepalived sends a priority-0 advert) and never
   * depends on the spread of priorities. Non-zero: the priority is lowered by |weight| instead;
   * it then must exceed the gap to every BACKUP's priority, and the takeover waits for the
   * BACKUP's master-down timer (≈ 3 advert intervals).
   */
  checkWeight?: number;
  /** VRRP advert interval in seconds (default 1). */
  advertInterval?: number;
  /** `router_id` in global_defs, e.g. the host's name (omitted when not given: keepalived then uses the hostname). */
  routerId?: string;
}

const CHECK_SCRIPT_NAME = 'kubeseed_check_lb';

export function renderKeepalivedConfig(p: KeepalivedConfigParams): string {
  const iface = assertName(p.interface, 'keepalived interface');
  if (iface.length > 15) throw new TemplateInputError(`keepalived interface: '${iface}' is longer than 15 characters`);
  const vip = assertIp(p.vip, 'keepalived vip');
  const prefix = assertIntRange(p.vipPrefix, 1, vip.includes(':') ? 128 : 32, 'keepalived vipPrefix');
  const vrid = assertIntRange(p.virtualRouterId, 1, 255, 'keepalived virtualRouterId');
  const priority = assertIntRange(p.priority, 1, 254, 'keepalived priority');
  if (p.state !== 'MASTER' && p.state !== 'BACKUP')
    throw new TemplateInputError(`keepalived state: '${String(p.state)}' is not MASTER or BACKUP`);
  const src = assertIp(p.unicastSrcIp, 'keepalived unicastSrcIp');
  if (p.unicastPeers.length === 0)
    throw new TemplateInputError('keepalived: at least one unicast peer is required (a single LB host needs no keepalived)');
  const peers = p.unicastPeers.map((peer) => assertIp(peer, 'keepalived unicastPeer'));
  if (peers.includes(src)) throw new TemplateInputError(`keepalived: unicastPeers holds this host's own address ${src}`);
  if (!/^[\x21-\x7e]{1,8}$/.test(p.authPass) || /["'\\#!]/.test(p.authPass)) {
    throw new TemplateInputError('keepalived authPass: 1–8 printable characters without quotes, backslash, # or !');
  }
  const script = assertPath(p.checkScriptPath ?? '/etc/keepalived/kubeseed-check-lb.sh', 'keepalived checkScriptPath');
  const interval = assertIntRange(p.checkInterval ?? 1, 1, 3600, 'keepalived checkInterval');
  const timeout = assertIntRange(p.checkTimeout ?? 2, 1, 3600, 'keepalived checkTimeout');
  const fall = assertIntRange(p.checkFall ?? 2, 1, 100, 'keepalived checkFall');
  const rise = assertIntRange(p.checkRise ?? 2, 1, 100, 'keepalived checkRise');
  const weight = assertIntRange(p.checkWeight ?? 0, -253, 253, 'keepalived checkWeight');
  const advert = assertIntRange(p.advertInterval ?? 1, 1, 255, 'keepalived advertInterval');
  const preempt = p.preempt ?? 'never';
  const preemptLines: string[] = [];
  if (preempt === 'never') {
    if (weight !== 0)
      throw new TemplateInputError(
        'keepalived checkWeight: a weight only lowers the priority, and with preempt: never no BACKUP takes the VIP from a MASTER whose check fails; use weight 0 (FAULT) or a preempt delay',
      );
    preemptLines.push(
      '    # Never take the VIP back from a working MASTER: each move breaks every connection through the LB.',
      '    nopreempt',
    );
  } else if (preempt !== 'immediately') {
    const delay = assertIntRange(preempt.delaySeconds, 1, 1000, 'keepalived preempt.delaySeconds');
    preemptLines.push(
      '    # A recovered higher-priority host takes the VIP back only after this many seconds.',
      `    preempt_delay ${delay}`,
    );
  }
  if (preempt !== 'immediately' && p.state === 'MASTER')
    throw new TemplateInputError(
      "keepalived state: MASTER ignores nopreempt/preempt_delay (keepalived.conf(5)); start every host as BACKUP, or set preempt: 'immediately'",
    );

  return joinLines([
    '# kubeseed: keepalived holds the Kubernetes API endpoint VIP on one load-balancer host (VRRP, unicast peers).',
    '# The tracked script checks only the local load balancer, never the API server (none answers before kubeadm init).',
    '# Rendered from the cluster spec; re-provisioning overwrites local changes.',
    'global_defs {',
    ...(p.routerId ? [`    router_id ${assertName(p.routerId, 'keepalived routerId')}`] : []),
    '    # Scripts run as root and must not be writable by anyone else.',
    '    script_user root',
    '    enable_script_security',
    '}',
    '',
    `vrrp_script ${CHECK_SCRIPT_NAME} {`,
    `    script "${script}"`,
    `    interval ${interval}`,
    `    timeout ${timeout}`,
    `    fall ${fall}`,
    `    rise ${rise}`,
    ...(weight === 0
      ? ['    # no weight: a failing check puts this instance in FAULT and releases the VIP at once']
      : [`    weight ${weight}`]),
    '}',
    '',
    'vrrp_instance kubeseed_api {',
    `    state ${p.state}`,
    `    interface ${iface}`,
    `    virtual_router_id ${vrid}`,
    `    priority ${priority}`,
    `    advert_int ${advert}`,
    ...preemptLines,
    `    unicast_src_ip ${src}`,
    '    unicast_peer {',
    ...peers.map((peer) => `        ${peer}`),
    '    }',
    '    authentication {',
    '        auth_type PASS',
    `        auth_pass ${p.authPass}`,
    '    }',
    '    virtual_ipaddress {',
    `        ${vip}/${prefix} dev ${iface}`,
    '    }',
    '    track_script {',
    `        ${CHECK_SCRIPT_NAME}`,
    '    }',
    '}',
  ]);
}

export interface KeepalivedCheckScriptParams {
  /** The local load balancer: its process name (`/proc/PID/comm`). */
  loadBalancer: 'haproxy' | 'nginx';
  /** The endpoint port the load balancer listens on. */
  port: number;
  /** Address to connect to (default 127.0.0.1; the LB binds every address). */
  address?: string;
}

/**
 * POSIX sh. Tools, chosen for a minimal Debian/Ubuntu: the process check reads
 * `/proc/<pid>/comm` with the shell's own `read` (no pidof/pgrep: pidof moved between packages
 * across releases, and no fork per process); the port check uses bash's `/dev/tcp` under
 * coreutils' `timeout` (bash and coreutils are Essential packages), falling back to `nc -z`
 * only if bash is missing.
 */
export function renderKeepalivedCheckScript(p: KeepalivedCheckScriptParams): string {
  if (p.loadBalancer !== 'haproxy' && p.loadBalancer !== 'nginx')
    throw new TemplateInputError(`check script: unknown load balancer '${String(p.loadBalancer)}'`);
  const port = assertPort(p.port, 'check script port');
  const address = assertIp(p.address ?? '127.0.0.1', 'check script address');
  const text = joinLines([
    '#!/bin/sh',
    '# kubeseed: keepalived check script. Exit 0 when the LOCAL load balancer runs and its port accepts TCP',
    '# connections; 1 otherwise. It never asks the API server: before `kubeadm init` no API server',
    '# answers, and a check that depended on one would keep the VIP down so init could never reach it.',
    '#',
    '# Tools (minimal Debian/Ubuntu): the process is found by reading /proc/PID/comm with the shell',
    "# builtin `read` (no fork per process; pidof's package differs between releases). The port is",
    "# probed with bash's /dev/tcp under coreutils' `timeout` (bash and coreutils are Essential",
    '# packages); `nc -z` is only a fallback for systems without bash.',
    `LB=${shQuote(p.loadBalancer)}`,
    `ADDRESS=${shQuote(address)}`,
    `PORT=${port}`,
    '',
    'lb_running() {',
    '    for comm in /proc/[0-9]*/comm; do',
    '        name=',
    '        # Braces: a process may exit between the glob and the read, and dash opens `< "$comm"` before',
    '        # a 2>/dev/null written after it takes effect, so its "cannot open" would reach keepalived\'s log.',
    '        { read -r name < "$comm"; } 2>/dev/null || continue',
    '        [ "$name" = "$LB" ] && return 0',
    '    done',
    '    return 1',
    '}',
    '',
    'port_open() {',
    '    if command -v bash >/dev/null 2>&1; then',
    '        # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash',
    '        timeout 2 bash -c \'exec 3<>"/dev/tcp/$1/$2"\' kubeseed-check "$ADDRESS" "$PORT" 2>/dev/null',
    '    elif command -v nc >/dev/null 2>&1; then',
    '        nc -z -w 2 "$ADDRESS" "$PORT" 2>/dev/null',
    '    else',
    '        echo "kubeseed-check-lb: neither bash nor nc found; checking the process only" >&2',
    '        return 0',
    '    fi',
    '}',
    '',
    'if ! lb_running; then',
    '    echo "kubeseed-check-lb: no $LB process" >&2',
    '    exit 1',
    'fi',
    'if ! port_open; then',
    '    echo "kubeseed-check-lb: $LB does not accept connections on $ADDRESS:$PORT" >&2',
    '    exit 1',
    'fi',
    'exit 0',
  ]);
  return assertHeredocSafe(text, 'KUBESEED_EOF', 'check script');
}
