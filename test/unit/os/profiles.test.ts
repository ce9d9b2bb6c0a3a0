/**
 * Adding an OS is one profile file plus its templates (issue 24, docs/adr/0028-os-profiles.md):
 * - a test-only profile registered in the table flows through planning and rendering (cloud-init
 *   and Ignition, hosts and PXE) with no other edit;
 * - nothing outside generator/os/ asks which family a spec has, except the places listed here
 *   with the reason they stay.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLATCAR } from '../../../generator/os/flatcar.ts';
import { OS_PROFILES, type OsProfile } from '../../../generator/os/index.ts';
import { placeholderSecrets } from '../../../generator/plan/document.ts';
import { planCluster } from '../../../generator/plan/plan.ts';
import type { IgnitionConfig } from '../../../generator/render/ignition.ts';
import { type Artifact, renderArtifacts } from '../../../generator/render/index.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec, OsFamily } from '../../../generator/spec/types.ts';
import { fixedContext, ROOT, TEST_COORDINATOR_CA } from '../../support/fixtures.ts';

const TEST_APT: OsProfile = {
  family: 'test-apt' as OsFamily,
  format: 'cloud-init',
  paths: { agent: '/opt/test-apt/bin/kubeseed-agent', tools: '/opt/test-apt/bin', containerdConfig: '/etc/test-apt/containerd.toml' },
  selinux: false,
  cloudInit: {
    renderPrepareScript: (_spec, role) => `#!/bin/sh\n# test-apt prepares a ${role}\n`,
    packages: (_spec, role) => [`test-apt-kube-${role}`],
  },
  pxe: {
    assets: (dir) => ({ kernelUrl: `${dir}/test.kernel`, initrdUrl: `${dir}/test.initrd` }),
    kernelArgs: (input, check) => [`test.seed=${check.httpUrl(input.seedUrl ?? '', 'seedUrl')}`],
    seed: 'fleet',
  },
};

const TEST_IGNITION: OsProfile = {
  ...FLATCAR,
  family: 'test-ignition' as OsFamily,
  paths: { ...FLATCAR.paths, agent: '/opt/test-ign/kubeseed-agent' },
  selinux: true,
  ignition: {
    ...FLATCAR.ignition!,
    network: 'networkmanager',
    timeFile: (servers) => ({ path: '/etc/test-ign/time.conf', content: `${servers.join(',')}\n` }),
    updatePolicy: { path: '/etc/test-ign/updates.conf', content: 'off\n' },
    prepare: () => [
      { file: { path: '/etc/test-ign/prepared', content: 'yes\n', mode: 0o644 } },
      { unit: { name: 'test-ign-prepare.service', enabled: true, contents: '[Service]\nExecStart=/bin/true\n' }, reservedFor: 'test' },
    ],
    enableContainerd: true,
  },
  pxe: { ...FLATCAR.pxe, assets: (dir) => ({ kernelUrl: `${dir}/ign.kernel`, initrdUrl: `${dir}/ign.initrd` }) },
};

const table = OS_PROFILES as Record<string, OsProfile>;
beforeAll(() => {
  table['test-apt'] = TEST_APT;
  table['test-ignition'] = TEST_IGNITION;
});
afterAll(() => {
  delete table['test-apt'];
  delete table['test-ignition'];
});

/** An example spec whose os.family is swapped for a test family after validation. */
function render(example: string, family: string, edit: (text: string) => string = (t) => t) {
  const parsed = parseSpec(edit(readFileSync(join(ROOT, 'examples', example), 'utf8')), example);
  const spec: ClusterSpec = { ...parsed.spec, os: { ...parsed.spec.os, family: family as OsFamily, timeServers: ['ntp.test'] } };
  const plan = planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), parsed.warnings);
  const { artifacts } = renderArtifacts(plan, placeholderSecrets, {
    coordinatorCa: TEST_COORDINATOR_CA,
    agentSha256: { amd64: 'ab'.repeat(32) },
    isoTimestamp: new Date(0),
  });
  const text = (path: string) => {
    const a = artifacts.find((x: Artifact) => x.path === path);
    if (!a) throw new Error(`no ${path} among ${artifacts.map((x) => x.path).join(', ')}`);
    return typeof a.content === 'string' ? a.content : Buffer.from(a.content as Uint8Array).toString('utf8');
  };
  return { plan, text };
}

describe('a profile registered in the table is all a new OS needs', () => {
  it('cloud-init: the profile decides the prepare script, packages, paths and PXE boot', () => {
    const { plan, text } = render('fleet-pxe.yaml', 'test-apt');
    const userData = text('hosts/m1/user-data');
    expect(userData).toContain('# test-apt prepares a control-plane');
    expect(userData).toContain('ExecStart=/opt/test-apt/bin/kubeseed-agent');
    expect(userData).toContain('/etc/test-apt/containerd.toml');
    expect(text('plan/m1.yaml')).toContain('test-apt-kube-control-plane');
    expect(plan.steps.some((s) => s.id === 'm1/prepare-host')).toBe(true);
    const ipxe = text('pxe/fleet.ipxe');
    expect(ipxe).toContain('/assets/test-apt/test.kernel');
    expect(ipxe).toContain('test.seed=http://10.106.1.5:8080/nocloud/fleet/');
  });

  it('Ignition: the profile decides the network stack, time, updates, preparation and containerd', () => {
    const { plan, text } = render('flatcar-kube-vip.yaml', 'test-ignition');
    const cfg = JSON.parse(text('hosts/cp1/config.ign')) as IgnitionConfig;
    const paths = cfg.storage.files.map((f) => f.path);
    expect(paths).toContain('/opt/test-ign/kubeseed-agent');
    expect(paths).toEqual(expect.arrayContaining(['/etc/test-ign/time.conf', '/etc/test-ign/updates.conf', '/etc/test-ign/prepared']));
    expect(paths.some((p) => p.startsWith('/etc/NetworkManager/system-connections/'))).toBe(true);
    expect(paths.some((p) => p.startsWith('/opt/extensions/'))).toBe(false);
    const units = Object.fromEntries(cfg.systemd.units.map((u) => [u.name, u]));
    expect(units['test-ign-prepare.service']?.enabled).toBe(true);
    expect(units['containerd.service']?.enabled).toBe(true);
    expect(plan.steps.some((s) => s.kind === 'prepare-host')).toBe(false);
    const containerd = cfg.storage.files.find((f) => f.path === '/etc/containerd/config.toml');
    expect(containerd).toBeDefined();
  });
});

/** Where a family is still named outside generator/os/, and why it stays there. */
const ALLOWED: Record<string, string> = {
  'generator/spec/parse.ts': 'spec validation: the default family, and Fedora CoreOS-only mirror fields (spec validation owns them)',
  'generator/spec/integrity.ts': 'spec validation: sysext digests are read only for Flatcar',
  'generator/versions.ts':
    "the versions table's one-line containerd description for `kubeseed plan` (the versions part of issue 24 owns it)",
};
/** A decision on the family: a comparison with a family name, a `case` of one, or an "is this CoreOS" helper. */
const FAMILY_DECISION =
  /(family\s*[!=]==|[!=]==\s*'(ubuntu|debian|flatcar|fedora-coreos)'|case\s+'(ubuntu|debian|flatcar|fedora-coreos)'|isCoreOs|ignitionFamily\s*=\s*family)/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

describe('nothing outside generator/os/ asks which OS family a spec has', () => {
  const found = new Map<string, string[]>();
  for (const file of [...sources(join(ROOT, 'generator')), ...sources(join(ROOT, 'templates'))]) {
    if (file.startsWith('generator/os/')) continue;
    const hits = readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .flatMap((line, i) => (FAMILY_DECISION.test(line) && !/^\s*(\*|\/\/)/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
    if (hits.length) found.set(file, hits);
  }

  it('finds such decisions only in the listed places', () => {
    const unexpected = [...found].filter(([file]) => !(file in ALLOWED)).flatMap(([, hits]) => hits);
    expect(unexpected, 'ask osProfile(spec) (generator/os/) instead').toEqual([]);
  });

  it('keeps the list true: every listed place still decides on the family', () => {
    expect(Object.keys(ALLOWED).filter((file) => !found.has(file))).toEqual([]);
  });
});
