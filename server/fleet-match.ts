/**
 * Fleet enrollment (DESIGN.md "Generic boots"): one user-data for many machines. The agent proves
 * fleet membership with the fleet credential; its self-reported facts pick the spec host — the most
 * specific match wins (MAC or SMBIOS UUID over hostname). Facts can be forged, so a match for a
 * control-plane or etcd host waits for `kubeseed approve`. Pure.
 */

import type { HostSpec } from '../generator/spec/types.ts';
import type { MachineFacts } from '../protocol/index.ts';
import type { HostRecord } from './model.ts';

/** The host name an EnrollmentVerifier returns for a valid fleet credential (generator/state FLEET_KEY). */
export const FLEET_HOST = '*';

export type FleetMatch = { host: string; requiresApproval: boolean } | { error: 'no-match' | 'ambiguous'; message: string };

function sameMachine(binding: NonNullable<HostRecord['enrollment']>, facts: MachineFacts): boolean {
  const macs = [...facts.macs].map((m) => m.toLowerCase()).sort();
  return (
    binding.machineId === facts.machineId &&
    binding.smbiosUuid === facts.smbiosUuid.toLowerCase() &&
    binding.macs.length === macs.length &&
    binding.macs.every((m, i) => m === macs[i])
  );
}

function score(host: HostSpec, facts: MachineFacts): number {
  const macs = new Set(facts.macs.map((m) => m.toLowerCase()));
  let points = 0;
  if (host.mac && macs.has(host.mac.toLowerCase())) points += 4;
  if (host.uuid && facts.smbiosUuid && host.uuid.toLowerCase() === facts.smbiosUuid.toLowerCase()) points += 4;
  const hostname = facts.hostname.toLowerCase();
  if (hostname && (hostname === host.name.toLowerCase() || hostname === host.fqdn?.toLowerCase())) points += 1;
  return points;
}

/** Picks the spec host for a fleet machine. A machine already bound (agent restart) gets its host back. */
export function matchFleetHost(hosts: HostSpec[], records: Record<string, HostRecord>, facts: MachineFacts): FleetMatch {
  const needsApproval = (host: HostSpec) => host.role === 'control-plane' || host.role === 'etcd';
  for (const host of hosts) {
    const binding = records[host.name]?.enrollment;
    if (binding && !records[host.name]?.removed && sameMachine(binding, facts))
      return { host: host.name, requiresApproval: needsApproval(host) };
  }
  const free = hosts.filter((h) => {
    const record = records[h.name];
    return record && !record.removed && !record.enrollment;
  });
  let best = 0;
  let winners: HostSpec[] = [];
  for (const host of free) {
    const points = score(host, facts);
    if (points > best) {
      best = points;
      winners = [host];
    } else if (points === best && points > 0) {
      winners.push(host);
    }
  }
  const described = `MACs ${facts.macs.join(',') || '-'}, SMBIOS UUID ${facts.smbiosUuid || '-'}, hostname ${facts.hostname || '-'}`;
  if (winners.length === 0) {
    return {
      error: 'no-match',
      message: `no unenrolled host in the spec matches this machine (${described}); add its MAC or UUID to the spec`,
    };
  }
  if (winners.length > 1) {
    return {
      error: 'ambiguous',
      message: `this machine (${described}) matches ${winners.map((h) => h.name).join(', ')} equally; give the hosts MACs or UUIDs`,
    };
  }
  const host = winners[0]!;
  return { host: host.name, requiresApproval: needsApproval(host) };
}
