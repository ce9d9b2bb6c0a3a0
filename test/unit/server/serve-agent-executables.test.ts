/**
 * `kubeseed serve` without the agent executables (issue 21): machines would fetch
 * `/agent/linux-<arch>` at first boot and get 404, visible only on a VM console. serve refuses to
 * start instead, naming what is missing and the fix — unless spec.mirrors.agent serves them.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_ARCHES, agentExecutablesRefusal } from '../../../server/agent-binaries.ts';
import { runServe, type ServeHandle } from '../../../server/serve.ts';
import { makePlan } from './fixtures.ts';
import { FakeKubernetes, makeInputs } from './support.ts';

const dirs: string[] = [];
const handles: ServeHandle[] = [];
afterAll(async () => {
  for (const h of handles) await h.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

function serve(stateDir: string, distDir: string, mirror?: string) {
  const plan = makePlan({ workers: 1 });
  if (mirror) plan.spec.mirrors.agent = mirror;
  return runServe({
    stateDir,
    distDir,
    listen: '127.0.0.1:0',
    loadState: async () => ({ ...makeInputs(plan), kubernetes: new FakeKubernetes() }),
    print: () => {},
    handleSignals: false,
    logger: { level: 'silent' },
  });
}

describe('kubeseed serve without the agent executables', () => {
  it('refuses to start, naming every missing executable and the fix, and writes no operator token', async () => {
    const stateDir = tempDir('ks-noagent-');
    const dist = tempDir('ks-dist-');
    await expect(serve(stateDir, dist)).rejects.toThrow(
      /kubeseed-agent-linux-x64, kubeseed-agent-linux-arm64 are missing in .*404 from \/agent\/linux-<arch>.*Fix: .*--dist DIR.*spec\.mirrors\.agent/,
    );
    expect(existsSync(join(stateDir, 'operator-token'))).toBe(false);
  });

  it('refuses when one arch is missing', async () => {
    const dist = tempDir('ks-dist-');
    writeFileSync(join(dist, AGENT_ARCHES['linux-amd64']), 'x');
    expect(agentExecutablesRefusal(dist)).toMatch(/the agent executables kubeseed-agent-linux-arm64 are missing/);
  });

  it('names `npm run build` in a clone and a reinstall from a packed tarball elsewhere', () => {
    const clone = tempDir('ks-clone-');
    mkdirSync(join(clone, 'scripts'));
    writeFileSync(join(clone, 'scripts', 'build.mjs'), '');
    mkdirSync(join(clone, 'node_modules', 'postject'), { recursive: true });
    expect(agentExecutablesRefusal(join(clone, 'dist'))).toContain(`run \`npm run build\` in ${clone}`);
    const installed = tempDir('ks-installed-');
    expect(agentExecutablesRefusal(join(installed, 'dist'))).toContain('npm install -g ./kubeseed-*.tgz');
  });

  it('starts when both executables are there, or when spec.mirrors.agent serves them', async () => {
    const dist = tempDir('ks-dist-');
    for (const file of Object.values(AGENT_ARCHES)) writeFileSync(join(dist, file), 'x');
    const built = await serve(tempDir('ks-agent-'), dist);
    handles.push(built);
    expect(built.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const mirrored = await serve(tempDir('ks-mirror-'), tempDir('ks-empty-dist-'), 'https://mirror.example/kubeseed/');
    handles.push(mirrored);
    expect(mirrored.url).toMatch(/^https:/);
  });
});
