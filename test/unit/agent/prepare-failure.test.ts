/**
 * The classification of failed host preparations on REAL apt, dpkg and curl outputs (fixtures/prepare,
 * README.md there says how each was produced), and on the prepare script's own lines.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyPrepareFailure, failedSection } from '../../../agent/steps/prepare-failure.ts';

const DIR = join(import.meta.dirname, 'fixtures/prepare');

/** The fixture's output and its exit status (its last line, `exit N`). */
function fixture(name: string): { output: string; code: number } {
  const text = readFileSync(join(DIR, name), 'utf8');
  const m = /\nexit (\d+)\n?$/.exec(text);
  if (!m) throw new Error(`${name}: no closing "exit N" line`);
  return { output: text.slice(0, m.index + 1), code: Number(m[1]) };
}

describe('classifyPrepareFailure on real outputs', () => {
  const cases: [string, string, boolean, RegExp][] = [
    [
      'script-repository-unreachable.txt',
      'repository-unreachable',
      false,
      /cannot download the repository key http:\/\/127\.0\.0\.1:9\/k8s\/Release\.key/,
    ],
    ['script-repository-unreachable-retry.txt', 'repository-unreachable', false, /Could not connect to 127\.0\.0\.1:18081/],
    ['apt-unreachable.txt', 'repository-unreachable', false, /Failed to fetch http:\/\/127\.0\.0\.1:9\/k8s\/InRelease/],
    ['script-key-mismatch.txt', 'key-mismatch', true, /NO_PUBKEY/],
    ['apt-key-mismatch.txt', 'key-mismatch', true, /NO_PUBKEY/],
    ['script-package-not-found.txt', 'package-not-found', true, /no version of kubelet matching/],
    ['apt-package-not-found.txt', 'package-not-found', true, /Unable to locate package kubelet/],
    ['apt-dpkg-locked.txt', 'dpkg-locked', false, /lock-frontend/],
    ['apt-disk-full.txt', 'disk-full', true, /enough free space in \/var\/cache\/apt\/archives/],
    ['dpkg-disk-full.txt', 'disk-full', true, /No space left on device/],
    ['apt-dpkg-interrupted.txt', 'dpkg-interrupted', true, /dpkg --configure -a/],
    ['apt-download-failed.txt', 'download-failed', false, /does not have a Release file/],
    ['curl-404.txt', 'download-failed', false, /returned error: 404/],
  ];
  it.each(cases)('%s → %s', (name, reason, permanent, summary) => {
    const { output, code } = fixture(name);
    expect(code).not.toBe(0);
    const got = classifyPrepareFailure({ output, code, timedOut: false });
    expect(got.reason).toBe(reason);
    expect(got.permanent).toBe(permanent);
    expect(got.summary).toMatch(summary);
    expect(got.summary).not.toContain('\n');
    expect(got.summary.length).toBeLessThanOrEqual(300);
  });
});

describe("classifyPrepareFailure on the script's own lines", () => {
  const run = (output: string, extra: { code?: number | null; timedOut?: boolean } = {}) =>
    classifyPrepareFailure({ output, code: extra.code === undefined ? 1 : extra.code, timedOut: extra.timedOut ?? false });

  it('takes the reason the script names over tool messages of earlier sections', () => {
    // An air-gapped image: its default sources warn at every update, but the version is what is missing.
    const got = run(
      [
        'kubeseed-prepare: apt-get update',
        "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'",
        'kubeseed-prepare: ERROR: package-not-found: no version of kubelet matching ^1\\.37\\.0- in the configured repositories',
      ].join('\n'),
    );
    expect(got).toMatchObject({ reason: 'package-not-found', permanent: true });
    expect(got.summary).toMatch(/^no version of kubelet/);
  });

  it('ignores warnings of sections that went well', () => {
    const output = [
      'kubeseed-prepare: apt-get update',
      "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'",
      'kubeseed-prepare: kernel modules: overlay br_netfilter',
      'kubeseed-prepare: ERROR: cannot load kernel module overlay',
    ].join('\n');
    expect(failedSection(output)).toBe(
      'kubeseed-prepare: kernel modules: overlay br_netfilter\nkubeseed-prepare: ERROR: cannot load kernel module overlay',
    );
    expect(run(output)).toMatchObject({ reason: 'unknown', summary: 'cannot load kernel module overlay', permanent: false });
  });

  it('names an unsupported OS', () => {
    expect(run('kubeseed-prepare: ERROR: unsupported-os: alpine (supported: Ubuntu 22.04/24.04, Debian 12/13)')).toMatchObject({
      reason: 'unsupported-os',
      permanent: true,
    });
  });

  it('an unknown word before a colon is no reason', () => {
    expect(run('kubeseed-prepare: ERROR: swap: still on').reason).toBe('unknown');
  });

  it('a script that ran out of time', () => {
    expect(run('kubeseed-prepare: apt-get update\n', { code: null, timedOut: true })).toMatchObject({
      reason: 'timed-out',
      permanent: false,
    });
  });

  it('a script killed without a word', () => {
    expect(run('', { code: null })).toMatchObject({ reason: 'unknown', summary: 'prepare script killed' });
  });
});
