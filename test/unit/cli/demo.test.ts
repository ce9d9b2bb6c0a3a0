/**
 * `kubeseed demo --json`: a real coordinator and real agent processes on loopback (TEST DOUBLES of
 * kubeadm & co.). Checks the rollout order the design promises and that nothing is left behind.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { main } from '../../../cli/main.ts';
import { type DemoStep, runInPrivateTmp } from './demo-support.ts';
import { runMain } from './run-main.ts';

type Step = DemoStep;

describe('kubeseed demo', () => {
  it('rolls out etcd → one init → CNI → control planes one at a time → workers, and cleans up (-o yaml)', async () => {
    // Its own temporary directory, so demos that other processes run meanwhile cannot look like leftovers.
    const started = Date.now();
    const { code, out, err, privateTmp } = await runInPrivateTmp(['demo', '-o', 'yaml', '--workers', '3'], 'ks-demo-test-');
    // Machine output: its stderr ends up in logs, so the operator token is named by its file, never printed.
    expect(err).toMatch(/^operator token: in \S+\/operator-token$/m);
    expect(err).not.toMatch(/operator token: [^i]/);
    const result = parseYaml(out) as { ok: boolean; steps: Step[]; hosts: { name: string; done: boolean; cleanedUp: boolean }[] };
    expect(code, err.slice(-3000)).toBe(0);
    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.hosts.every((h) => h.done)).toBe(true);
    // The demo ends only when every agent has cleaned up (credential deleted, `done` heartbeat sent):
    // it once stopped the agents as the last step succeeded, leaving cp1's spent credential behind.
    expect(result.hosts.filter((h) => !h.cleanedUp).map((h) => h.name)).toEqual([]);

    const steps = result.steps;
    const of = (kind: string) => steps.filter((s) => s.kind === kind);
    const [init, ...moreInits] = of('kubeadm-init');
    expect(init).toBeDefined();
    expect(moreInits).toEqual([]);
    for (const e of of('etcd-start')) expect(e.endMs).toBeLessThanOrEqual(init!.startMs);
    const cni = of('cni-apply')[0]!;
    expect(cni.startMs).toBeGreaterThanOrEqual(init!.endMs);
    const cpJoins = of('kubeadm-join-control-plane').sort((a, b) => a.startMs - b.startMs);
    expect(cpJoins.map((s) => s.host)).toEqual(['cp2', 'cp3']);
    expect(cpJoins[1]!.startMs).toBeGreaterThanOrEqual(cpJoins[0]!.endMs);
    for (const j of [...cpJoins, ...of('kubeadm-join-worker')]) expect(j.startMs).toBeGreaterThanOrEqual(cni.endMs);
    const workers = of('kubeadm-join-worker');
    expect(workers).toHaveLength(3);
    // workerParallelism 2: at no instant do three workers join at once.
    for (const w of workers) expect(workers.filter((x) => x.startMs <= w.startMs && x.endMs > w.startMs).length).toBeLessThanOrEqual(2);
    expect(of('verify')[0]!.startMs).toBeGreaterThanOrEqual(Math.max(...workers.map((w) => w.endMs)));

    expect(readdirSync(privateTmp).filter((d) => d.startsWith('kubeseed-demo-'))).toEqual([]);
    rmSync(privateTmp, { recursive: true, force: true });
  }, 90_000);
});

/** GET over HTTPS without checking the certificate (the demo's own CA): the status code and body. */
function getPage(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += String(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('kubeseed demo, as a person runs it (issue 21)', () => {
  it('shows the status page URL (served while it runs) and the operator token, and ends with what to run next', async () => {
    let out = '';
    let err = '';
    let page: Promise<{ status: number; body: string }> | undefined;
    const code = await main(['demo', '--keep', '--workers', '1'], {
      stdout: (s) => {
        out += s;
        const url = /^status page: +(https:\/\/127\.0\.0\.1:\d+\/)/m.exec(out)?.[1];
        if (url && !page) page = getPage(url);
      },
      stderr: (s) => {
        err += s;
      },
      env: {},
      cwd: process.cwd(),
      isTTY: false,
    });
    const work = /kept (\S+)/.exec(err)?.[1] ?? '';
    try {
      // These lines come whether or not the rollout finished in time (the test above checks that).
      expect([0, 1], out + err).toContain(code);
      expect(work).not.toBe('');
      const token = readFileSync(join(work, 'out', 'coordinator', 'operator-token'), 'utf8').trim();
      expect(out).toContain(`operator token: ${token}  (paste it when the page asks`);
      expect(page).toBeDefined();
      const answer = await page!;
      expect(answer.status).toBe(200);
      expect(answer.body).toMatch(/<html/i);
      expect(out).toMatch(
        /\nnext: your own cluster — kubeseed init --out cluster\.yaml, .*; this rollout again in the status page: kubeseed serve --state \S+\/out\/coordinator\n$/,
      );
      // cp1's agent reported the certificates kubeadm made at init (from the coordinator's real CAs):
      // `kubeseed certs` lists them from the kept records.
      const certs = await runMain(['certs', '--state', join(work, 'out', 'coordinator'), '-o', 'json'], { cwd: process.cwd() });
      expect(certs.code, certs.err).toBe(0);
      const rows = (JSON.parse(certs.out) as { certificates: { file: string; source: string; daysLeft: number; hosts: string[] }[] })
        .certificates;
      for (const leaf of ['apiserver.crt', 'apiserver-kubelet-client.crt', 'front-proxy-client.crt'])
        expect(rows.find((r) => r.file === `cp1:/etc/kubernetes/pki/${leaf}`)).toMatchObject({
          source: 'kubeadm',
          hosts: ['cp1'],
          daysLeft: 364,
        });
    } finally {
      // Retries: a kubeadm/kubectl double an agent started can still be writing when a slow rollout was cut off.
      if (work.startsWith(join(tmpdir(), 'kubeseed-demo-')))
        rmSync(work, { recursive: true, force: true, maxRetries: 60, retryDelay: 500 });
    }
  }, 150_000);

  it('lists --keep in its usage', async () => {
    const { code, out } = await runMain(['demo', '--help'], { cwd: process.cwd() });
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: kubeseed demo .*\[--keep\]/m);
  });
});
