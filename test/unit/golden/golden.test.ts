/**
 * Golden files: every example × host × artifact. Updated only deliberately (`vitest -u`), so a
 * change in what lands on machines shows up in review.
 */

import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { describeHostPlan, placeholderSecrets } from '../../../generator/plan/document.ts';
import { renderCloudConfig } from '../../../generator/render/cloud-init.ts';
import { renderIgnition } from '../../../generator/render/ignition.ts';
import { renderMetaData, renderNetworkConfig } from '../../../generator/render/network-config.ts';
import { EXAMPLES, IGNITION_EXAMPLES, planExample, TEST_COORDINATOR_CA } from '../../support/fixtures.ts';

describe.each(EXAMPLES)('example %s', (example) => {
  const plan = planExample(example);
  it('renders the same bytes twice (determinism)', () => {
    const again = planExample(example);
    for (const [i, h] of plan.hosts.entries())
      expect(renderCloudConfig(again.hosts[i]!.provisioning!)).toBe(renderCloudConfig(h.provisioning!));
  });
  for (const hp of plan.hosts) {
    const host = plan.spec.hosts.find((h) => h.name === hp.name)!;
    it(`${hp.name}: user-data, network-config, meta-data, plan`, async () => {
      const userData = renderCloudConfig(hp.provisioning!);
      await expect(userData).toMatchFileSnapshot(`files/${example}/${hp.name}.user-data`);
      await expect(renderNetworkConfig(host)).toMatchFileSnapshot(`files/${example}/${hp.name}.network-config`);
      await expect(renderMetaData(host, userData)).toMatchFileSnapshot(`files/${example}/${hp.name}.meta-data`);
      await expect(stringify(describeHostPlan(plan, hp.name, placeholderSecrets), { lineWidth: 0 })).toMatchFileSnapshot(
        `files/${example}/${hp.name}.plan.yaml`,
      );
    });
  }
});

/** A fixed stand-in for the digest `kubeseed generate` reads from the built agent: goldens never depend on a build. */
const GOLDEN_AGENT_SHA256 = '0123456789abcdef'.repeat(4);

describe.each(IGNITION_EXAMPLES)('Ignition example %s', (example) => {
  const plan = planExample(example);
  for (const hp of plan.hosts) {
    const host = plan.spec.hosts.find((h) => h.name === hp.name)!;
    it(`${hp.name}: config.ign, plan`, async () => {
      const ign = JSON.stringify(
        JSON.parse(
          renderIgnition(hp.provisioning!, host, plan.spec, { coordinatorCa: TEST_COORDINATOR_CA, agentSha256: GOLDEN_AGENT_SHA256 }),
        ),
        null,
        2,
      );
      await expect(`${ign}\n`).toMatchFileSnapshot(`files/${example}/${hp.name}.ign`);
      await expect(stringify(describeHostPlan(plan, hp.name, placeholderSecrets), { lineWidth: 0 })).toMatchFileSnapshot(
        `files/${example}/${hp.name}.plan.yaml`,
      );
    });
  }
});
