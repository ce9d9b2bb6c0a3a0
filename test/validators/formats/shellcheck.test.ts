/**
 * The shell scripts the format renderers generate — Proxmox `deploy.sh`, the Ignition
 * first-boot script and the day-2 Kubernetes apt source script — have no shellcheck findings at any severity. A planted defect shows the
 * check can fail.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderFirstbootScript } from '../../../generator/render/ignition.ts';
import { renderProxmox } from '../../../generator/render/proxmox.ts';
import { renderKubernetesAptSourceScript } from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { makeProvisioning, makeSpec } from '../../unit/render-formats/fixtures.ts';

const skip = skipUnless('validators', { commands: ['shellcheck'] });

function deployScript(variant: 'full' | 'minimal'): string {
  const spec = makeSpec('ubuntu');
  spec.proxmox =
    variant === 'full'
      ? { node: 'pve1', templateVmid: 9000, storage: 'local-lvm', snippetStorage: 'local', bridge: 'vmbr0' }
      : { node: 'pve1', templateVmid: 9000, snippetStorage: 'local' };
  if (variant === 'minimal') spec.hosts = spec.hosts.map((h) => ({ ...h, mac: undefined }));
  else spec.hosts = spec.hosts.map((h, i) => (i === 0 ? { ...h, uuid: '4c4c4544-0042-3010-8057-b4c04f4e3132' } : h));
  const hosts = spec.hosts.map((h) => ({ name: h.name, userData: '#cloud-config\n', metaData: 'instance-id: x\n' }));
  return renderProxmox(spec, hosts).files.find((f) => f.path === 'proxmox/deploy.sh')?.content ?? '';
}

describe.skipIf(skip)('generated shell scripts pass shellcheck', () => {
  const dir = tempDir('ks-shellcheck-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function shellcheck(name: string, text: string): { code: number; out: string } {
    const path = join(dir, name);
    writeFileSync(path, text);
    try {
      return { code: 0, out: execFileSync('shellcheck', ['--shell', 'bash', '--severity', 'style', path]).toString() };
    } catch (e) {
      const err = e as { status?: number; stdout?: Buffer };
      return { code: err.status ?? 1, out: err.stdout?.toString() ?? '' };
    }
  }

  const p = makeProvisioning('k8s1master1');
  it.each([
    ['deploy.sh (storage, bridge, MACs, a UUID)', deployScript('full')],
    ['deploy.sh (no storage, no MACs)', deployScript('minimal')],
    ['first-boot script', renderFirstbootScript('k8s1master1', p.commands, ['oneshot.service'])],
    [
      'day-2 Kubernetes apt source script (with a proxy)',
      renderKubernetesAptSourceScript({ kubernetesVersion: 'v1.37.0', proxy: { https: 'http://proxy.lan:3128', noProxy: ['127.0.0.1'] } }),
    ],
  ])('%s', (name, text) => {
    expect(text.length).toBeGreaterThan(0);
    expect(shellcheck(`${name.replace(/\W+/g, '-')}.sh`, text)).toEqual({ code: 0, out: '' });
  });

  it('reports a planted defect', () => {
    const r = shellcheck('broken.sh', deployScript('full').replace('install_snippets() {', 'install_snippets() {\n  cd $HERE'));
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('SC2086');
  });
});
