// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash, where ${…} is shell expansion
/**
 * The first-boot script that installs the kubeseed agent: detect the architecture, download the
 * gzip-compressed executable (from the coordinator over the pinned CA, or from a mirror), verify
 * it against the SHA-256 that the coordinator publishes (always fetched over the pinned CA), put
 * it in place, install the unit and start it. Pure.
 *
 * URL contract (the coordinator implements it; a mirror serves the same paths and bytes):
 *   GET <agentBaseUrl>/agent/linux-<arch>          <arch> = amd64 | arm64
 *       200, body = the agent executable compressed with gzip (any Content-Type).
 *   GET <coordinatorUrl>/agent/linux-<arch>.sha256
 *       200, body = the lower-case hex SHA-256 of the executable after gunzip (the same digest Ignition's
 *       verification.hash uses), optionally followed by whitespace and a file name (`sha256sum`
 *       output format); only the first field is used.
 * Both are plain GETs without credentials (the executable is not a secret). The coordinator URL
 * is HTTPS and verified against the CA file from user-data only (`curl --cacert`); a mirror is
 * verified with the system trust store and its bytes are trusted only through the hash.
 */
import { AGENT_UNIT_NAME } from './agent-unit.ts';
import { hasProxy, type ProxySettings } from './containerd.ts';
import { assertIntRange, assertPath, assertUrl, joinLines, shQuote, TemplateInputError } from './text.ts';

export interface InstallAgentParams {
  /** The coordinator's HTTPS URL, e.g. `https://10.101.1.5:9443` (a trailing slash is dropped). */
  coordinatorUrl: string;
  /** The pinned coordinator CA certificate (PEM) written by user-data. */
  coordinatorCaFile: string;
  /** Where executables are downloaded from (spec.mirrors.agent); default: the coordinator. */
  agentBaseUrl?: string;
  /** Default `/usr/local/bin/kubeseed-agent`. */
  agentPath?: string;
  /** The unit file written by user-data (renderAgentUnit), copied to `unitDir`. */
  unitSourcePath: string;
  /** Default `/etc/systemd/system`. */
  unitDir?: string;
  /** Download attempts per file (default 60) and the cap of the doubling delay between them (default 30 s). */
  maxAttempts?: number;
  maxDelaySeconds?: number;
  /**
   * Proxy for the downloads from a mirror. The coordinator is always reached directly (`curl
   * --noproxy`): curl before 7.86 (Ubuntu 22.04 ships 7.81) ignores CIDR entries in no_proxy.
   */
  proxy?: ProxySettings;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The host of a URL as curl's --noproxy compares it: no port, no IPv6 brackets. */
function urlHost(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

export function renderInstallAgentScript(p: InstallAgentParams): string {
  const coordinator = trimSlash(assertUrl(p.coordinatorUrl, 'coordinatorUrl'));
  if (!coordinator.startsWith('https://')) throw new TemplateInputError(`coordinatorUrl: '${p.coordinatorUrl}' must be https://`);
  const base = trimSlash(assertUrl(p.agentBaseUrl ?? coordinator, 'agentBaseUrl'));
  const fromCoordinator = base === coordinator;
  const attempts = assertIntRange(p.maxAttempts ?? 60, 1, 1000, 'maxAttempts');
  const maxDelay = assertIntRange(p.maxDelaySeconds ?? 30, 1, 600, 'maxDelaySeconds');
  const proxy = hasProxy(p.proxy) ? p.proxy : undefined;
  const noProxy = (proxy?.noProxy ?? []).join(',');
  if (/[\s'"\\$`]/.test(noProxy)) throw new TemplateInputError('proxy.noProxy holds a space, quote, backslash or $');

  return joinLines([
    '#!/bin/bash',
    '# kubeseed: installs the kubeseed agent at first boot and starts it.',
    '#',
    '# URL contract (the coordinator serves it; a mirror serves the same paths and bytes):',
    '#   GET <agentBaseUrl>/agent/linux-<arch>            arch = amd64 | arm64; body = gzip-compressed executable',
    '#   GET <coordinatorUrl>/agent/linux-<arch>.sha256   body = hex SHA-256 of the executable after gunzip,',
    '#                                                    optionally followed by whitespace and a file name',
    '# The checksum always comes from the coordinator over the pinned CA, also when the executable comes',
    '# from a mirror. Downloads retry with a doubling delay, bounded in count and time.',
    'set -euo pipefail',
    '',
    `COORDINATOR_URL=${shQuote(coordinator)}`,
    `COORDINATOR_CA=${shQuote(assertPath(p.coordinatorCaFile, 'coordinatorCaFile'))}`,
    '# Never through a proxy: --noproxy overrides the environment, whose CIDR entries curl < 7.86 ignores.',
    `COORDINATOR_HOST=${shQuote(urlHost(coordinator))}`,
    `AGENT_BASE_URL=${shQuote(base)}`,
    `AGENT_PATH=${shQuote(assertPath(p.agentPath ?? '/usr/local/bin/kubeseed-agent', 'agentPath'))}`,
    `UNIT_SOURCE=${shQuote(assertPath(p.unitSourcePath, 'unitSourcePath'))}`,
    `UNIT_DIR=${shQuote(assertPath(p.unitDir ?? '/etc/systemd/system', 'unitDir'))}`,
    `UNIT_NAME=${AGENT_UNIT_NAME}`,
    `MAX_ATTEMPTS=${attempts}`,
    `MAX_DELAY=${maxDelay}`,
    ...(proxy?.http ? [`export http_proxy=${shQuote(assertUrl(proxy.http, 'proxy.http'))}`] : []),
    ...(proxy?.https ? [`export https_proxy=${shQuote(assertUrl(proxy.https, 'proxy.https'))}`] : []),
    ...(noProxy ? [`export no_proxy=${shQuote(noProxy)}`] : []),
    '',
    'say() { echo "kubeseed-install-agent: $*"; }',
    'fail() { echo "kubeseed-install-agent: ERROR: $*" >&2; exit 1; }',
    '',
    '# fetch URL OUT [curl options…]: bounded retries, doubling delay up to MAX_DELAY seconds.',
    'fetch() {',
    '    local url=$1 out=$2 attempt=1 delay=1',
    '    shift 2',
    '    while :; do',
    '        if curl --fail --silent --show-error --connect-timeout 10 --max-time 300 "$@" -o "$out" "$url"; then return 0; fi',
    '        if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then return 1; fi',
    '        say "attempt $attempt/$MAX_ATTEMPTS for $url failed; next in ${delay}s"',
    '        sleep "$delay"',
    '        attempt=$((attempt + 1))',
    '        delay=$((delay * 2))',
    '        if [ "$delay" -gt "$MAX_DELAY" ]; then delay=$MAX_DELAY; fi',
    '    done',
    '}',
    '',
    'command -v curl >/dev/null 2>&1 || fail "curl is required (install it in the image or via user-data packages)"',
    '[ -s "$COORDINATOR_CA" ] || fail "the pinned coordinator CA $COORDINATOR_CA is missing"',
    '[ -s "$UNIT_SOURCE" ] || fail "the unit file $UNIT_SOURCE is missing"',
    '',
    'case "$(uname -m)" in',
    '    x86_64|amd64) ARCH=amd64 ;;',
    '    aarch64|arm64) ARCH=arm64 ;;',
    '    *) fail "unsupported architecture $(uname -m) (amd64 and arm64 only)" ;;',
    'esac',
    'say "architecture $ARCH"',
    '',
    'TMP=$(mktemp -d)',
    'trap \'rm -rf "$TMP"\' EXIT',
    '',
    'say "downloading $AGENT_BASE_URL/agent/linux-$ARCH"',
    fromCoordinator
      ? '# From the coordinator: HTTPS only, verified against the pinned CA, no redirects.'
      : '# From a mirror: the system trust store; redirects allowed; the hash below decides.',
    fromCoordinator
      ? 'fetch "$AGENT_BASE_URL/agent/linux-$ARCH" "$TMP/agent.gz" --proto =https --cacert "$COORDINATOR_CA" --noproxy "$COORDINATOR_HOST" || fail "cannot download the agent from $AGENT_BASE_URL"'
      : 'fetch "$AGENT_BASE_URL/agent/linux-$ARCH" "$TMP/agent.gz" --location || fail "cannot download the agent from $AGENT_BASE_URL"',
    '',
    'say "fetching the checksum from $COORDINATOR_URL"',
    'fetch "$COORDINATOR_URL/agent/linux-$ARCH.sha256" "$TMP/agent.sha256" --proto =https --cacert "$COORDINATOR_CA" --noproxy "$COORDINATOR_HOST" || fail "cannot fetch the agent checksum from $COORDINATOR_URL"',
    'read -r EXPECTED _ < "$TMP/agent.sha256" || true',
    'case "${EXPECTED:-}" in',
    '    *[!0-9a-f]*|"") fail "the coordinator sent no SHA-256 for linux-$ARCH" ;;',
    'esac',
    '[ "${#EXPECTED}" -eq 64 ] || fail "the coordinator sent no SHA-256 for linux-$ARCH"',
    'gzip -dc "$TMP/agent.gz" > "$TMP/agent" || fail "the agent download is not gzip data"',
    '(cd "$TMP" && echo "$EXPECTED  agent" | sha256sum -c --status -) || fail "checksum mismatch for $AGENT_BASE_URL/agent/linux-$ARCH"',
    'say "checksum verified"',
    'install -d -m 0755 "$(dirname "$AGENT_PATH")"',
    '# Rename over the old file: a running agent keeps its (old) inode.',
    'install -m 0755 "$TMP/agent" "$AGENT_PATH.new"',
    'mv -f "$AGENT_PATH.new" "$AGENT_PATH"',
    'say "installed $AGENT_PATH"',
    '',
    'install -D -m 0644 "$UNIT_SOURCE" "$UNIT_DIR/$UNIT_NAME"',
    'say "installed $UNIT_DIR/$UNIT_NAME"',
    '',
    '# systemd is PID 1 on real hosts; in a chroot or container (the test harness) it is not.',
    'if [ -d /run/systemd/system ]; then',
    '    systemctl daemon-reload',
    '    systemctl enable "$UNIT_NAME"',
    '    # --no-block: the unit is ordered After=cloud-final.service, and this script runs inside',
    '    # cloud-final; a blocking start would wait for itself forever.',
    '    systemctl start --no-block "$UNIT_NAME"',
    '    say "$UNIT_NAME enabled and starting"',
    'else',
    '    say "systemd is not running (chroot or container): $UNIT_NAME was not started; the caller must start $AGENT_PATH"',
    'fi',
  ]);
}
