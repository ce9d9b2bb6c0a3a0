/**
 * Fleet enrollment (DESIGN.md "Generic boots"): one user-data for many machines. The agent proves
 * fleet membership with the fleet credential (or, booted over plain HTTP, carries none); its
 * self-reported facts pick the spec host. Facts can be forged, so matching is strict:
 *   - a host that declares `mac` or `uuid` matches only a machine presenting that MAC or SMBIOS
 *     UUID — its hostname counts for nothing (a hostname is the cheapest fact to forge);
 *   - a host that declares neither matches by hostname, and only if it is a worker: control-plane
 *     and etcd hosts receive the cluster CA keys, so they are never matched on a hostname alone;
 *   - a control-plane or etcd match, and every match without the fleet credential, waits for
 *     `kubeseed approve` (the coordinator keeps such machines as candidates, server/enrollment-guard.ts).
 * Pure.
 */

import type { HostSpec } from '../generator/spec/types.ts';
import type { MachineFacts } from '../protocol/index.ts';
import type { HostRecord } from './model.ts';

/** Which fact matched: shown to the operator next to the candidate. */
export type MatchedBy = 'mac' | 'uuid' | 'hostname' | 'binding';

export type FleetMatch =
  | { host: string; requiresApproval: boolean; matchedBy: MatchedBy }
  | { error: 'no-match' | 'ambiguous'; message: string };

/** Control-plane and etcd hosts receive CA keys: a fleet match for them always waits for approval. */
export function holdsClusterKeys(role: HostSpec['role']): boolean {
  return role === 'control-plane' || role === 'etcd';
}

/** The machine facts name the bound machine (machine-id, SMBIOS UUID, the set of MACs; case-insensitive where the kernel varies). */
export function sameMachine(binding: NonNullable<HostRecord['enrollment']>, facts: MachineFacts): boolean {
  const macs = [...facts.macs].map((m) => m.toLowerCase()).sort();
  return (
    binding.machineId === facts.machineId &&
    binding.smbiosUuid === facts.smbiosUuid.toLowerCase() &&
    binding.macs.length === macs.length &&
    binding.macs.every((m, i) => m === macs[i])
  );
}

/** How a host matches the facts, or null. MAC/UUID matches rank above hostname matches. */
function matchOf(host: HostSpec, facts: MachineFacts): { by: MatchedBy; rank: number } | null {
  if (host.mac || host.uuid) {
    const macs = new Set(facts.macs.map((m) => m.toLowerCase()));
    const byMac = !!host.mac && macs.has(host.mac.toLowerCase());
    const byUuid = !!host.uuid && !!facts.smbiosUuid && host.uuid.toLowerCase() === facts.smbiosUuid.toLowerCase();
    if (byMac) return { by: 'mac', rank: byUuid ? 3 : 2 };
    if (byUuid) return { by: 'uuid', rank: 2 };
    return null;
  }
  if (host.role !== 'worker') return null;
  const hostname = facts.hostname.toLowerCase();
  if (hostname && (hostname === host.name.toLowerCase() || hostname === host.fqdn?.toLowerCase())) return { by: 'hostname', rank: 1 };
  return null;
}

/**
 * Picks the spec host for a fleet machine. A machine already bound (agent restart) gets its host
 * back. Hosts that are bound are not offered again; hosts that only have candidates waiting are.
 */
export function matchFleetHost(hosts: HostSpec[], records: Record<string, HostRecord>, facts: MachineFacts): FleetMatch {
  for (const host of hosts) {
    const binding = records[host.name]?.enrollment;
    if (binding && !records[host.name]?.removed && sameMachine(binding, facts))
      return { host: host.name, requiresApproval: holdsClusterKeys(host.role), matchedBy: 'binding' };
  }
  let best = 0;
  let winners: { host: HostSpec; by: MatchedBy }[] = [];
  for (const host of hosts) {
    const record = records[host.name];
    if (!record || record.removed || record.enrollment) continue;
    const match = matchOf(host, facts);
    if (!match) continue;
    if (match.rank > best) {
      best = match.rank;
      winners = [{ host, by: match.by }];
    } else if (match.rank === best) {
      winners.push({ host, by: match.by });
    }
  }
  const described = `MACs ${facts.macs.join(',') || '-'}, SMBIOS UUID ${facts.smbiosUuid || '-'}, hostname ${facts.hostname || '-'}`;
  if (winners.length === 0) {
    return {
      error: 'no-match',
      message: `no unenrolled host in the spec matches this machine (${described}); add its MAC or UUID to the spec (a hostname matches only a worker that declares neither)`,
    };
  }
  if (winners.length > 1) {
    return {
      error: 'ambiguous',
      message: `this machine (${described}) matches ${winners.map((w) => w.host.name).join(', ')} equally; give the hosts distinct MACs or UUIDs`,
    };
  }
  const { host, by } = winners[0]!;
  return { host: host.name, requiresApproval: holdsClusterKeys(host.role), matchedBy: by };
}
