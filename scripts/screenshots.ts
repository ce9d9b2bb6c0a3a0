/**
 * Regenerates docs/status-mid-rollout.png, docs/status-phone.png and docs/status-done.png: a
 * coordinator on 127.0.0.1 with a simulated 10-host stacked rollout (a scripted clock advances by
 * realistic minutes), photographed by Debian's chromium through playwright-core.
 *
 *   npx tsx scripts/screenshots.ts [OUT_DIR]      (default: docs/)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/browser/chromium-args.ts';
import { FakeClock } from '../test/unit/server/support.ts';
import { OPERATOR_TOKEN, startSimulation } from '../test/unit/status/rollout-sim.ts';

const out = resolve(process.argv[2] ?? 'docs');
const clock = new FakeClock(Date.now());
// Certificates as `kubeseed generate` issues them (CAs 10 years, the coordinator's TLS 1 year), so the summary shows their expiry.
const YEAR = 365 * 86_400_000;
const certificates = [
  { file: 'tls/server.crt', notAfter: clock.now() + YEAR, hosts: '*' as const },
  { file: 'pki/ca.crt', notAfter: clock.now() + 10 * YEAR, hosts: ['cp1', 'cp2', 'cp3'] },
];
const sim = await startSimulation({ listen: true, workers: 5, clock, scheduler: { backoffBaseMs: 20_000 }, certificates });
const profile = mkdtempSync(join(tmpdir(), 'ks-shots-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_ARGS,
  ignoreHTTPSErrors: true,
  viewport: { width: 1280, height: 900 },
  colorScheme: 'light',
});

const minutes = (m: number) => clock.advance(m * 60_000);

async function settle(page: Page, outcome?: string): Promise<void> {
  if (outcome) await page.waitForSelector(`[data-outcome="${outcome}"]`, { timeout: 10_000 });
  await page.waitForTimeout(600);
}

try {
  const page = await context.newPage();
  await page.goto(`${sim.url}/#token=${OPERATOR_TOKEN}`);
  await page.waitForSelector('[data-view=status]');

  // The first nine machines boot; w5 is still being cloned.
  await sim.enroll('lb1', 'lb2', 'cp1', 'cp2', 'cp3', 'w1', 'w2', 'w3', 'w4');
  minutes(0.4);
  await sim.succeedReleased(['lb1']);
  minutes(0.2);
  await sim.succeedReleased(['lb2']);
  minutes(2.6);
  await sim.succeedReleased(['cp1']); // kubeadm-init
  minutes(0.8);
  await sim.succeedReleased(['cp1']); // cni-apply: cp2 and the workers are released
  minutes(1.2);
  await sim.succeedReleased(['w1', 'w3']);
  await sim.runNext('w2', 'failed', {
    reason: 'kubeadm-exit-1',
    logTail: [
      '[preflight] Running pre-flight checks',
      '[preflight] Some fatal errors occurred:',
      '\t[ERROR Port-10250]: Port 10250 is in use',
      '[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`',
      'error execution phase preflight: preflight checks failed',
    ].join('\n'),
  });
  minutes(0.3);
  await sim.heartbeat('cp2', 'kubeadm join', 'etcd member added as learner; waiting for promotion');
  await sim.heartbeat('w4', 'kubeadm join', 'waiting for the kubelet TLS bootstrap');
  await sim.enrollClone('w1');
  await settle(page);
  await page.screenshot({ path: join(out, 'status-mid-rollout.png'), fullPage: true });

  await page.setViewportSize({ width: 390, height: 844 });
  await settle(page);
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${sim.url}/#token=${OPERATOR_TOKEN}`);
  await phone.waitForSelector('[data-host="w2"]');
  await settle(phone);
  await phone.screenshot({ path: join(out, 'status-phone.png'), fullPage: false });
  await phone.close();
  await page.setViewportSize({ width: 1280, height: 900 });

  // The rest: w5 boots, w2 is reset and joins on retry, control planes join one at a time.
  await sim.enroll('w5');
  for (let round = 0; round < 40 && !sim.status().done; round++) {
    for (const host of sim.hosts) {
      if (await sim.runNext(host)) minutes(0.25 + (round % 3) * 0.2);
    }
    minutes(0.3);
  }
  if (!sim.status().done) throw new Error('the simulated rollout did not finish');
  await settle(page, 'done');
  await page.screenshot({ path: join(out, 'status-done.png'), fullPage: true });
  console.log(`wrote ${join(out, 'status-mid-rollout.png')}, status-phone.png, status-done.png`);
} finally {
  await context.close();
  await sim.close();
  rmSync(profile, { recursive: true, force: true });
}
