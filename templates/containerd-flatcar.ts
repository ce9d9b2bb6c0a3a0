// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash and systemd, where ${…} is their own expansion
/**
 * Which containerd runs on Flatcar (docs/adr/0021): the one Flatcar ships (its built-in
 * `containerd-flatcar` system extension) when it is 2.0 or newer, else the pinned extension image
 * Ignition stored beside it. Flatcar stable carries containerd 2.x since 4459 (2.0.7, then 2.1.5 in
 * 4593), LTS and older stables 1.7, and Ignition cannot know which image it boots, so the choice is
 * made on the host, every boot, before containerd starts:
 * - `renderContainerdSelectScript`: reads `containerd --version` of the merged /usr; below 2.0 (or no
 *   containerd at all) it links the stored image as an extension, masks the built-in one, refreshes
 *   the merge and reloads systemd, then checks again. Once linked, the extension stays (a later
 *   Flatcar update does not silently swap runtimes under a running node).
 * - `renderContainerdSelectUnit`: runs it after systemd-sysext merged and before containerd.
 * - `renderContainerdDropin`: containerd (built-in or extension: both install /usr/bin/containerd)
 *   reads kubeseed's config version 3 and waits for the choice.
 * Pure.
 */
import { assertPath, joinLines, shQuote } from './text.ts';

export const CONTAINERD_SELECT_UNIT = 'kubeseed-containerd.service';
export const CONTAINERD_SELECT_SCRIPT = '/opt/kubeseed/select-containerd.sh';
/** Flatcar's own containerd extension link (build_library/sysext_prod_builder in flatcar/scripts). */
const FLATCAR_BUILTIN_CONTAINERD_LINK = '/etc/extensions/containerd-flatcar.raw';

export interface ContainerdSelectParams {
  /** The stored extension image, e.g. `/opt/extensions/containerd/containerd-2.3.4-x86-64.raw`. */
  imagePath: string;
  /** Where systemd-sysext finds it once chosen (`/etc/extensions/containerd.raw`). */
  linkPath: string;
  /** The built-in extension's link, masked with /dev/null when the extension is chosen. */
  builtinLinkPath?: string;
}

export function renderContainerdSelectScript(p: ContainerdSelectParams): string {
  const image = assertPath(p.imagePath, 'containerd imagePath');
  const link = assertPath(p.linkPath, 'containerd linkPath');
  const builtin = assertPath(p.builtinLinkPath ?? FLATCAR_BUILTIN_CONTAINERD_LINK, 'containerd builtinLinkPath');
  return joinLines([
    '#!/bin/bash',
    "# kubeseed: run Flatcar's own containerd when it is 2.0 or newer, else the pinned extension image",
    '# (docs/adr/0021-flatcar-containerd.md). kubeseed writes containerd config version 3, which needs 2.x.',
    'set -euo pipefail',
    `IMAGE=${shQuote(image)}`,
    `LINK=${shQuote(link)}`,
    `BUILTIN=${shQuote(builtin)}`,
    'say() { echo "kubeseed-containerd: $*"; }',
    '# major_of "containerd github.com/containerd/containerd/v2 v2.1.5 <revision>" -> 2 (empty when unparsable)',
    'major_of() {',
    '    local v',
    "    v=$(printf '%s\\n' \"$1\" | awk 'NR == 1 { print $3 }')",
    '    v=${v#v}',
    '    case $v in [0-9]*.*) echo "${v%%.*}" ;; *) echo "" ;; esac',
    '}',
    'current() { containerd --version 2>/dev/null || true; }',
    'if [ "$(readlink "$LINK" 2>/dev/null || true)" = "$IMAGE" ]; then',
    '    say "extension $IMAGE in use (chosen on an earlier boot): $(current)"',
    '    exit 0',
    'fi',
    'VERSION=$(current)',
    'MAJOR=$(major_of "$VERSION")',
    'if [ -n "$MAJOR" ] && [ "$MAJOR" -ge 2 ]; then',
    '    say "the built-in containerd is 2.0 or newer, used as is: $VERSION"',
    '    exit 0',
    'fi',
    '[ -f "$IMAGE" ] || { say "the built-in containerd is \'${VERSION:-missing}\' and $IMAGE is missing"; exit 1; }',
    'say "the built-in containerd is \'${VERSION:-missing}\', older than 2.0: switching to $IMAGE"',
    'ln -sfn "$IMAGE" "$LINK"',
    'ln -sfn /dev/null "$BUILTIN"',
    'systemd-sysext refresh',
    '# containerd.service now comes from the extension: load it before its start job runs.',
    'systemctl daemon-reload',
    'VERSION=$(current)',
    'MAJOR=$(major_of "$VERSION")',
    'if [ -z "$MAJOR" ] || [ "$MAJOR" -lt 2 ]; then',
    '    say "after the switch containerd is still \'${VERSION:-missing}\'; check systemd-sysext status"',
    '    exit 1',
    'fi',
    'say "containerd from the extension: $VERSION"',
  ]);
}

export interface ContainerdSelectUnitParams {
  /** Default `CONTAINERD_SELECT_SCRIPT`. */
  scriptPath?: string;
}

/** `kubeseed-containerd.service`: the choice above, after the extensions are merged and before containerd. */
export function renderContainerdSelectUnit(p: ContainerdSelectUnitParams = {}): string {
  const script = assertPath(p.scriptPath ?? CONTAINERD_SELECT_SCRIPT, 'containerd select scriptPath');
  return joinLines([
    '# kubeseed: chooses the containerd that runs (the built-in one when it is 2.0 or newer).',
    '[Unit]',
    'Description=kubeseed: choose containerd 2.x (built-in or extension)',
    'After=systemd-sysext.service local-fs.target',
    'Before=containerd.service kubelet.service',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${script}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ]);
}

/**
 * `containerd.service.d/10-kubeseed.conf`: both the built-in unit and the bakery's pass
 * `--config ${CONTAINERD_CONFIG}` (default /usr/share/containerd/config.toml, config version 2);
 * kubeseed's file is version 3. On Flatcar the choice of containerd comes first.
 */
export function renderContainerdDropin(p: { configPath: string; requires?: string }): string {
  const config = assertPath(p.configPath, 'containerd configPath');
  return joinLines([
    '# kubeseed: containerd reads the configuration kubeseed wrote (config version 3).',
    ...(p.requires ? ['[Unit]', `Requires=${p.requires}`, `After=${p.requires}`, ''] : []),
    '[Service]',
    `Environment=CONTAINERD_CONFIG=${config}`,
    'ExecStart=',
    `ExecStart=/usr/bin/containerd --config ${config}`,
  ]);
}
