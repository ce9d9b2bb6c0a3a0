/**
 * Flatcar's boot-time containerd choice (templates/containerd-flatcar.ts, ADR 0021) run by the real
 * bash and shellcheck. The host's programs are stand-ins on PATH that reproduce what the script relies on:
 * `containerd --version` prints `containerd <package> v<version> <revision>` (cmd/containerd/command/main.go
 * VersionPrinter) for whatever /usr holds; `systemd-sysext refresh` re-merges: the linked extension
 * image's containerd replaces the built-in one unless the built-in link is masked with /dev/null.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderContainerdSelectScript } from '../../../templates/index.ts';
import { skipUnless } from '../../support/requirements.ts';
import { makeTempDir, run, writeFile } from './helpers.ts';

const skip = skipUnless('validators/templates containerd choice', { commands: ['bash', 'awk'] });

describe.skipIf(skip)('the Flatcar containerd choice, run by bash', () => {
  const top = makeTempDir('ctrd-select');
  afterAll(() => rmSync(top, { recursive: true, force: true }));
  let n = 0;

  /** A fake host: `builtin` is the built-in containerd's version ('' = none), `extension` the stored image's. */
  function host(builtin: string, opts: { imageStored?: boolean; refreshWorks?: boolean } = {}) {
    const dir = join(top, `h${n++}`);
    const bin = join(dir, 'bin');
    mkdirSync(join(dir, 'etc/extensions'), { recursive: true });
    mkdirSync(join(dir, 'opt/extensions/containerd'), { recursive: true });
    mkdirSync(bin);
    const image = join(dir, 'opt/extensions/containerd/containerd-2.3.4-x86-64.raw');
    if (opts.imageStored !== false) writeFileSync(image, 'extension image');
    const link = join(dir, 'etc/extensions/containerd.raw');
    const builtinLink = join(dir, 'etc/extensions/containerd-flatcar.raw');
    symlinkSync('/usr/share/flatcar/sysext/containerd-flatcar.raw', builtinLink);
    const merged = join(dir, 'merged-containerd');
    writeFileSync(merged, builtin);
    const calls = join(dir, 'calls');
    writeFile(
      bin,
      'containerd',
      `#!/bin/sh\nv=$(cat '${merged}')\n[ -n "$v" ] || exit 127\necho "containerd github.com/containerd/containerd/v2 v$v 0123abcd"\n`,
      0o755,
    );
    const refresh =
      opts.refreshWorks === false
        ? ''
        : `[ "$(readlink '${link}')" = '${image}' ] && [ "$(readlink '${builtinLink}')" = /dev/null ] && echo 2.3.4 > '${merged}'\n`;
    writeFile(bin, 'systemd-sysext', `#!/bin/sh\necho "systemd-sysext $*" >> '${calls}'\n${refresh}exit 0\n`, 0o755);
    writeFile(bin, 'systemctl', `#!/bin/sh\necho "systemctl $*" >> '${calls}'\n`, 0o755);
    const script = writeFile(
      dir,
      'select.sh',
      renderContainerdSelectScript({ imagePath: image, linkPath: link, builtinLinkPath: builtinLink }),
      0o755,
    );
    const boot = () => run('bash', [script], { env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } });
    const callsMade = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []);
    return { boot, callsMade, image, link, builtinLink };
  }

  it('keeps the built-in containerd 2.x and touches nothing (Flatcar stable ≥ 4459)', () => {
    const h = host('2.1.5');
    const r = h.boot();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'the built-in containerd is 2.0 or newer, used as is: containerd github.com/containerd/containerd/v2 v2.1.5',
    );
    expect(lstatSync(h.link, { throwIfNoEntry: false })).toBeUndefined();
    expect(readlinkSync(h.builtinLink)).toBe('/usr/share/flatcar/sysext/containerd-flatcar.raw');
    expect(h.callsMade()).toEqual([]);
  });

  it('switches a built-in containerd 1.7 to the stored extension, then keeps it on later boots', () => {
    const h = host('1.7.23');
    const r = h.boot();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "the built-in containerd is 'containerd github.com/containerd/containerd/v2 v1.7.23 0123abcd', older than 2.0",
    );
    expect(r.stdout).toContain('containerd from the extension: containerd github.com/containerd/containerd/v2 v2.3.4');
    expect(readlinkSync(h.link)).toBe(h.image);
    expect(readlinkSync(h.builtinLink)).toBe('/dev/null');
    expect(h.callsMade()).toEqual(['systemd-sysext refresh', 'systemctl daemon-reload']);
    // Next boot: the extension is linked already; nothing is switched again.
    const again = h.boot();
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('(chosen on an earlier boot)');
    expect(h.callsMade()).toEqual(['systemd-sysext refresh', 'systemctl daemon-reload']);
  });

  it('uses the extension when there is no containerd at all (the built-in masked by hand)', () => {
    const h = host('');
    const r = h.boot();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("the built-in containerd is 'missing', older than 2.0");
    expect(readlinkSync(h.link)).toBe(h.image);
  });

  it('fails, saying why, when the image is missing or the switch did not take', () => {
    const missing = host('1.7.23', { imageStored: false });
    const r1 = missing.boot();
    expect(r1.status).toBe(1);
    expect(r1.stdout).toContain(`and ${missing.image} is missing`);
    expect(missing.callsMade()).toEqual([]);
    const stuck = host('1.7.23', { refreshWorks: false });
    const r2 = stuck.boot();
    expect(r2.status).toBe(1);
    expect(r2.stdout).toContain("after the switch containerd is still 'containerd github.com/containerd/containerd/v2 v1.7.23 0123abcd'");
  });

  it.skipIf(run('shellcheck', ['--version']).status !== 0)('passes shellcheck', () => {
    const dir = join(top, 'sc');
    mkdirSync(dir);
    const path = writeFile(dir, 'select.sh', renderContainerdSelectScript({ imagePath: '/opt/x.raw', linkPath: '/etc/extensions/c.raw' }));
    const r = run('shellcheck', ['-s', 'bash', path]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
