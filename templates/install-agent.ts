// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash, where ${…} is shell expansion
/**
 * The first-boot script that installs the kubeseed agent: detect the architecture, download the
 * gzip-compressed executable (from the coordinator over the pinned CA, or from a mirror), verify
 * it against the SHA-256 that the coordinator publishes (always fetched over the pinned CA), put
 * it in place, install the unit and start it. Pure.
 *
 * URL contract (the coordinator implements it; a mirror serves the same bytes):
 *   GET <coordinatorUrl>/agent/linux-<arch>, or <agentBaseUrl>/linux-<arch> from a mirror
 *       (the layout Ignition's agent file uses too)          <arch> = amd64 | arm64
 *       200, body = the agent executable compressed with gzip (any Content-Type).
 *   GET <coordinatorUrl>/agent/linux-<arch>.sha256
 *       200, body = the lower-case hex SHA-256 of the executable after gunzip (the same digest Ignition's
 *       verification.hash uses), optionally followed by whitespace and a file name (`sha256sum`
 *       output format); only the first field is used.
 * Both are plain GETs without credentials (the executable is not a secret). The coordinator URL
 * is HTTPS and verified against the CA file from user-data only (`curl --cacert`); a mirror is
 * verified with the system trust store and its bytes are trusted only through the hash.
 *
 * When the agent cannot be fetched, verified, put in place or started, the script tells the
 * coordinator before it exits 1 (the install-failed beacon, ADR 0019):
 *   POST <coordinatorUrl>/v1/install-failed   body = protocol/wire.ts InstallFailedRequest
 * with the host's enrollment credential (read from its file, sent only in the body, through a pipe:
 * never in a URL, a header or a command line), over HTTPS with the pinned CA only, a few bounded
 * attempts; the reason is one of INSTALL_FAILURE_REASONS and the tail is the last printable lines
 * of what curl, gzip, install and systemctl said. Without curl, the CA or a credential it cannot
 * tell anyone and only exits 1.
 */
import { AGENT_CONFIG_PATH } from '../protocol/host-paths.ts';
import { AGENT_UNIT_NAME } from './agent-unit.ts';
import { hasProxy, type ProxySettings } from './containerd.ts';
import { assertIntRange, assertPath, assertUrl, joinLines, shQuote, TemplateInputError } from './text.ts';

export interface InstallAgentParams {
  /** The coordinator's HTTPS URL, e.g. `https://10.101.1.5:9443` (a trailing slash is dropped). */
  coordinatorUrl: string;
  /**
   * Other replicas of the coordinator (spec.coordinator.replicaUrls, ADR 0036): each download,
   * the checksum and the beacon try the next URL on their next attempt, so a dead or standby
   * replica at `coordinatorUrl` does not stop the install.
   */
  replicaUrls?: string[];
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
  /** The enrollment credential the beacon presents. Default `/etc/kubeseed/credential` (generator/plan/provision.ts). */
  credentialFile?: string;
  /** The agent configuration whose `host` the beacon names (absent in fleet mode). Default `/etc/kubeseed/agent.json`. */
  agentConfigFile?: string;
  /** Beacon attempts (default 3; each at most 15 s, 2 s apart). */
  beaconAttempts?: number;
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
  const replicas = (p.replicaUrls ?? []).map((u, i) => trimSlash(assertUrl(u, `replicaUrls[${i}]`)));
  for (const [i, u] of replicas.entries())
    if (!u.startsWith('https://')) throw new TemplateInputError(`replicaUrls[${i}]: '${u}' must be https://`);
  const coordinators = [...new Set([coordinator, ...replicas])];
  const base = trimSlash(assertUrl(p.agentBaseUrl ?? coordinator, 'agentBaseUrl'));
  const fromCoordinator = base === coordinator;
  const attempts = assertIntRange(p.maxAttempts ?? 60, 1, 1000, 'maxAttempts');
  const maxDelay = assertIntRange(p.maxDelaySeconds ?? 30, 1, 600, 'maxDelaySeconds');
  const beaconAttempts = assertIntRange(p.beaconAttempts ?? 3, 1, 10, 'beaconAttempts');
  const proxy = hasProxy(p.proxy) ? p.proxy : undefined;
  const noProxy = (proxy?.noProxy ?? []).join(',');
  if (/[\s'"\\$`]/.test(noProxy)) throw new TemplateInputError('proxy.noProxy holds a space, quote, backslash or $');
  const pinned = '--proto =https --cacert "$COORDINATOR_CA" --noproxy "$COORDINATOR_HOSTS"';

  return joinLines([
    '#!/bin/bash',
    '# kubeseed: installs the kubeseed agent at first boot and starts it.',
    '#',
    '# URL contract (the coordinator serves it; a mirror serves the same bytes):',
    '#   GET <coordinatorUrl>/agent/linux-<arch>          arch = amd64 | arm64; body = gzip-compressed executable',
    '#       or <mirror>/linux-<arch> (spec.mirrors.agent: the layout Ignition uses too)',
    '#   GET <coordinatorUrl>/agent/linux-<arch>.sha256   body = hex SHA-256 of the executable after gunzip,',
    '#                                                    optionally followed by whitespace and a file name',
    '# The checksum always comes from the coordinator over the pinned CA, also when the executable comes',
    '# from a mirror. Downloads retry with a doubling delay, bounded in count and time.',
    '# Each attempt asks the next of the coordinator URLs (its replicas). When the install fails, the',
    '# coordinator is told why (POST <coordinatorUrl>/v1/install-failed, with',
    "# this host's enrollment credential, over the pinned CA only) before the script exits 1.",
    'set -euo pipefail',
    '',
    '# The coordinator and its other replicas: attempt N of a download or the beacon asks URL N (mod their number).',
    `COORDINATOR_URLS=(${coordinators.map(shQuote).join(' ')})`,
    `COORDINATOR_CA=${shQuote(assertPath(p.coordinatorCaFile, 'coordinatorCaFile'))}`,
    '# Never through a proxy: --noproxy overrides the environment, whose CIDR entries curl < 7.86 ignores.',
    `COORDINATOR_HOSTS=${shQuote([...new Set(coordinators.map(urlHost))].join(','))}`,
    `AGENT_URL_PREFIX=${shQuote(fromCoordinator ? `${coordinator}/agent` : base)}`,
    `AGENT_PATH=${shQuote(assertPath(p.agentPath ?? '/usr/local/bin/kubeseed-agent', 'agentPath'))}`,
    `UNIT_SOURCE=${shQuote(assertPath(p.unitSourcePath, 'unitSourcePath'))}`,
    `UNIT_DIR=${shQuote(assertPath(p.unitDir ?? '/etc/systemd/system', 'unitDir'))}`,
    `UNIT_NAME=${AGENT_UNIT_NAME}`,
    `CREDENTIAL_FILE=${shQuote(assertPath(p.credentialFile ?? '/etc/kubeseed/credential', 'credentialFile'))}`,
    `AGENT_CONFIG=${shQuote(assertPath(p.agentConfigFile ?? AGENT_CONFIG_PATH, 'agentConfigFile'))}`,
    `MAX_ATTEMPTS=${attempts}`,
    `MAX_DELAY=${maxDelay}`,
    `BEACON_ATTEMPTS=${beaconAttempts}`,
    ...(proxy?.http ? [`export http_proxy=${shQuote(assertUrl(proxy.http, 'proxy.http'))}`] : []),
    ...(proxy?.https ? [`export https_proxy=${shQuote(assertUrl(proxy.https, 'proxy.https'))}`] : []),
    ...(noProxy ? [`export no_proxy=${shQuote(noProxy)}`] : []),
    '',
    '# What curl, gzip, install and systemctl said, for the beacon: the last 3000 characters.',
    "LOG_TAIL=''",
    'FETCH_CODE=0',
    'note() {',
    '    LOG_TAIL="${LOG_TAIL}$1',
    '"',
    '    if [ "${#LOG_TAIL}" -gt 3000 ]; then LOG_TAIL=${LOG_TAIL: -3000}; fi',
    '}',
    'say() { echo "kubeseed-install-agent: $*"; note "$*"; }',
    '# abort MESSAGE: a failure the coordinator cannot be told of (no curl, no pinned CA).',
    'abort() { echo "kubeseed-install-agent: ERROR: $*" >&2; exit 1; }',
    '# fail REASON MESSAGE: tell the coordinator (the beacon), then exit 1.',
    'fail() {',
    '    echo "kubeseed-install-agent: ERROR: $2" >&2',
    '    note "ERROR: $2"',
    '    report_failure "$1"',
    '    exit 1',
    '}',
    '',
    '# run_logged CMD…: runs CMD; what it prints goes to stderr and into the tail; returns its status.',
    'run_logged() {',
    '    local out code=0',
    '    out=$("$@" 2>&1) || code=$?',
    '    if [ -n "$out" ]; then',
    '        echo "$out" >&2',
    '        note "$out"',
    '    fi',
    '    return "$code"',
    '}',
    '',
    '# space_or REASON DIR: disk-full when the output said so or the file system of DIR has under 1 MiB',
    '# free after a write error (curl says only "Failure writing output"), else REASON.',
    'space_or() {',
    '    local avail',
    "    avail=$(df -Pk \"$2\" 2>/dev/null | awk 'NR == 2 { print $4 }') || avail=''",
    '    if [[ $LOG_TAIL == *"No space left on device"* ]] || { [ "$FETCH_CODE" = 23 ] && [ -n "$avail" ] && [ "$avail" -lt 1024 ]; }; then',
    '        echo disk-full',
    '    else',
    '        echo "$1"',
    '    fi',
    '}',
    '',
    '# json_string TEXT: TEXT as a JSON string, printable ASCII only (tabs become spaces).',
    'json_string() {',
    "    printf '\"%s\"' \"$(printf '%s' \"$1\" | tr '\\t' ' ' | tr -cd '\\12\\40-\\176' | sed -e 's/\\\\/\\\\\\\\/g' -e 's/\"/\\\\\"/g' | awk 'NR > 1 { printf \"\\\\n\" } { printf \"%s\", $0 }')\"",
    '}',
    '',
    '# report_failure REASON: POST /v1/install-failed with the credential, over the pinned CA only; a few',
    '# bounded attempts (the next replica each time: a standby answers 503); never fatal. The body goes',
    '# through a pipe from printf (a builtin): the credential',
    '# is in no command line, URL or header.',
    'report_failure() {',
    '    local reason=$1 credential host body status attempt=1',
    "    credential=$(tr -d ' \\t\\r\\n' < \"$CREDENTIAL_FILE\" 2>/dev/null) || credential=''",
    '    case "$credential" in',
    '        "" | *[!A-Za-z0-9_-]*)',
    '            echo "kubeseed-install-agent: no usable credential in $CREDENTIAL_FILE; the coordinator cannot be told" >&2',
    '            return 0',
    '            ;;',
    '    esac',
    '    host=$(sed -n \'s/^[[:space:]]*"host":[[:space:]]*"\\([a-z0-9.-]*\\)".*$/\\1/p\' "$AGENT_CONFIG" 2>/dev/null | head -n 1) || host=\'\'',
    '    body="{\\"protocol\\":1,\\"credential\\":\\"$credential\\",${host:+\\"host\\":\\"$host\\",}\\"reason\\":\\"$reason\\""',
    '    body="$body,\\"logTail\\":$(json_string "$LOG_TAIL"),\\"hostname\\":$(json_string "$(uname -n | head -c 253 || true)")"',
    '    body="$body,\\"machineId\\":$(json_string "$(tr -cd \'0-9a-f\' < /etc/machine-id 2>/dev/null | head -c 128 || true)"),\\"arch\\":$(json_string "$(uname -m | head -c 32 || true)")}"',
    '    while :; do',
    `        status=$(printf '%s' "$body" | curl --silent --show-error --connect-timeout 5 --max-time 15 ${pinned} \\`,
    '            -H "content-type: application/json" --data-binary @- -o /dev/null -w "%{http_code}" \\',
    '            "${COORDINATOR_URLS[$(((attempt - 1) % ${#COORDINATOR_URLS[@]}))]}/v1/install-failed" 2>&1) || true',
    '        case "$status" in',
    '            200)',
    '                echo "kubeseed-install-agent: the coordinator was told: install failed: $reason" >&2',
    '                return 0',
    '                ;;',
    '            4[0-9][0-9])',
    '                if [ "$status" != 429 ]; then',
    '                    echo "kubeseed-install-agent: the coordinator refused the install-failed report (HTTP $status)" >&2',
    '                    return 0',
    '                fi',
    '                ;;',
    '        esac',
    '        if [ "$attempt" -ge "$BEACON_ATTEMPTS" ]; then',
    '            echo "kubeseed-install-agent: could not tell the coordinator ($status)" >&2',
    '            return 0',
    '        fi',
    '        attempt=$((attempt + 1))',
    '        sleep 2',
    '    done',
    '}',
    '',
    '# fetch OUT URL… -- [curl options…]: bounded retries, doubling delay up to MAX_DELAY seconds;',
    '# attempt N asks URL N (mod their number).',
    'fetch() {',
    '    local out=$1 attempt=1 delay=1 err url urls=()',
    '    shift',
    '    while [ "$1" != -- ]; do',
    '        urls+=("$1")',
    '        shift',
    '    done',
    '    shift',
    '    while :; do',
    '        url=${urls[$(((attempt - 1) % ${#urls[@]}))]}',
    '        err=$(curl --fail --silent --show-error --connect-timeout 10 --max-time 300 "$@" -o "$out" "$url" 2>&1) && return 0',
    '        FETCH_CODE=$?',
    '        echo "$err" >&2',
    '        note "$err"',
    '        if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then return 1; fi',
    '        say "attempt $attempt/$MAX_ATTEMPTS for $url failed; next in ${delay}s"',
    '        sleep "$delay"',
    '        attempt=$((attempt + 1))',
    '        delay=$((delay * 2))',
    '        if [ "$delay" -gt "$MAX_DELAY" ]; then delay=$MAX_DELAY; fi',
    '    done',
    '}',
    '',
    'command -v curl >/dev/null 2>&1 || abort "curl is required (install it in the image or via user-data packages)"',
    '[ -s "$COORDINATOR_CA" ] || abort "the pinned coordinator CA $COORDINATOR_CA is missing"',
    '[ -s "$UNIT_SOURCE" ] || fail agent-install-failed "the unit file $UNIT_SOURCE is missing"',
    '',
    'case "$(uname -m)" in',
    '    x86_64|amd64) ARCH=amd64 ;;',
    '    aarch64|arm64) ARCH=arm64 ;;',
    '    *) fail unsupported-arch "unsupported architecture $(uname -m) (amd64 and arm64 only)" ;;',
    'esac',
    'say "architecture $ARCH"',
    '',
    'TMP=$(mktemp -d) || fail "$(space_or agent-install-failed "${TMPDIR:-/tmp}")" "cannot create a temporary directory in ${TMPDIR:-/tmp}"',
    'trap \'rm -rf "$TMP"\' EXIT',
    '',
    'say "downloading $AGENT_URL_PREFIX/linux-$ARCH"',
    fromCoordinator
      ? '# From the coordinator: HTTPS only, verified against the pinned CA, no redirects.'
      : '# From a mirror: the system trust store; redirects allowed; the hash below decides.',
    fromCoordinator
      ? `fetch "$TMP/agent.gz" "\${COORDINATOR_URLS[@]/%//agent/linux-$ARCH}" -- ${pinned} ||`
      : 'fetch "$TMP/agent.gz" "$AGENT_URL_PREFIX/linux-$ARCH" -- --location ||',
    '    fail "$(space_or agent-download-failed "$TMP")" "cannot download the agent from $AGENT_URL_PREFIX/linux-$ARCH"',
    '',
    'say "fetching the checksum from ${COORDINATOR_URLS[*]}"',
    `fetch "$TMP/agent.sha256" "\${COORDINATOR_URLS[@]/%//agent/linux-$ARCH.sha256}" -- ${pinned} ||`,
    '    fail "$(space_or checksum-download-failed "$TMP")" "cannot fetch the agent checksum from ${COORDINATOR_URLS[*]}"',
    'read -r EXPECTED _ < "$TMP/agent.sha256" || true',
    'case "${EXPECTED:-}" in',
    '    *[!0-9a-f]*|"") fail checksum-download-failed "the coordinator sent no SHA-256 for linux-$ARCH" ;;',
    'esac',
    '[ "${#EXPECTED}" -eq 64 ] || fail checksum-download-failed "the coordinator sent no SHA-256 for linux-$ARCH"',
    '# In place: agent.gz becomes agent.',
    'run_logged gzip -d "$TMP/agent.gz" || fail "$(space_or agent-corrupt "$TMP")" "the agent download is not gzip data"',
    'ACTUAL=$(sha256sum "$TMP/agent" | cut -d " " -f 1)',
    '[ "$ACTUAL" = "$EXPECTED" ] ||',
    '    fail agent-checksum-mismatch "checksum mismatch for $AGENT_URL_PREFIX/linux-$ARCH: SHA-256 $ACTUAL, the coordinator publishes $EXPECTED"',
    'say "checksum verified"',
    'run_logged install -d -m 0755 "$(dirname "$AGENT_PATH")" || fail "$(space_or agent-install-failed "$TMP")" "cannot create $(dirname "$AGENT_PATH")"',
    'run_logged install -m 0755 "$TMP/agent" "$AGENT_PATH.new" ||',
    '    fail "$(space_or agent-install-failed "$(dirname "$AGENT_PATH")")" "cannot write $AGENT_PATH.new"',
    '# It must run here (where /tmp may be noexec, the target directory is not): a wrong or broken build fails now, loudly.',
    'if ! run_logged timeout 60 "$AGENT_PATH.new" --version; then',
    '    rm -f "$AGENT_PATH.new"',
    '    fail agent-not-runnable "$AGENT_PATH --version failed on this machine"',
    'fi',
    '# Rename over the old file: a running agent keeps its (old) inode.',
    'run_logged mv -f "$AGENT_PATH.new" "$AGENT_PATH" || fail agent-install-failed "cannot move the agent to $AGENT_PATH"',
    'say "installed $AGENT_PATH"',
    '',
    'run_logged install -D -m 0644 "$UNIT_SOURCE" "$UNIT_DIR/$UNIT_NAME" ||',
    '    fail "$(space_or agent-install-failed "$UNIT_DIR")" "cannot write $UNIT_DIR/$UNIT_NAME"',
    'say "installed $UNIT_DIR/$UNIT_NAME"',
    '',
    '# systemd is PID 1 on real hosts; in a chroot or container (the test harness) it is not.',
    'if [ -d /run/systemd/system ]; then',
    '    run_logged systemctl daemon-reload || fail unit-start-failed "systemctl daemon-reload failed"',
    '    run_logged systemctl enable "$UNIT_NAME" || fail unit-start-failed "systemctl enable $UNIT_NAME failed"',
    '    # --no-block: the unit is ordered After=cloud-final.service, and this script runs inside',
    '    # cloud-final; a blocking start would wait for itself forever.',
    '    run_logged systemctl start --no-block "$UNIT_NAME" || fail unit-start-failed "systemctl start $UNIT_NAME failed"',
    '    say "$UNIT_NAME enabled and starting"',
    'else',
    '    say "systemd is not running (chroot or container): $UNIT_NAME was not started; the caller must start $AGENT_PATH"',
    'fi',
  ]);
}
