/**
 * One digest for the built agent everywhere (issue 23 item 8): `npm run build` writes
 * dist/SHA256SUMS, which the real `sha256sum -c` accepts; the coordinator's
 * `/agent/linux-<arch>.sha256` route (what install-agent.sh checks on cloud-init hosts) and the
 * `verification.hash` that `kubeseed generate` writes into every Ignition config name the same
 * SHA-256, and the route's gzip body gunzips to the bytes it names.
 * Builds dist/ first when it is missing or older than the agent's sources.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { buildApp } from '../../server/app.ts';
import { MemoryStore } from '../../server/store/index.ts';
import { ROOT } from '../support/fixtures.ts';
import { skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { FakeKubernetes, makeInputs } from '../unit/server/support.ts';
import { ensureAgentBuilt } from './agent-build.ts';

const DIST = join(ROOT, 'dist');
const work = tempDir('ks-agent-digest-');
beforeAll(() => ensureAgentBuilt(), 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** dist/SHA256SUMS as file name → hex digest. */
function sums(): Record<string, string> {
  const text = readFileSync(join(DIST, 'SHA256SUMS'), 'utf8');
  return Object.fromEntries(
    text
      .trimEnd()
      .split('\n')
      .map((line) => {
        const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
        if (!m) throw new Error(`dist/SHA256SUMS: "${line}" is not sha256sum output`);
        return [m[2], m[1]];
      }),
  );
}

describe.skipIf(skipUnless('validators', { commands: ['sha256sum'] }))('the built agent has one digest', () => {
  it('dist/SHA256SUMS lists both executables and the real sha256sum -c accepts it', () => {
    expect(Object.keys(sums())).toEqual(expect.arrayContaining(['kubeseed-agent-linux-arm64', 'kubeseed-agent-linux-x64']));
    const r = spawnSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: DIST, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('kubeseed-agent-linux-x64: OK\n');
    expect(r.status).toBe(0);
  });

  it("the coordinator's .sha256 route and the gzip it serves agree with SHA256SUMS", async () => {
    const app = buildApp(makeInputs(makePlan({ workers: 1 })), {
      store: new MemoryStore(),
      kubernetes: new FakeKubernetes(),
      distDir: DIST,
      warmAgentCache: false,
    });
    try {
      // amd64 only: gzip-compressing a 100 MiB executable takes seconds on a busy runner; the code is per-arch alike.
      const sum = await app.inject({ url: '/agent/linux-amd64.sha256' });
      expect(sum.statusCode).toBe(200);
      expect(sum.body).toBe(`${sums()['kubeseed-agent-linux-x64']}  kubeseed-agent\n`);
      const gz = await app.inject({ url: '/agent/linux-amd64' });
      expect(createHash('sha256').update(gunzipSync(gz.rawPayload)).digest('hex')).toBe(sums()['kubeseed-agent-linux-x64']);
    } finally {
      await app.close();
    }
  }, 180_000);

  it('kubeseed generate writes that digest into every Ignition config', async () => {
    const out = join(work, 'out');
    let stdout = '';
    const code = await main(['generate', join(ROOT, 'examples', 'flatcar-kube-vip.yaml'), '--out', out, '--json'], {
      stdout: (s) => {
        stdout += s;
      },
      stderr: () => {},
      env: {},
      cwd: work,
      isTTY: false,
    });
    expect(code).toBe(0);
    const sha256 = sums()['kubeseed-agent-linux-x64'];
    expect(JSON.parse(stdout).agentSha256).toEqual({ amd64: sha256 });
    const cfg = JSON.parse(readFileSync(join(out, 'hosts', 'cp1', 'config.ign'), 'utf8'));
    const agent = cfg.storage.files.find((f: { path: string }) => f.path === '/opt/bin/kubeseed-agent');
    expect(agent.contents.verification).toEqual({ hash: `sha256-${sha256}` });
  }, 120_000);
});
