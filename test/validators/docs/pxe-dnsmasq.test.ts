/**
 * docs/pxe.md's proxy-DHCP example is a dnsmasq configuration an operator copies as is: the real
 * dnsmasq (`dnsmasq --test`, Debian's dnsmasq-base) must accept that exact block, and the same
 * check must refuse it once a line is broken (so the test can fail).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../support/fixtures.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

const work = tempDir('ks-dnsmasq-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The ```ini block of docs/pxe.md that starts with the dnsmasq file's name. */
function dnsmasqBlock(): string {
  const doc = readFileSync(join(ROOT, 'docs', 'pxe.md'), 'utf8');
  const m = /```ini\n(# \/etc\/dnsmasq\.d\/kubeseed-pxe\.conf\n[\s\S]*?)```/.exec(doc);
  if (!m?.[1]) throw new Error('docs/pxe.md has no ```ini block starting with # /etc/dnsmasq.d/kubeseed-pxe.conf');
  return m[1];
}

function check(text: string): { code: number | null; out: string } {
  const file = join(work, `c-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, text);
  const r = spawnSync('dnsmasq', ['--test', '-C', file], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(skipUnless('validators', { commands: ['dnsmasq'] }))('docs/pxe.md dnsmasq example', () => {
  it('passes the real dnsmasq --test', () => {
    const block = dnsmasqBlock();
    expect(block).toContain('dhcp-range=10.101.1.0,proxy');
    expect(block).toContain('http://10.101.1.5:8080/boot.ipxe');
    const r = check(block);
    expect(r.out).toContain('syntax check OK');
    expect(r.code).toBe(0);
  });

  it('the same check refuses the block with a broken pxe-service line', () => {
    const broken = dnsmasqBlock().replace('pxe-service=tag:ipxe,x86PC,"kubeseed",', 'pxe-service=tag:ipxe,NoSuchArch,');
    const r = check(broken);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/error at line \d+/);
  });
});
