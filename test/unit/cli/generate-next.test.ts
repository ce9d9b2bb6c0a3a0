/**
 * What `kubeseed generate` says to do next (issue 21): a newcomer following it must end with
 * booted machines — serve where the hosts reach the coordinator (with the agent executables, or
 * mirrors.agent), then boot them the way the platform does (deploy.sh on Proxmox, with destroy.sh
 * to undo it; the seed ISO or Ignition file elsewhere), then watch.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../support/fixtures.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from './run-main.ts';

const work = tempDir('ks-next-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function generate(spec: string, out: string): Promise<string> {
  const r = await runMain(['generate', spec, '--out', out], { cwd: work });
  expect(r.code).toBe(0);
  return r.out;
}

describe('kubeseed generate: next steps', () => {
  it('Proxmox: serve (with the agent executables), deploy.sh on the node, destroy.sh to undo, then watch', async () => {
    const out = join(work, 'pve');
    const text = await generate(join(ROOT, 'examples', 'ha-stacked.yaml'), out);
    const next = text.slice(text.indexOf('next:'));
    expect(next).toContain(`1. kubeseed serve --state ${out}/coordinator   on a machine the hosts reach at https://10.101.1.5:9443;`);
    expect(next).toContain(
      'serves the agent executables from dist/ (npm ci builds them; else npm run build) and refuses to start without them',
    );
    expect(next).toContain(
      `2. copy ${out}/proxmox/ to Proxmox node pve1 and run bash deploy.sh there as root (bash destroy.sh removes those VMs again)`,
    );
    expect(next).toContain(`3. watch: the status page URL serve prints, or kubeseed status --state ${out}/coordinator --watch`);
    expect(existsSync(join(out, 'proxmox', 'destroy.sh'))).toBe(true);
  });

  it('elsewhere: the seed ISO to attach, and the agent mirror when the spec has one', async () => {
    const spec = join(work, 'mirrored.yaml');
    writeFileSync(
      spec,
      readFileSync(join(ROOT, 'examples', 'kube-vip.yaml'), 'utf8').replace(
        /^spec:\n/m,
        'spec:\n  mirrors: { agent: "https://mirror.lan/kubeseed/agent/" }\n',
      ),
    );
    const out = join(work, 'generic');
    const next = (await generate(spec, out)).split('next:')[1] ?? '';
    expect(next).toContain('agents download their executable from https://mirror.lan/kubeseed/agent/');
    expect(next).toContain(`2. boot each machine with ${out}/hosts/<host>/seed.iso attached`);
  });
});
