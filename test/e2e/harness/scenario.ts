/**
 * The checks every scenario makes (issue 6): exactly one successful `kubeadm init`; control-plane
 * joins never overlap; no join before init succeeded; every join went through the VIP (HAProxy's
 * log); every host reports done; each gated step is released within 1 s of its last gate opening.
 */
import { expect, it } from 'vitest';
import type { RolloutFacts } from './checks.ts';

export function itChecksTheRollout(facts: () => RolloutFacts, controlPlaneJoiners: string[]): void {
  it('ran exactly one successful kubeadm init, before any join', () => {
    expect(facts().inits.filter((c) => c.exit === 0)).toHaveLength(1);
    expect(facts().joinsBeforeInit).toEqual([]);
  });

  it('never overlapped control-plane joins', () => {
    expect(facts().controlPlaneJoinOverlaps).toEqual([]);
    expect(
      facts()
        .controlPlaneJoins.filter((j) => j.exit === 0)
        .map((j) => j.host)
        .sort(),
    ).toEqual([...controlPlaneJoiners].sort());
  });

  it('joined every node through the VIP (HAProxy log and kubeadm discovery)', () => {
    expect(facts().joinsWithoutVip).toEqual([]);
    expect(facts().haproxyClients.size).toBeGreaterThan(0);
  });

  it('every host reports done', () => {
    expect(facts().notDone).toEqual([]);
  });

  it('releases each gated step within 1 s of its last gate opening', () => {
    const lags = facts().gateLags;
    console.info(
      `[e2e] gate → release (→ kubeadm start) ms: ${lags.map((g) => `${g.step}←${g.gate} ${g.lagMs}${g.startLagMs === undefined ? '' : ` (${g.startLagMs}${g.agentReadyMs ? ' from preflight-ok' : ''})`}`).join(', ')}`,
    );
    expect(lags.length).toBeGreaterThan(0);
    expect(lags.filter((g) => g.lagMs >= 1000 || (g.startLagMs ?? 0) >= 1000)).toEqual([]);
    // The host really started kubeadm for the gated init/join steps (not only the coordinator released them).
    expect(lags.filter((g) => g.startLagMs !== undefined).length).toBeGreaterThan(0);
  });
}
