/**
 * Every generated #cloud-config passes the real `cloud-init schema` (Debian's cloud-init) and the
 * JSON schema shipped inside that package with unknown top-level keys refused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderCloudConfig } from '../../../generator/render/cloud-init.ts';
import { renderIgnition } from '../../../generator/render/ignition.ts';
import { EXAMPLES, IGNITION_EXAMPLES, planExample, ROOT, TEST_COORDINATOR_CA } from '../../support/fixtures.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

const skip = skipUnless('validators', { commands: ['cloud-init', 'python3'] });
const dir = tempDir('ks-userdata-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip)('cloud-init user-data validates', () => {
  const files: string[] = [];
  for (const example of EXAMPLES) {
    for (const hp of planExample(example).hosts) {
      const file = join(dir, `${example}--${hp.name}.yaml`);
      writeFileSync(file, renderCloudConfig(hp.provisioning!));
      files.push(file);
    }
  }

  it.each(files.map((f) => [f.split('/').pop()!, f]))('%s passes `cloud-init schema`', (_name, file) => {
    const r = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('Valid cloud-config');
    expect(r.status).toBe(0);
  });

  it('every file passes the shipped JSON schema with unknown top-level keys refused', () => {
    const r = spawnSync('python3', [join(ROOT, 'test/support/cloud-config-schema.py'), ...files], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the strict check does fail on an unknown key and a wrong type (it can fail)', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '#cloud-config\nwrite_file: []\nruncmd: 5\n');
    const r = spawnSync('python3', [join(ROOT, 'test/support/cloud-config-schema.py'), bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("unknown top-level key 'write_file'");
    expect(r.stdout).toContain('runcmd');
  });

  it('the generated scripts are valid bash', () => {
    for (const f of files.slice(0, 3)) {
      const doc = execFileSync('python3', ['-c', 'import sys,yaml,json;print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', f], {
        encoding: 'utf8',
      });
      for (const wf of JSON.parse(doc).write_files as { path: string; content: string }[]) {
        if (!wf.path.endsWith('.sh')) continue;
        const script = join(dir, 'script.sh');
        writeFileSync(script, wf.content);
        const r = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
        expect(r.stderr, wf.path).toBe('');
      }
    }
  });
});

describe.skipIf(skipUnless('validators', { commands: ['ignition-validate'] }))('Ignition configs validate', () => {
  for (const example of IGNITION_EXAMPLES) {
    const plan = planExample(example);
    for (const hp of plan.hosts) {
      it(`${example}/${hp.name} passes ignition-validate with no output`, () => {
        const host = plan.spec.hosts.find((h) => h.name === hp.name)!;
        const file = join(dir, `${example}--${hp.name}.ign`);
        // As generate writes it: the agent checked against a digest (a fixed one here, no build needed).
        const agentSha256 = createHash('sha256').update(example).digest('hex');
        writeFileSync(file, renderIgnition(hp.provisioning!, host, plan.spec, { coordinatorCa: TEST_COORDINATOR_CA, agentSha256 }));
        expect(readFileSync(file, 'utf8')).toContain(`"verification":{"hash":"sha256-${agentSha256}"}`);
        const r = spawnSync('ignition-validate', [file], { encoding: 'utf8' });
        expect(r.stdout + r.stderr).toBe('');
        expect(r.status).toBe(0);
      });
    }
  }
});
