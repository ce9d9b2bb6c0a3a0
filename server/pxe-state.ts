/**
 * What the plain-HTTP boot listener needs from the coordinator's store: whether a PXE machine is
 * installed, so its iPXE script boots the disk instead of the installer (ADR 0022). Installed
 * means the machine's agent — which only runs on the installed system — reached the coordinator:
 * its host is bound, or a candidate claim carries this MAC. `kubeseed rebind HOST` (the operator
 * rebuilds the machine) makes the host installable again; a removed host is never reinstalled.
 *
 * Runtime contract: pure (reads a snapshot of host records).
 */
import type { HostRecord } from './model.ts';

export function isPxeInstalled(hosts: Readonly<Record<string, HostRecord>>, mac: string, host: string | null): boolean {
  const wanted = mac.toLowerCase();
  const hasMac = (macs: readonly string[] | undefined) => macs?.some((m) => m.toLowerCase() === wanted) ?? false;
  const record = host ? hosts[host] : undefined;
  if (record?.rebindAllowed && !record.enrollment) return false;
  if (record && (record.removed || record.enrollment)) return true;
  for (const r of Object.values(hosts)) {
    if (r.rebindAllowed && !r.enrollment) continue;
    if (hasMac(r.enrollment?.macs) || r.candidates?.some((c) => hasMac(c.macs))) return true;
  }
  return false;
}
