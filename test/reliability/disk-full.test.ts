/**
 * A full disk, for real: the coordinator (test/unit/server/serve-entry.ts, i.e. runServe with the
 * durable JournalStore, whose records include the audit trail) runs in a private mount namespace on a 4 MiB tmpfs
 * state directory. The test fills that tmpfs (through /proc/PID/root) until the kernel answers
 * ENOSPC, then: writes fail → requests fail with 503 (never another 5xx) → the state stays what
 * it was → space returns → the same requests succeed and are durable. A tmpfs rather than the
 * FailingStore because it exercises every writer (journal appends, fsync) with the kernel's own
 * error, not only the Store interface. Also: an audit record that cannot be written (the kernel's
 * ENOSPC from /dev/full) refuses the hand-out with 503 — no secret leaves unaudited.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../server/app.ts';
import { AUDIT_PREFIX } from '../../server/rollout/audit.ts';
import { type CommitResult, JournalStore, MemoryStore, StoreError, type StoreTxn } from '../../server/store/index.ts';
import { injectSigned, nextStep, reportSuccess } from '../support/fuzz-harness.ts';
import { missingRequirements, skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';
import { freePort, prepareStateDir } from '../unit/server/child-server.ts';
import { makePlan } from '../unit/server/fixtures.ts';
import { createAgent, enrollBody, FakeKubernetes, makeInputs, signedHeaders } from '../unit/server/support.ts';

const skip = skipUnless('reliability', { root: true, commands: ['unshare', 'mount'] });
const ENTRY = join(import.meta.dirname, '..', 'unit', 'server', 'serve-entry.ts');
const started: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Starts serve-entry.ts inside `unshare --mount` on a fresh tmpfs at `state`; its mounts vanish with it. */
function startOnTmpfs(dir: string, state: string, port: number): Promise<ChildProcess> {
  const script =
    'mount -t tmpfs -o size=4m,mode=0700 kubeseed-test "$1" && cp "$2/tls.crt" "$2/tls.key" "$1/" && exec "$3" --import tsx "$4" "$1" "$5" 3 stacked';
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', state, dir, process.execPath, ENTRY, String(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`coordinator did not start: ${out}`)), 30_000);
    const onData = (chunk: Buffer) => {
      out += String(chunk);
      if (out.includes('listening on')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited (${code}) before listening: ${out}`));
    });
  });
}

/** Writes into `path` until the file system refuses with ENOSPC; returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8, 1]) {
      const chunk = Buffer.alloc(size, 0x7a);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

describe.skipIf(skip)('a full disk under the durable store (tmpfs in a private mount namespace)', () => {
  it('writes fail → 503, state intact, service continues once space returns', async () => {
    expect(missingRequirements({ root: true })).toBeNull();
    const dir = tempDir('ks-diskfull-');
    dirs.push(dir);
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    const { ca } = prepareStateDir(dir);
    const port = await freePort();
    const child = await startOnTmpfs(dir, state, port);
    // The tmpfs as the coordinator sees it; the test's own namespace sees the empty directory.
    const inside = `/proc/${child.pid}/root${state}`;
    const token = readFileSync(join(inside, 'operator-token'), 'utf8').trim();
    const dispatcher = new Agent({ connect: { ca } });
    const base = `https://127.0.0.1:${port}`;
    const call = async (method: 'GET' | 'POST', path: string, agent?: ReturnType<typeof createAgent>, body?: unknown) => {
      const payload = body === undefined ? '' : JSON.stringify(body);
      const headers = agent ? signedHeaders(agent, method, path, payload, Date.now()) : { authorization: `Bearer ${token}` };
      const res = await request(`${base}${path}`, {
        method,
        dispatcher,
        headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) },
        ...(payload ? { body: payload } : {}),
        headersTimeout: 15_000,
      });
      const text = await res.body.text();
      return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
    };
    const status = async () => {
      const res = await call('GET', '/v1/status');
      expect(res.status).toBe(200);
      const s = res.json as { hosts: { name: string; enrolled: boolean; steps: { id: string; state: string; attempt: number }[] }[] };
      return JSON.stringify(s.hosts.map((h) => [h.name, h.enrolled, h.steps.map((x) => [x.id, x.state, x.attempt])]));
    };
    try {
      const plan = makePlan({ workers: 3, workerParallelism: 3 });
      const agents = new Map(plan.hosts.map((h, i) => [h.name, createAgent(h.name, i)]));
      for (const name of ['lb1', 'lb2', 'cp1']) {
        const res = await call('POST', '/v1/enroll', undefined, enrollBody(agents.get(name)!));
        expect(res.status, JSON.stringify(res.json)).toBe(200);
      }
      const before = await status();

      const filled = fill(join(inside, 'filler'));
      expect(filled).toBeGreaterThan(1 << 20);
      // Enrollments need a journal append. The journal's last page may still hold a record or
      // two, so keep going (bounded) until the disk refuses; every refusal must be a clean 503.
      const refused: number[] = [];
      const statuses: number[] = [];
      let accepted = 0;
      for (const name of ['w1', 'w2', 'w3', 'cp2', 'cp3']) {
        const res = await call('POST', '/v1/enroll', undefined, enrollBody(agents.get(name)!));
        statuses.push(res.status);
        if (res.status === 503) {
          refused.push(res.status);
          expect((res.json as { code: string }).code).toBe('UNAVAILABLE');
        } else {
          expect(res.status).toBe(200);
          accepted++;
        }
      }
      expect(refused.length, `statuses on a full disk: ${statuses.join(',')}`).toBeGreaterThan(0);
      // State intact: only the accepted enrollments (durable before their 200) changed anything.
      const during = await status();
      if (accepted === 0) expect(during).toBe(before);
      const enrolledDuring = (JSON.parse(during) as [string, boolean][]).filter(([, e]) => e).map(([n]) => n);

      // Space returns: the same requests succeed, and the rollout moves on.
      unlinkSync(join(inside, 'filler'));
      for (const name of ['w1', 'w2', 'w3', 'cp2', 'cp3']) {
        const res = await call('POST', '/v1/enroll', undefined, enrollBody(agents.get(name)!));
        expect(res.status, JSON.stringify(res.json)).toBe(200);
      }
      const lb1 = await call('GET', '/v1/next?wait=2000', agents.get('lb1'));
      expect(lb1.status).toBe(200);
      // What was acknowledged is in the journal on the tmpfs (read by a second store instance).
      const journal = new JournalStore(join(inside, 'store'));
      await journal.open();
      for (const name of [...enrolledDuring, 'w1', 'w2', 'w3', 'cp2', 'cp3'])
        expect(journal.get<{ enrollment?: unknown }>(`host/${name}`)?.value.enrollment, name).toBeDefined();
      await journal.close();
      console.log(
        `[reliability] full disk: ${refused.length} requests refused with 503 on ENOSPC, ${accepted} fitted in the journal's last page, all accepted once space returned`,
      );
    } finally {
      await dispatcher.close();
    }
  });
});

/** A store whose audit records meet a full disk: each such commit first writes to /dev/full and fails with the kernel's error. */
class FullDiskForAudit extends MemoryStore {
  refused = 0;
  override commit(txn: StoreTxn): Promise<CommitResult> {
    if (!txn.puts?.some((p) => p.key.startsWith(AUDIT_PREFIX))) return super.commit(txn);
    const fd = openSync('/dev/full', 'w');
    try {
      writeSync(fd, JSON.stringify(txn.puts));
      throw new Error('/dev/full accepted a write');
    } catch (error) {
      this.refused++;
      return Promise.reject(new StoreError('the journal could not be written', error));
    } finally {
      closeSync(fd);
    }
  }
}

describe('an audit record that cannot be written', () => {
  it('refuses the hand-out with 503 and no secret leaves (kernel ENOSPC from /dev/full)', async () => {
    const plan = makePlan({ workers: 1 });
    const store = new FullDiskForAudit();
    await store.open();
    const app = buildApp(makeInputs(plan), { store, kubernetes: new FakeKubernetes(), defaultWaitMs: 50 });
    try {
      await app.ready();
      const agents = new Map(plan.hosts.map((h, i) => [h.name, createAgent(h.name, i)]));
      for (const agent of agents.values())
        expect((await app.inject({ method: 'POST', url: '/v1/enroll', payload: enrollBody(agent) })).statusCode).toBe(200);
      for (const lb of ['lb1', 'lb2']) await reportSuccess(app, agents.get(lb)!, (await nextStep(app, agents.get(lb)!))!);
      const res = await injectSigned(app, agents.get('cp1')!, 'GET', '/v1/next?wait=3000');
      const init0 = app.coordinator
        .status()
        .hosts.find((h) => h.name === 'cp1')!
        .steps.find((s) => s.id === 'cp1/kubeadm-init')!;
      expect(res.statusCode, `${res.body}; init is ${init0.state}`).toBe(503);
      // The step is not failed for it: it is handed out once the audit log can be written.
      const init = app.coordinator
        .status()
        .hosts.find((h) => h.name === 'cp1')!
        .steps.find((s) => s.id === 'cp1/kubeadm-init')!;
      expect(init.state).toBe('released');
      expect(res.body).not.toContain('BEGIN');
      expect(res.body).not.toContain('abcdef.0123456789abcdef');
      expect(store.refused).toBeGreaterThan(0);
      expect(app.coordinator.auditTrail()).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
