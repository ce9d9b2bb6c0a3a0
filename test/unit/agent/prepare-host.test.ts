/**
 * The prepare-host executor with real processes: bash runs a script (a host path below a temporary
 * root, as the agent's Fs maps it), its output is bounded and kept, a failure is classified (here
 * the script replays a REAL apt output from fixtures/prepare), success writes the sentinel so that a
 * second release answers without running the script again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeExec, createRootFs, systemClock } from '../../../agent/node-io.ts';
import { DEFAULT_STEP_TIMING, executeStep as executeReleasedStep, type StepContext } from '../../../agent/steps/index.ts';
import type { ReleasedStep } from '../../../protocol/index.ts';
import { type WireStep, wireStep } from '../../support/wire-step.ts';
import { makeTempRoot, scriptedNet } from './support.ts';

/** Steps as tests write them (loose params, see test/support/wire-step.ts). */
const executeStep = (step: WireStep | ReleasedStep, ctx: StepContext) => executeReleasedStep(wireStep(step as WireStep), ctx);

const roots: Array<{ cleanup(): void }> = [];
afterAll(() => {
  for (const r of roots) r.cleanup();
});

function host(script: string) {
  const r = makeTempRoot('ks-prepare-');
  roots.push(r);
  // A host path: the agent's Fs maps it below the root, and so does the path it gives bash (Fs.realPath).
  const path = '/usr/local/lib/kubeseed/prepare-host.sh';
  r.write(path, script, 0o755);
  const ctx: StepContext = {
    fs: createRootFs(r.root),
    exec: createNodeExec(),
    net: scriptedNet(),
    clock: systemClock,
    log: () => undefined,
    stateDir: '/var/lib/kubeseed',
    timing: { ...DEFAULT_STEP_TIMING, commandTimeoutMs: 5_000 },
  };
  const step = (attempt: number): WireStep => ({
    id: 'w1/prepare-host',
    kind: 'prepare-host',
    host: 'w1',
    attempt,
    files: [],
    params: { prepareScript: path },
    redact: [],
  });
  return { ctx, step, marker: join(r.root, 'usr/local/lib/kubeseed/runs') };
}

describe('prepare-host', () => {
  it('runs the script as argv with English tool messages, then answers from its sentinel', async () => {
    const h = host('#!/bin/bash\necho "kubeseed-prepare: LC_ALL=$LC_ALL"\necho run >> "$(dirname "$0")/runs"\n');
    const first = await executeStep(h.step(1), h.ctx);
    expect(first).toMatchObject({ outcome: 'succeeded' });
    expect(first.logTail).toContain('kubeseed-prepare: LC_ALL=C.UTF-8');
    expect(first.logTail).toMatch(/\$ \/bin\/bash \S+\/prepare-host\.sh/);
    const second = await executeStep(h.step(2), h.ctx);
    expect(second).toMatchObject({ outcome: 'succeeded' });
    expect(second.logTail).toContain('already succeeded');
    expect(readFileSync(h.marker, 'utf8')).toBe('run\n');
  });

  it('a failure carries the classified reason, the tool output and a one-line summary; no sentinel', async () => {
    const apt = readFileSync(join(import.meta.dirname, 'fixtures/prepare/script-key-mismatch.txt'), 'utf8').replace(/\nexit \d+\n?$/, '\n');
    const h = host(`#!/bin/bash\ncat >&2 <<'EOF'\n${apt}EOF\nexit 1\n`);
    const report = await executeStep(h.step(1), h.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'key-mismatch', permanent: true });
    expect(report.logTail).toContain('E: The repository');
    expect(report.logTail.trimEnd().split('\n').at(-1)).toMatch(/^failed: key-mismatch: W: GPG error: .*NO_PUBKEY/);
    // Not answered from a sentinel: a retry runs the script again.
    expect((await executeStep(h.step(2), h.ctx)).outcome).toBe('failed');
  });

  it('a transient failure is not permanent (the coordinator retries it with backoff)', async () => {
    const h = host(
      '#!/bin/bash\necho "curl: (7) Failed to connect to 10.0.0.6 port 8080 after 0 ms: Couldn\'t connect to server" >&2\necho "kubeseed-prepare: ERROR: repository-unreachable: cannot download the repository key http://10.0.0.6:8080/k8s/Release.key (curl exit 7)" >&2\nexit 1\n',
    );
    const report = await executeStep(h.step(1), h.ctx);
    expect(report).toMatchObject({ outcome: 'failed', reason: 'repository-unreachable' });
    expect(report.permanent).toBeUndefined();
  });

  it('a missing script is a permanent failure naming the file', async () => {
    const h = host('#!/bin/bash\n');
    const step = { ...h.step(1), params: { prepareScript: '/nowhere/prepare-host.sh' } };
    const report = await executeStep(step, h.ctx);
    expect(report).toMatchObject({ outcome: 'failed', permanent: true });
    expect(report.logTail).toContain('/nowhere/prepare-host.sh is missing');
  });
});
