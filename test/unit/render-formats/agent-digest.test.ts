/**
 * Every Ignition config `kubeseed generate` writes — per host, the fleet's, and the one the boot
 * listener serves — checks the agent against the digest of the build, and the system extension
 * images against the spec's digests (issue 23 item 8). Without a digest there is no config.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlanError } from '../../../generator/errors.ts';
import { placeholderSecrets } from '../../../generator/plan/document.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import { IGNITION_AGENT_PATH, type IgnitionConfig } from '../../../generator/render/ignition.ts';
import { agentArchesOf, renderArtifacts } from '../../../generator/render/index.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import { fixedContext, ROOT, TEST_COORDINATOR_CA } from '../../support/fixtures.ts';

const SHA = 'c0ffee'.padEnd(64, '0');
const K8S = 'kubernetes-v1.37.0-x86-64.raw';
const CONTAINERD = 'containerd-2.3.4-x86-64.raw';

function flatcarFleetPlan() {
  const text = readFileSync(join(ROOT, 'examples', 'flatcar-kube-vip.yaml'), 'utf8')
    .replace(
      '    family: flatcar\n',
      `    family: flatcar\n  mirrors:\n    sysext: http://10.105.1.5:8080/sysext/\n    sysextSha256:\n      ${K8S}: ${'a'.repeat(64)}\n      ${CONTAINERD}: ${'b'.repeat(64)}\n  fleet:\n    enabled: true\n    installDisk: /dev/sda\n`,
    )
    .replace('    url: https://10.105.1.5:9443\n', '    url: https://10.105.1.5:9443\n    httpListen: 10.105.1.5:8080\n');
  const { spec, warnings } = parseSpec(text, 'flatcar.yaml');
  return planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), warnings);
}

describe('Ignition configs carry verification.hash for the agent and every image', () => {
  it('hosts, the fleet config and the boot listener copy', () => {
    const plan = flatcarFleetPlan();
    const { artifacts } = renderArtifacts(plan, placeholderSecrets, {
      coordinatorCa: TEST_COORDINATOR_CA,
      agentSha256: { amd64: SHA },
      isoTimestamp: new Date(0),
    });
    const configs = artifacts.filter((a) => a.path.endsWith('.ign'));
    expect(configs.map((a) => a.path)).toEqual([
      'hosts/cp1/config.ign',
      'hosts/cp2/config.ign',
      'hosts/cp3/config.ign',
      'hosts/worker1/config.ign',
      'hosts/worker2/config.ign',
      'fleet/config.ign',
      'coordinator/http/config.ign',
    ]);
    for (const a of configs) {
      const cfg = JSON.parse(a.content as string) as IgnitionConfig;
      const fetched = cfg.storage.files.filter((f) => !f.contents.source.startsWith('data:'));
      expect(Object.fromEntries(fetched.map((f) => [f.path, f.contents.verification?.hash])), a.path).toEqual({
        [IGNITION_AGENT_PATH]: `sha256-${SHA}`,
        [`/opt/extensions/kubernetes/${K8S}`]: `sha256-${'a'.repeat(64)}`,
        [`/opt/extensions/containerd/${CONTAINERD}`]: `sha256-${'b'.repeat(64)}`,
      });
    }
  });

  it('refuses to render an Ignition config without the agent digest, naming where it comes from', () => {
    const plan = flatcarFleetPlan();
    const render = (agentSha256: Record<string, string>) => () =>
      renderArtifacts(plan, placeholderSecrets, { coordinatorCa: TEST_COORDINATOR_CA, agentSha256, isoTimestamp: new Date(0) });
    expect(render({})).toThrow(PlanError);
    expect(render({})).toThrow(/no SHA-256 of the linux-amd64 agent executable .* \(npm run build\)/);
    expect(render({ amd64: 'not-hex' })).toThrow(PlanError);
    expect(render({ arm64: SHA })).toThrow(/linux-amd64/);
  });
});

describe('an arm64 host (spec.hosts[].arch)', () => {
  const ARM = 'a4a4'.padEnd(64, '0');
  function armPlan() {
    const text = readFileSync(join(ROOT, 'examples', 'flatcar-kube-vip.yaml'), 'utf8').replace(
      'name: worker1, role: worker,',
      'name: worker1, role: worker, arch: arm64,',
    );
    const { spec, warnings } = parseSpec(text, 'flatcar.yaml');
    expect(spec.hosts.find((h) => h.name === 'worker1')?.arch).toBe('arm64');
    return planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), warnings);
  }

  it('gets the digest of the linux-arm64 agent it fetches; generate is asked for both architectures', () => {
    const plan = armPlan();
    expect(agentArchesOf(plan.spec)).toEqual(['amd64', 'arm64']);
    const { artifacts } = renderArtifacts(plan, placeholderSecrets, {
      coordinatorCa: TEST_COORDINATOR_CA,
      agentSha256: { amd64: SHA, arm64: ARM },
      isoTimestamp: new Date(0),
    });
    const agentOf = (path: string) => {
      const cfg = JSON.parse(artifacts.find((a) => a.path === path)?.content as string) as IgnitionConfig;
      return cfg.storage.files.find((f) => f.path === IGNITION_AGENT_PATH)?.contents;
    };
    expect(agentOf('hosts/worker1/config.ign')).toMatchObject({
      source: expect.stringMatching(/linux-arm64$/),
      verification: { hash: `sha256-${ARM}` },
    });
    expect(agentOf('hosts/worker2/config.ign')).toMatchObject({
      source: expect.stringMatching(/linux-amd64$/),
      verification: { hash: `sha256-${SHA}` },
    });
    expect(() =>
      renderArtifacts(plan, placeholderSecrets, {
        coordinatorCa: TEST_COORDINATOR_CA,
        agentSha256: { amd64: SHA },
        isoTimestamp: new Date(0),
      }),
    ).toThrow(/linux-arm64/);
  });
});
