/**
 * The pure pieces of issue 18's hardening: terminal escaping of remote strings, what the log shows
 * of a URL, the per-source connection cap and reading the open-file limit.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { terminalSafe, terminalSafeDeep } from '../../../cli/status.ts';
import { openFileLimit } from '../../../server/serve.ts';
import { connectionsPerSource, loggableUrl } from '../../../server/transport.ts';
import { tempDir } from '../../support/temp-dir.ts';

describe('terminalSafe', () => {
  it('shows C0, C1, DEL and bidi controls escaped and leaves printable text alone', () => {
    expect(terminalSafe('a\x1b]52;c;Zm9v\x07b')).toBe('a\\x1b]52;c;Zm9v\\x07b');
    expect(terminalSafe('\x9b2J\x7f\u202e')).toBe('\\x9b2J\\x7f\\u202e');
    expect(terminalSafe('kubeadm join · ok — ü')).toBe('kubeadm join · ok — ü');
    expect(terminalSafe('a\nb')).toBe('a\\x0ab');
    expect(terminalSafe('a\nb', true)).toBe('a\nb');
  });

  it('deep: log tails keep their lines, every other string is one line', () => {
    const doc = terminalSafeDeep({ message: 'x\ny', steps: [{ lastReport: { logTail: 'l1\n\x1b[2Jl2' } }], n: 3 });
    expect(doc).toEqual({ message: 'x\\x0ay', steps: [{ lastReport: { logTail: 'l1\n\\x1b[2Jl2' } }], n: 3 });
  });
});

describe('loggableUrl', () => {
  it('is the route pattern, never the path or query as sent', () => {
    expect(loggableUrl('/v1/admin/hosts/:host/retry', '/v1/admin/hosts/w1/retry')).toBe('/v1/admin/hosts/:host/retry');
    expect(loggableUrl('/v1/status', '/v1/status?token=secret')).toBe('/v1/status?[REDACTED]');
    expect(loggableUrl(undefined, '/abcdef0123456789secret')).toBe('[no route]');
  });
});

describe('connection limits', () => {
  it('one source gets a quarter of the connections, between 64 and 1024', () => {
    expect(connectionsPerSource(undefined)).toBe(1024);
    expect(connectionsPerSource(192)).toBe(64);
    expect(connectionsPerSource(2000)).toBe(500);
    expect(connectionsPerSource(1_000_000)).toBe(1024);
  });

  it('reads the soft open-file limit from a /proc limits file', () => {
    const dir = tempDir('ks-limits-');
    try {
      const file = join(dir, 'limits');
      writeFileSync(
        file,
        'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            256                  4096                 files     \n',
      );
      expect(openFileLimit(file)).toBe(256);
      expect(openFileLimit(join(dir, 'missing'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
