/**
 * The Ubuntu autoinstall document is itself a `#cloud-config` the installer's cloud-init reads:
 * it must pass the real `cloud-init schema`, and so must the host cloud-config it carries.
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { renderUbuntuAutoinstall } from '../../../generator/render/pxe.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

const skip = skipUnless('validators', { commands: ['cloud-init'] });

const hostCloudConfig = `#cloud-config
hostname: k8s1worker1
fqdn: k8s1worker1.kloud.lan
write_files:
  - path: /etc/kubeseed/credential
    permissions: '0600'
    content: |
      fleet-credential-stand-in
runcmd:
  - [systemctl, start, kubeseed-agent.service]
`;

function schema(path: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('cloud-init', ['schema', '--config-file', path], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

describe.skipIf(skip)('autoinstall document against cloud-init schema', () => {
  let dir = '';
  beforeAll(() => {
    dir = tempDir('ks-autoinstall-');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the autoinstall document and the cloud-config it carries are valid cloud-config', async () => {
    const doc = renderUbuntuAutoinstall(hostCloudConfig);
    const outer = join(dir, 'autoinstall.yaml');
    writeFileSync(outer, doc);
    const r = await schema(outer);
    expect(r.out).toContain('Valid cloud-config');
    expect(r.code).toBe(0);

    const inner = join(dir, 'inner.yaml');
    writeFileSync(inner, `#cloud-config\n${YAML.stringify(YAML.parse(doc).autoinstall['user-data'])}`);
    const r2 = await schema(inner);
    expect(r2.out).toContain('Valid cloud-config');
    expect(r2.code).toBe(0);
  });

  it('the schema check can fail (a broken carried document is caught)', async () => {
    const doc = YAML.parse(renderUbuntuAutoinstall(hostCloudConfig));
    doc.autoinstall['user-data'].write_files[0].permissions = 600;
    const inner = join(dir, 'broken.yaml');
    writeFileSync(inner, `#cloud-config\n${YAML.stringify(doc.autoinstall['user-data'])}`);
    const r = await schema(inner);
    expect(r.code).not.toBe(0);
  });
});
