/** The operator token file `kubeseed serve` keeps in the state directory, and the link it prints. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureOperatorToken, OPERATOR_TOKEN_FILE, statusPageUrl } from '../../../generator/cli/status.ts';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ks-token-'));
  dirs.push(dir);
  return dir;
}

describe('ensureOperatorToken', () => {
  it('creates a 256-bit token with mode 0600, then returns the same one on every restart', async () => {
    const dir = tempDir();
    const first = await ensureOperatorToken(dir);
    expect(first.created).toBe(true);
    expect(first.path).toBe(join(dir, OPERATOR_TOKEN_FILE));
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(first.path, 'utf8')).toBe(`${first.token}\n`);
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    const again = await ensureOperatorToken(dir);
    expect(again).toEqual({ ...first, created: false });
    expect((await ensureOperatorToken(tempDir())).token).not.toBe(first.token);
  });

  it('tightens a loosened mode and replaces an empty file', async () => {
    const dir = tempDir();
    const path = join(dir, OPERATOR_TOKEN_FILE);
    writeFileSync(path, 'kept-token\n', { mode: 0o644 });
    expect((await ensureOperatorToken(dir)).token).toBe('kept-token');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileSync(path, '\n');
    const replaced = await ensureOperatorToken(dir);
    expect(replaced.created).toBe(true);
    expect(replaced.token).toHaveLength(43);
  });

  it('two concurrent starts agree on one token', async () => {
    const dir = tempDir();
    const [a, b] = await Promise.all([ensureOperatorToken(dir), ensureOperatorToken(dir)]);
    expect(a.token).toBe(b.token);
    expect([a.created, b.created].sort()).toEqual([false, true]);
  });
});

describe('statusPageUrl', () => {
  it('puts the token in the fragment of the coordinator origin', () => {
    expect(statusPageUrl('https://10.101.1.5:9443', 'abc_-1')).toBe('https://10.101.1.5:9443/#token=abc_-1');
    expect(statusPageUrl('https://coord.lan:9443/some/path?x=1', 'a+b')).toBe('https://coord.lan:9443/#token=a%2Bb');
  });
});
