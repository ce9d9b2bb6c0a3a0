/**
 * spec.coordinator.replicaUrls (ADR 0036) reaches the agent: every host's agent.json lists the
 * other replicas, the agent's own parser reads what the generator wrote, and without replicas the
 * file is as before (no key: goldens unchanged).
 */
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../agent/config.ts';
import { toProvisioning } from '../../../generator/plan/provision.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec } from '../../../generator/spec/types.ts';
import { AGENT_CONFIG_PATH } from '../../../protocol/host-paths.ts';
import { withLine } from '../spec/base-spec.ts';

function agentJsonOf(spec: ClusterSpec): string {
  const host = spec.hosts[0]!;
  const ctx = { enrollmentCredentials: { [host.name]: 'kscred-x' }, coordinatorCa: 'CA' } as unknown as Parameters<
    typeof toProvisioning
  >[2];
  const file = toProvisioning(spec, host, ctx).files.find((f) => f.path === AGENT_CONFIG_PATH);
  if (!file || typeof file.content !== 'string') throw new Error('no agent.json among the host files');
  return file.content;
}

describe('coordinator replicas in agent.json', () => {
  it('lists the other replicas, and the agent reads them', () => {
    const { spec } = parseSpec(
      withLine('url:', '    url: https://10.1.0.5:9443\n    replicaUrls: [https://10.1.0.6:9443/, https://seed-3.lan:9443]'),
      'c.yaml',
    );
    const config = parseAgentConfig(agentJsonOf(spec));
    expect(config.coordinatorUrl).toBe('https://10.1.0.5:9443');
    expect(config.replicaUrls).toEqual(['https://10.1.0.6:9443', 'https://seed-3.lan:9443']);
  });

  it('without replicas the file has no replicaUrls key', () => {
    const { spec } = parseSpec(withLine('url:', '    url: https://10.1.0.5:9443'), 'c.yaml');
    const text = agentJsonOf(spec);
    expect(text).not.toContain('replicaUrls');
    expect(parseAgentConfig(text).replicaUrls).toEqual([]);
  });
});
