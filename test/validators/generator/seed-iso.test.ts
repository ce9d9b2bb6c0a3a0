/**
 * The generated NoCloud seed ISO is read back by the real cloud-init. The ISO is attached as a
 * read-only loop device and cloud-init's NoCloud datasource (no seed directory) must pick it by its
 * `cidata` label. Where the kernel can mount iso9660 that run applies the ISO end to end; this
 * sandbox's kernel has no iso9660 (and no modules to load), so the test then extracts the ISO's
 * files in user space with `isoinfo` (Rock Ridge names) and gives exactly those bytes to the real
 * cloud-init as its NoCloud seed. Mounting the ISO under a real Debian kernel is proven by
 * test/validators/formats (qemu).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { ROOT } from '../../support/fixtures.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

const skip = skipUnless('validators', { root: true, commands: ['cloud-init', 'losetup', 'unshare', 'blkid', 'isoinfo'] });
const SCRIPT = join(ROOT, 'test/support/cloud-init-overlay.sh');

/** What the instance cloud-init set up says its datasource was (`DataSourceNoCloud [seed=…]`), or '' for none. */
function datasourceOf(root: string): string {
  const instances = join(root, 'var/lib/cloud/instances');
  if (!existsSync(instances)) return '';
  return readdirSync(instances)
    .map((iid) => join(instances, iid, 'datasource'))
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
}

function runCloudInit(out: string, seedDir?: string): void {
  const r = spawnSync('unshare', ['--mount', '--uts', '--net', '--pid', '--ipc', '--fork', SCRIPT, out, ...(seedDir ? [seedDir] : [])], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
}

describe.skipIf(skip)('seed.iso through the real cloud-init NoCloud datasource', () => {
  const work = tempDir('ks-seed-');
  const probe = join(work, 'probe');
  const applied = join(work, 'applied');
  let loop = '';
  let credential = '';
  let mountedByKernel = false;
  beforeAll(async () => {
    const quiet = { stdout: () => {}, stderr: () => {}, env: {}, cwd: work, isTTY: false };
    expect(await main(['generate', join(ROOT, 'examples/kube-vip.yaml'), '--out', join(work, 'out')], quiet)).toBe(0);
    credential = JSON.parse(readFileSync(join(work, 'out/credentials/enrollment.json'), 'utf8')).hosts.cp2;
    const iso = join(work, 'out/hosts/cp2/seed.iso');
    loop = execFileSync('losetup', ['-f', '--show', '-r', iso], { encoding: 'utf8' }).trim();
    runCloudInit(probe);
    mountedByKernel = datasourceOf(probe).includes(loop);
    if (mountedByKernel) return;
    // User-space extraction of the ISO's Rock Ridge files: the seed cloud-init reads next.
    const seed = join(work, 'seed');
    mkdirSync(seed);
    for (const name of ['user-data', 'meta-data', 'network-config']) {
      writeFileSync(join(seed, name), execFileSync('isoinfo', ['-R', '-i', iso, '-x', `/${name}`]));
    }
    runCloudInit(applied, seed);
  }, 240_000);
  afterAll(() => {
    if (loop) spawnSync('losetup', ['-d', loop]);
    rmSync(work, { recursive: true, force: true });
  });

  it('the NoCloud datasource picks the ISO by its cidata label', () => {
    const log = readFileSync(join(probe, 'var/log/cloud-init.log'), 'utf8');
    expect(log).toContain(`Attempting to use data from ${loop}`);
    if (!mountedByKernel) expect(log).toMatch(/unknown filesystem type 'iso9660'/);
  });

  it('the ISO gave the instance id and hostname, and its user-data wrote the agent files with their modes', () => {
    const root = mountedByKernel ? probe : applied;
    expect(datasourceOf(root)).toMatch(/DataSourceNoCloud \[seed=/);
    const status = JSON.parse(readFileSync(join(root, 'var/lib/cloud/data/status.json'), 'utf8'));
    expect(status.v1['init-local'].errors).toEqual([]);
    expect(status.v1.init.errors).toEqual([]);
    const iid = /instance-id: (\S+)/.exec(readFileSync(join(work, 'out/hosts/cp2/meta-data'), 'utf8'))![1]!;
    expect(readFileSync(join(root, 'var/lib/cloud/data/instance-id'), 'utf8').trim()).toBe(iid);
    expect(readFileSync(join(root, 'etc/kubeseed/credential'), 'utf8').trim()).toBe(credential);
    expect(statSync(join(root, 'etc/kubeseed/credential')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(root, 'etc/kubeseed/agent.json'), 'utf8'))).toMatchObject({
      host: 'cp2',
      coordinatorUrl: 'https://10.103.1.5:9443',
    });
    expect(statSync(join(root, 'usr/local/lib/kubeseed/prepare-host.sh')).mode & 0o777).toBe(0o755);
  });
});
