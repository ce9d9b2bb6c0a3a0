/**
 * lb-check: the local HAProxy/nginx runs, the endpoint port accepts connections, and the VIP is
 * held here or answers (a backup load balancer does not hold it). Results: vipHeld, portOpen.
 */
import type { StepResults } from '../../protocol/wire.ts';
import { StepFailure, type StepRun } from './step-run.ts';

export async function runLbCheck(run: StepRun<'lb-check'>): Promise<StepResults> {
  const { endpoint, lbService = 'haproxy' } = run.step.params;
  if (!endpoint) throw new StepFailure('bad-params', 'lb-check needs params.endpoint', true);
  const net = run.ctx.net;
  let last: StepResults = {};
  const ready = await run.waitFor('load balancer ready', run.ctx.timing.lbReadyTimeoutMs, async () => {
    const active = await run.command(['systemctl', 'is-active', lbService], { quiet: true });
    const running = active.code === 0 || (active.notFound && (await run.command(['pidof', lbService], { quiet: true })).code === 0);
    const addrs = await run.command(['ip', '-o', 'addr', 'show'], { quiet: true });
    // The frontend binds every address by default, or one local address (never the VIP): try
    // loopback, then this host's own IPv4 addresses (local traffic, it never leaves the host).
    const local = addrs.code === 0 ? [...addrs.output.matchAll(/\sinet\s(\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1] ?? '') : [];
    let portOpen = false;
    for (const address of ['127.0.0.1', ...local.filter((a) => a && a !== '127.0.0.1' && a !== endpoint.vip)].slice(0, 8)) {
      if ((await net.tcpProbe(address, endpoint.port, run.ctx.timing.endpointTimeoutMs)) === 'accepted') {
        portOpen = true;
        break;
      }
    }
    let vipHeld: boolean | undefined;
    if (endpoint.vip) {
      vipHeld = addrs.code === 0 && new RegExp(`\\sinet6?\\s${endpoint.vip.replaceAll('.', '\\.')}/`).test(addrs.output);
      if (!vipHeld) vipHeld = (await net.tcpProbe(endpoint.vip, endpoint.port, run.ctx.timing.endpointTimeoutMs)) === 'accepted';
    }
    last = { portOpen, ...(vipHeld === undefined ? {} : { vipHeld }) };
    if (!running) run.note(`${lbService} is not running`);
    return running && portOpen && vipHeld !== false ? last : null;
  });
  if (!ready) throw new StepFailure('lb-not-ready', `${lbService} not ready on port ${endpoint.port}`, false, last);
  run.note(`${lbService} running; port ${endpoint.port} open${endpoint.vip ? `; VIP ${endpoint.vip} answers` : ''}`);
  return ready;
}
