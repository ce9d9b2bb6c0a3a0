/**
 * `kubeseed upgrade SPEC --state DIR` and `kubeseed renew --state DIR` refuse before anything is
 * written: a skipped minor, a downgrade, changed hosts, hosts that have not finished the rollout.
 * (The happy path through the coordinator: demo-upgrade.test.ts.)
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from './run-main.ts';

let dir = '';
let state = '';
// The example at 1.35, so that skipping a minor stays within the versions a spec may name.
const spec = readFileSync('examples/ha-stacked.yaml', 'utf8').replace('kubernetesVersion: v1.37.0', 'kubernetesVersion: v1.35.4');
const withVersion = (v: string) => {
  const file = join(dir, `cluster-${v}.yaml`);
  writeFileSync(file, spec.replace('kubernetesVersion: v1.35.4', `kubernetesVersion: ${v}`));
  return file;
};

beforeAll(async () => {
  dir = tempDir('ks-day2-cli-');
  writeFileSync(join(dir, 'cluster.yaml'), spec);
  const r = await runMain(['generate', join(dir, 'cluster.yaml'), '--out', join(dir, 'out')], { cwd: dir });
  expect(r.code, r.err).toBe(0);
  state = join(dir, 'out', 'coordinator');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kubeseed upgrade / renew refusals', () => {
  it.each([
    ['v1.37.0', /1\.35\.4 → 1\.37\.0 skips a minor; upgrade to 1\.36\.x first/],
    ['v1.35.3', /1\.35\.3 is older than the running 1\.35\.4; kubeseed does not downgrade/],
  ])('%s is refused (exit 2) and nothing is written', async (version, message) => {
    const r = await runMain(['upgrade', withVersion(version), '--state', state], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(existsSync(join(state, 'day2.json'))).toBe(false);
    expect(readFileSync(join(state, 'cluster.yaml'), 'utf8')).toContain('kubernetesVersion: v1.35.4');
  });

  it('refuses while hosts have not finished the rollout (no coordinator records yet)', async () => {
    const up = await runMain(['upgrade', withVersion('v1.36.0'), '--state', state, '--dry-run'], { cwd: dir });
    expect(up.code).toBe(2);
    expect(up.err).toMatch(/hosts not Ready: .*k8s1master1.*; wait until they are Ready/);
    const renew = await runMain(['renew', '--state', state, '--dry-run'], { cwd: dir });
    expect(renew.code).toBe(2);
    expect(renew.err).toMatch(/hosts not Ready/);
  });

  it('refuses a spec whose hosts differ from the state', async () => {
    const file = join(dir, 'renamed.yaml');
    writeFileSync(file, spec.replace('kubernetesVersion: v1.35.4', 'kubernetesVersion: v1.36.0').replaceAll('k8s1lb2', 'k8s1lb9'));
    const r = await runMain(['upgrade', file, '--state', state], { cwd: dir });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/its hosts differ from the state's/);
  });
});

describe('kubeseed plan SPEC --state DIR', () => {
  it('plans the upgrade from the state instead of the rollout (same checks as kubeseed upgrade --dry-run)', async () => {
    const r = await runMain(['plan', withVersion('v1.37.0'), '--state', state], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/skips a minor/);
    expect(existsSync(join(state, 'day2.json'))).toBe(false);
  });
});
