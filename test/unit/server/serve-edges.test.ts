/** The operator-facing edges of `kubeseed serve`: the printed URL and the operator token file. */
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureOperatorToken } from '../../../generator/state/index.ts';
import { operatorUrl } from '../../../server/serve.ts';
import { tempDir } from '../../support/temp-dir.ts';

const dir = tempDir('ks-serve-');

describe('operatorUrl', () => {
  it.each([
    ['https://0.0.0.0:9443', 'https://10.1.0.5:9443', 'https://10.1.0.5:9443'],
    ['https://[::]:9443', 'https://k8s.lan:9443', 'https://k8s.lan:9443'],
    ['https://0.0.0.0:19443', 'https://10.1.0.5:9443', 'https://10.1.0.5:19443'],
    ['https://127.0.0.1:9443', 'https://10.1.0.5:9443', 'https://127.0.0.1:9443'],
  ])('%s with agents on %s → %s', (listen, coordinator, expected) => expect(operatorUrl(listen, coordinator)).toBe(expected));
});

describe('ensureOperatorToken', () => {
  it('creates a 0600 token once, returns the same one after, and tightens a loosened file', async () => {
    const token = await ensureOperatorToken(dir);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = join(dir, 'operator-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    chmodSync(file, 0o644);
    expect(await ensureOperatorToken(dir)).toBe(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${token}\n`);
  });
});
