/**
 * The status page in Debian's chromium (driven by playwright-core, headless, background
 * networking off, a fresh profile) against a real coordinator on 127.0.0.1 whose fleet the test
 * simulates through the agent API. Proves: no data without the operator token (an agent's
 * credential does not open it, and the token never travels in a URL); every host shown; live
 * updates without a reload; a failure with its log lines; security events; no secret on the page.
 */
import { rmSync } from 'node:fs';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless } from '../support/requirements.ts';
import { tempDir } from '../support/temp-dir.ts';
import { FAKE_PKI_KEY } from '../unit/server/fixtures.ts';
import { credentialOf, OPERATOR_TOKEN, type SimulatedRollout, startSimulation } from '../unit/status/rollout-sim.ts';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium-args.ts';

const skip = skipUnless('browser', { commands: [CHROMIUM] });

const WAIT = { timeout: 10_000, interval: 50 };

/** Polls the DOM (vitest has no web-first assertions); a missing element reads as null. */
async function attrOf(locator: Locator, name: string): Promise<string | null> {
  return locator.count().then((n) => (n === 0 ? null : locator.first().getAttribute(name, { timeout: 1000 })));
}
async function textOf(locator: Locator): Promise<string> {
  return locator.count().then(async (n) => (n === 0 ? '' : ((await locator.first().textContent({ timeout: 1000 })) ?? '')));
}
const state = (page: Page, host: string) => attrOf(page.locator(`[data-host="${host}"]`), 'data-state');

describe.skipIf(skip)('status page in chromium', () => {
  let sim: SimulatedRollout;
  let context: BrowserContext;
  let profile: string;
  const requested: string[] = [];

  beforeAll(async () => {
    sim = await startSimulation({ listen: true, workers: 3 });
    profile = tempDir('ks-chromium-');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      // The test coordinator's certificate is self-signed for 127.0.0.1.
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 900 },
      timeout: 30_000,
    });
    context.on('request', (request) => requested.push(request.url()));
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await sim?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function openPage(hash = ''): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${sim.url}/${hash}`);
    return page;
  }

  it('refuses access without the operator token, and an agent credential does not open it', async () => {
    const page = await openPage();
    await expect.poll(() => textOf(page.locator('h1').first()), WAIT).toBe('operator token required');
    expect(await page.locator('[data-host]').count()).toBe(0);

    await page.fill('#token', credentialOf('cp1'));
    await page.click('button[type=submit]');
    await page.locator('.gate-error').waitFor();
    expect(await page.locator('.gate-error').textContent()).toContain('refused');
    expect(await page.locator('[data-host]').count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.getItem('kubeseed.operatorToken'))).toBeNull();

    // The API itself, without and with a wrong token.
    const codes = await page.evaluate(async (credential) => {
      const bare = await fetch('/v1/status');
      const agent = await fetch('/v1/status', { headers: { authorization: `Bearer ${credential}` } });
      const events = await fetch('/v1/events', { headers: { authorization: `Bearer ${credential}` } });
      return [bare.status, agent.status, events.status];
    }, credentialOf('cp1'));
    expect(codes).toEqual([401, 401, 401]);
    await page.close();
  });

  it('shows every host, updates live as steps complete (no reload), and shows a failure with its log lines', async () => {
    const page = await openPage(`#token=${OPERATOR_TOKEN}`);
    await page.locator('[data-view=status]').waitFor();
    // The fragment is gone from the address bar; the token never appeared in a request URL.
    expect(new URL(page.url()).hash).toBe('');
    for (const host of sim.hosts) await expect.poll(() => state(page, host), WAIT).toBe('not-enrolled');
    expect(await page.locator('[data-host]').count()).toBe(sim.hosts.length);
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });

    // w3's install script could not verify the agent: its beacon marks the card, live, until w3 enrolls.
    const beacon = await sim.app.inject({
      method: 'POST',
      url: '/v1/install-failed',
      payload: {
        protocol: 1,
        credential: credentialOf('w3'),
        host: 'w3',
        reason: 'agent-checksum-mismatch',
        logTail: 'kubeseed-install-agent: ERROR: checksum mismatch for http://mirror/agent/linux-amd64\n',
        hostname: 'w3-vm',
        machineId: '',
        arch: 'x86_64',
      },
    });
    expect(beacon.statusCode).toBe(200);
    const marked = page.locator('[data-host="w3"]');
    await expect.poll(() => attrOf(marked, 'data-state'), WAIT).toBe('failed');
    await expect
      .poll(() => textOf(marked.locator('.install-failed .line-error')), WAIT)
      .toBe('error install failed: agent-checksum-mismatch');
    await expect.poll(() => textOf(marked.locator('.install-failed pre')), WAIT).toContain('checksum mismatch');
    await expect.poll(() => textOf(page.locator('.failures')), WAIT).toContain('w3 — install failed: agent-checksum-mismatch');

    await sim.enroll(...sim.hosts);
    await expect.poll(() => marked.locator('.install-failed').count(), WAIT).toBe(0);
    await expect.poll(() => state(page, 'cp2'), WAIT).toBe('waiting');
    await expect.poll(() => textOf(page.locator('[data-host="cp2"] .gate-text')), WAIT).not.toBe('');

    // Load balancers check in; cp1 gets kubeadm-init.
    await sim.succeedReleased(['lb1', 'lb2']);
    await expect.poll(() => state(page, 'lb1'), WAIT).toBe('done');
    await expect.poll(() => state(page, 'cp1'), WAIT).toBe('running');
    await expect.poll(() => textOf(page.locator('[data-host="cp1"] .current')), WAIT).toBe('kubeadm-init');
    await expect.poll(() => page.locator('[data-gantt-host="lb1"] [data-step="lb1/lb-check"]').count(), WAIT).toBe(1);

    await sim.heartbeat('cp1', 'kubeadm', 'init: waiting for the API server');
    await expect.poll(() => textOf(page.locator('[data-host="cp1"] .line-agent')), WAIT).toContain('waiting for the API server');

    // init and CNI succeed: the workers and cp2 are released.
    await sim.succeedReleased(['cp1']);
    await sim.succeedReleased(['cp1']);
    await expect.poll(() => state(page, 'w1'), WAIT).toBe('running');

    // w2 fails for good, with a log that also carries a released secret (redacted by the coordinator).
    await sim.runNext('w2', 'failed', {
      reason: 'kubeadm-exit-1',
      permanent: true,
      logTail: [
        '[preflight] Running pre-flight checks',
        'using token abcdef.0123456789abcdef',
        FAKE_PKI_KEY,
        'error execution phase preflight: port 10250 is in use',
      ].join('\n'),
    });
    const failed = page.locator('[data-host="w2"]');
    await expect.poll(() => attrOf(failed, 'data-state'), WAIT).toBe('failed');
    await expect.poll(() => textOf(failed.locator('.line-error')), WAIT).toContain('kubeadm-exit-1');
    await expect.poll(() => textOf(failed.locator('details.log pre')), WAIT).toContain('port 10250 is in use');
    await expect.poll(() => textOf(failed.locator('details.log pre')), WAIT).toContain('[preflight] Running pre-flight checks');
    await expect.poll(() => textOf(page.locator('.failures')), WAIT).toContain('kubeseed retry w2');
    await expect.poll(() => attrOf(page.locator('[data-outcome]'), 'data-outcome'), WAIT).toBe('failed');

    // A cloned machine presents cp1's credential: a security event appears.
    expect(await sim.enrollClone('cp1')).toBe(409);
    await expect.poll(() => page.locator('[data-security="identity-mismatch"]').count(), WAIT).toBe(1);

    // Every connection drops (a proxy restart, a laptop waking up): the page reconnects by itself.
    sim.app.server.closeAllConnections();
    await expect.poll(() => attrOf(page.locator('[data-connection]'), 'data-connection'), WAIT).toBe('reconnecting');
    await expect.poll(() => attrOf(page.locator('[data-connection]'), 'data-connection'), WAIT).toBe('live');
    await sim.heartbeat('w3', 'kubeadm join', 'after the reconnect');
    await expect.poll(() => textOf(page.locator('[data-host="w3"] .line-agent')), WAIT).toContain('after the reconnect');

    // The rest of the rollout, then the operator's retry of w2: the page reaches "done".
    await sim.runToEnd(sim.hosts.filter((h) => h !== 'w2'));
    const retry = await sim.app.inject({
      method: 'POST',
      url: '/v1/admin/hosts/w2/retry',
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(retry.statusCode, retry.body).toBe(200);
    await sim.runToEnd();
    await expect.poll(() => attrOf(page.locator('[data-outcome]'), 'data-outcome'), WAIT).toBe('done');
    for (const host of sim.hosts) await expect.poll(() => state(page, host), WAIT).toBe('done');
    expect(sim.status().done).toBe(true);

    // Same document all along: no reload happened.
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    const text = (await page.locator('body').textContent()) ?? '';
    expect(text).not.toContain('abcdef.0123456789abcdef');
    expect(text).not.toContain('FAKECAKEYMATERIAL');
    expect(text).not.toContain(OPERATOR_TOKEN);
    expect(requested.filter((u) => u.includes(OPERATOR_TOKEN))).toEqual([]);
    expect(requested.filter((u) => !u.startsWith(sim.url) && !u.startsWith('data:'))).toEqual([]);

    // A phone: nothing wider than the screen; the timeline scrolls inside its own box.
    await page.setViewportSize({ width: 390, height: 844 });
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      gantt: document.querySelector('.gantt')?.scrollWidth ?? 0,
      box: document.querySelector('.gantt-scroll')?.clientWidth ?? 0,
    }));
    expect(widths.page).toBeLessThanOrEqual(390);
    expect(widths.gantt).toBeGreaterThan(widths.box);

    // "forget token" drops it: the gate again, no data, nothing kept in the tab.
    await page.click('button.link');
    await expect.poll(() => textOf(page.locator('h1').first()), WAIT).toBe('operator token required');
    expect(await page.locator('[data-host]').count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  });
  it('says which replica answers when it is a standby on etcd, and who leads', async () => {
    const leader = { id: 'a/1', url: 'https://10.0.0.5:9443' };
    const standby = {
      current: () => ({ id: 'b/2', role: 'standby' as const, store: 'etcd' as const, leader }),
      onLeader: () => {},
      onLostLead: () => {},
    };
    const replicaSim = await startSimulation({ listen: true, workers: 1, replica: standby });
    try {
      // Last in this file: the request log above checks that every request went to the main simulation.
      const page = await context.newPage();
      await page.goto(`${replicaSim.url}/#token=${OPERATOR_TOKEN}`);
      await page.locator('[data-view=status]').waitFor();
      await expect.poll(() => attrOf(page.locator('[data-replica]'), 'data-replica'), WAIT).toBe('standby');
      expect(await textOf(page.locator('[data-replica]'))).toBe(
        'answered by b/2, a standby (store: etcd; the leader is a/1 at https://10.0.0.5:9443)',
      );
      await page.close();
    } finally {
      await replicaSim.close();
    }
    // The sole coordinator of a memory or journal store says nothing about replicas.
    const page = await openPage(`#token=${OPERATOR_TOKEN}`);
    await page.locator('[data-view=status]').waitFor();
    expect(await page.locator('[data-replica]').count()).toBe(0);
    await page.close();
  });
});
