/**
 * `kubeseed store migrate` refusals through main() (issue 20): each is a clear message and exit 2
 * for the operator's input, exit 1 (bounded in time) for an etcd that does not answer — and none
 * of them changes the journal. The move itself, into a real etcd, is
 * test/validators/server/store-migrate.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../server/store/index.ts';
import { freePort } from '../../support/etcd-server.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runMain } from './run-main.ts';

let dir = '';
let state = '';
const sockets: Socket[] = [];
let silent: Server | undefined;

/** A state directory whose journal holds a started rollout (optionally sealed under a passphrase). */
async function stateWithJournal(name: string, passphrase?: string): Promise<string> {
  const stateDir = join(dir, name);
  mkdirSync(stateDir);
  const store = await openStore(`journal:${join(stateDir, 'store')}`, {
    ...(passphrase ? { passphrase } : {}),
    sealedPrefixes: ['step/'],
  });
  await store.commit({ puts: [{ key: 'lock/init', value: { holder: 'cp1' } }] });
  await store.commit({ puts: [{ key: 'step/cp1/kubeadm-init', value: { attempt: 1 } }] });
  await store.close();
  return stateDir;
}

const journalFiles = (stateDir: string) =>
  Object.fromEntries(readdirSync(join(stateDir, 'store')).map((f) => [f, readFileSync(join(stateDir, 'store', f), 'utf8')]));

beforeAll(async () => {
  dir = tempDir('ks-store-migrate-cli-');
  state = await stateWithJournal('plain');
}, 30_000);

afterAll(() => {
  for (const s of sockets) s.destroy();
  silent?.close();
  rmSync(dir, { recursive: true, force: true });
});

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => runMain(['store', ...argv], { cwd: dir, env });
const TO = 'etcd://127.0.0.1:1?prefix=kubeseed/t/';

describe('kubeseed store migrate: bad input is exit 2 with the fix', () => {
  it.each([
    [['frob', '--to', TO], 'kubeseed store frob: the store action is migrate'],
    [['migrate'], '--to URL is required'],
    [['migrate', '--to', 'journal:/tmp/x'], '--to journal:/tmp/x: store migrate moves a journal into etcd'],
    [['migrate', '--to', 'etcd://nohost'], '--to: store URL "etcd://nohost": "nohost" is not HOST:PORT'],
    [['migrate', '--to', 'etcd://127.0.0.1:2379?prefix='], 'prefix is empty'],
    [['migrate', '--to', TO, '--etcd-ca', '/nonexistent/ca.crt'], '--etcd-ca /nonexistent/ca.crt: no such file'],
    [['migrate', '--state', 'nope', '--to', TO], 'no state directory'],
  ])('kubeseed store %j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(message);
  });

  it('a state directory without a journal: names the directory; nothing is created', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const r = await run(['migrate', '--state', empty, '--to', TO]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`no journal in ${join(empty, 'store')}`);
    expect(readdirSync(empty)).toEqual([]);
  });

  it('a state directory without a journal is named before the default prefix is looked for', async () => {
    const r = await run(['migrate', '--state', join(dir, 'empty'), '--to', 'etcd://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no journal in');
  });

  it('without a prefix in the URL and no cluster.yaml to name the default one: says to give one', async () => {
    const r = await run(['migrate', '--state', state, '--to', 'etcd://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('so the default prefix kubeseed/<cluster>/ is unknown: give one in the URL');
  });

  it('a running coordinator (its serve lock held by a live process): stop it first (exit 1, as for any state directory in use)', async () => {
    writeFileSync(join(state, 'serve.lock'), `${process.pid}\n`);
    try {
      const r = await run(['migrate', '--state', state, '--to', TO]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        `stop the coordinator before moving its records: ${state} is in use by another \`kubeseed serve\` (pid ${process.pid})`,
      );
    } finally {
      rmSync(join(state, 'serve.lock'));
    }
  });

  it('an encrypted journal: no passphrase, or a wrong one, is exit 2 before etcd is asked; the journal is unchanged', async () => {
    const sealed = await stateWithJournal('sealed', 'right passphrase');
    const before = journalFiles(sealed);
    const none = await run(['migrate', '--state', sealed, '--to', TO]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('holds records encrypted with KUBESEED_PASSPHRASE');
    const wrong = await run(['migrate', '--state', sealed, '--to', TO], { KUBESEED_PASSPHRASE: 'wrong' });
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('cannot be decrypted with this KUBESEED_PASSPHRASE');
    expect(journalFiles(sealed)).toEqual(before);
  }, 30_000);
});

describe('kubeseed store migrate: etcd not answering is exit 1, in bounded time, nothing written', () => {
  it('connection refused (a serve lock left by a process that is gone is taken over, and said so)', async () => {
    const before = journalFiles(state);
    const gone = spawnSync('true').pid;
    writeFileSync(join(state, 'serve.lock'), `${gone}\n`);
    const port = await freePort();
    const r = await run(['migrate', '--state', state, '--to', `etcd://127.0.0.1:${port}?prefix=kubeseed/t/`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot reach etcd at etcd://127.0.0.1:${port}?prefix=kubeseed/t/`);
    expect(r.err).toContain('nothing was written');
    expect(r.err).toContain(`note: taking over ${join(state, 'serve.lock')} from pid ${gone}, which is gone`);
    expect(readdirSync(state)).not.toContain('serve.lock');
    expect(journalFiles(state)).toEqual(before);
  });

  it('an endpoint that accepts and never answers: given up after the request deadline', async () => {
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    const r = await run(['migrate', '--state', state, '--to', `etcd://127.0.0.1:${port}?prefix=kubeseed/t/`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no answer within 5000 ms');
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(readdirSync(join(state, 'store'))).not.toContain('moved.json');
  }, 20_000);
});
