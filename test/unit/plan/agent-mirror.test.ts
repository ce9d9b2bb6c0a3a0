/**
 * One mirror layout serves every host (README: `spec.mirrors.agent` holds `<base>/linux-<arch>`):
 * the cloud-init install script must fetch the same URL that Ignition's agent file names
 * (resolveAgentUrl), and from the coordinator both keep its `/agent/linux-<arch>` route.
 * The script is run for real with bash against a loopback mirror in the validators tier.
 */
import { describe, expect, it } from 'vitest';
import { hostTemplateFiles, INSTALL_AGENT_SCRIPT } from '../../../generator/plan/host-files.ts';
import { resolveAgentUrl } from '../../../generator/render/ignition.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import { withLine } from '../spec/base-spec.ts';

/** install-agent.sh as a cloud-init host's user-data writes it. */
function installScriptOf(spec: ClusterSpec): string {
  const script = hostTemplateFiles(spec, null).files.find((f) => f.path === INSTALL_AGENT_SCRIPT)?.content;
  if (typeof script !== 'string') throw new Error(`no ${INSTALL_AGENT_SCRIPT} among the host files`);
  return script;
}

/** The URL install-agent.sh first downloads for `arch`, with its shell variables expanded. */
function scriptAgentUrl(script: string, arch: string): string {
  if (/fetch "\$TMP\/agent\.gz" "\$AGENT_URL_PREFIX\/linux-\$ARCH"/.test(script)) {
    const prefix = /^AGENT_URL_PREFIX=(.*)$/m.exec(script)?.[1]?.replace(/^'|'$/g, '');
    if (prefix) return `${prefix}/linux-${arch}`;
  }
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array expansion in the script text
  if (script.includes('fetch "$TMP/agent.gz" "${COORDINATOR_URLS[@]/%//agent/linux-$ARCH}"')) {
    const first = /^COORDINATOR_URLS=\(('?)([^' )]+)\1/m.exec(script)?.[2];
    if (first) return `${first}/agent/linux-${arch}`;
  }
  throw new Error('install-agent.sh no longer downloads from "$AGENT_URL_PREFIX" or the coordinator URLs');
}

describe('the agent download URL', () => {
  it('from mirrors.agent: the install script and Ignition fetch <mirror>/linux-<arch>', () => {
    for (const mirror of ['http://files.corp.lan:8080/kubeseed', 'http://files.corp.lan:8080/kubeseed/']) {
      const { spec } = parseSpec(withLine('os:', `  mirrors: { agent: "${mirror}" }\n  os:`), 'c.yaml');
      const script = installScriptOf(spec);
      for (const arch of ['amd64', 'arm64'] as const) {
        expect(scriptAgentUrl(script, arch)).toBe(`http://files.corp.lan:8080/kubeseed/linux-${arch}`);
        expect(scriptAgentUrl(script, arch)).toBe(resolveAgentUrl(spec, arch));
      }
    }
  });

  it('from the coordinator: both use its /agent/linux-<arch> route', () => {
    const { spec } = parseSpec(withLine('os:', '  os:'), 'c.yaml');
    const script = installScriptOf(spec);
    expect(scriptAgentUrl(script, 'amd64')).toBe(resolveAgentUrl(spec, 'amd64'));
    expect(resolveAgentUrl(spec, 'amd64')).toMatch(/^https:\/\/[^/]+\/agent\/linux-amd64$/);
  });
});
