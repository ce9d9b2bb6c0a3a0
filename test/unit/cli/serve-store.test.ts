/**
 * `kubeseed serve --store/--etcd-*` input checks (issue 20): the TLS files are read before anything
 * starts, and a flag that does not fit is exit 2 naming it. (The etcd store itself is shown against
 * a real etcd in test/validators/server/etcd-store.test.ts.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from './run-main.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
let dir = '';
let state = '';

beforeAll(async () => {
  dir = tempDir('ks-serve-store-');
  const r = await runMain(['generate', join(ROOT, 'examples/ha-stacked.yaml'), '--out', join(dir, 'out')], { cwd: ROOT });
  expect(r.code, r.err).toBe(0);
  state = join(dir, 'out', 'coordinator');
  writeFileSync(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\n');
}, 60_000);

describe('kubeseed serve --store', () => {
  it('an --etcd-* file that cannot be read is exit 2 naming the flag and the file', async () => {
    const missing = join(dir, 'nope.crt');
    const r = await runMain(['serve', '--state', state, '--store', 'etcd://127.0.0.1:1', '--etcd-ca', missing], { cwd: ROOT });
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--etcd-ca ${missing}: no such file`);
  });

  it('--etcd-* without an etcd:// store is exit 2', async () => {
    const r = await runMain(['serve', '--state', state, '--etcd-ca', join(dir, 'ca.crt')], { cwd: ROOT });
    expect(r.code).toBe(2);
    expect(r.err).toContain('--etcd-ca, --etcd-cert and --etcd-key go with --store etcd://HOST:PORT');
  });

  it('a store URL openStore cannot use is exit 2 naming it, before the coordinator listens', async () => {
    const r = await runMain(['serve', '--state', state, '--store', 'etcd://nohost'], { cwd: ROOT });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--store: store URL "etcd:\/\/nohost": "nohost" is not HOST:PORT/);
    expect(r.out).not.toMatch(/listening/);
  });

  it('--lease and --advertise are checked (exit 2 naming the flag) and go with an etcd store only', async () => {
    const etcd = ['--store', 'etcd://127.0.0.1:1'];
    for (const [args, message] of [
      [['--lease', '1', ...etcd], '--lease: "1" is not a whole number of seconds from 2 to 120'],
      [['--lease', '10s', ...etcd], '--lease: "10s" is not a whole number of seconds from 2 to 120'],
      [['--advertise', 'http://10.0.0.5:9443', ...etcd], '--advertise: "http://10.0.0.5:9443" is not an https://HOST:PORT URL'],
      [['--lease', '10'], '--lease and --advertise go with --store etcd://HOST:PORT'],
      [['--advertise', 'https://10.0.0.5:9443'], '--lease and --advertise go with --store etcd://HOST:PORT'],
    ] as const) {
      const r = await runMain(['serve', '--state', state, ...args], { cwd: ROOT });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toContain(message);
      expect(r.out).not.toMatch(/listening/);
    }
  });
});
