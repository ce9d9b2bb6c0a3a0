// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash, where ${…} is shell expansion
/**
 * The script a day-2 package step runs before `apt-get update` (kubeadm-upgrade-apply/-node,
 * kubelet-upgrade on apt hosts): it points the host's Kubernetes apt source and key at the
 * repository of the TARGET minor — pkgs.k8s.io has one repository per minor ("Changing The
 * Kubernetes Package Repository") — with the very functions the prepare script wrote them with at
 * first boot (install_key, add_repo). A patch upgrade rewrites the same line: nothing changes. It
 * holds no secret and leaves the update and the installs to the agent. Pure.
 */
import { assertNoProxyEntry, hasProxy, type ProxySettings } from './containerd.ts';
import { FETCH_LINES, kubernetesAptUrls, PUT_FILE, proxyEnvLines, SCRIPT_HELPER_LINES } from './prepare-host.ts';
import { APT_SOURCE_FUNCTION_LINES, kubernetesAptSourceLines } from './prepare-host-apt.ts';
import { assertUrl, joinLines, parseKubernetesVersion } from './text.ts';

export interface KubernetesAptSourceParams {
  /** The target (`v1.38.0`): its minor's repository. */
  kubernetesVersion: string;
  /** A mirror of that minor's repository (spec.mirrors.kubernetesApt of the target spec). */
  kubernetesAptUrl?: string;
  kubernetesAptKeyUrl?: string;
  /** For the key download (apt itself keeps the proxy settings the prepare script wrote). */
  proxy?: ProxySettings;
}

export function renderKubernetesAptSourceScript(p: KubernetesAptSourceParams): string {
  const k8s = parseKubernetesVersion(p.kubernetesVersion);
  const { aptUrl, aptKeyUrl } = kubernetesAptUrls(p);
  const proxy = hasProxy(p.proxy) ? p.proxy : undefined;
  if (proxy?.http) assertUrl(proxy.http, 'proxy.http');
  if (proxy?.https) assertUrl(proxy.https, 'proxy.https');
  return joinLines([
    '#!/bin/bash',
    '# add_repo sets APT_UPDATED for an update the agent runs itself:',
    '# shellcheck disable=SC2034',
    `# kubeseed: points the Kubernetes apt source at the repository of v${k8s.major}.${k8s.minor} (day-2 upgrade to ${k8s.version}).`,
    '# The same functions as the prepare script; idempotent; holds no secret.',
    'set -euo pipefail',
    ...SCRIPT_HELPER_LINES,
    ...PUT_FILE,
    ...FETCH_LINES,
    ...(proxy ? proxyEnvLines(proxy, (proxy.noProxy ?? []).map(assertNoProxyEntry)) : []),
    'TMP=$(mktemp -d)',
    'trap \'rm -rf "$TMP"\' EXIT',
    ...APT_SOURCE_FUNCTION_LINES,
    ...kubernetesAptSourceLines(aptUrl, aptKeyUrl),
    'say "done"',
  ]);
}
