/**
 * Tiers that need root or Debian packages call `missingRequirements()` and skip with a loud,
 * specific message when something is absent. CI sets KUBESEED_REQUIRE_ALL=1, which turns every
 * such skip into a failure, so a green CI run has run every tier.
 */
import { execFileSync } from 'node:child_process';

export interface Requirements {
  root?: boolean;
  /** Executables that must be on PATH (or absolute paths that must exist). */
  commands?: string[];
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Returns a human reason naming what is missing and how to get it, or null when all is there. */
export function missingRequirements(req: Requirements): string | null {
  const missing: string[] = [];
  if (req.root && process.getuid?.() !== 0) missing.push('root (run as root: network namespaces and mounts)');
  for (const cmd of req.commands ?? []) if (!hasCommand(cmd)) missing.push(`\`${cmd}\``);
  if (missing.length === 0) return null;
  return `SKIPPED — missing ${missing.join(', ')}. Install with: apt-get install -y cloud-init ignition haproxy keepalived nginx-light libnginx-mod-stream etcd-server etcd-client openssl iproute2 (see .ci/run)`;
}

/**
 * For `describe.skipIf(...)`: prints the reason loudly and, under KUBESEED_REQUIRE_ALL=1, throws
 * so that CI fails instead of skipping.
 */
export function skipUnless(tier: string, req: Requirements): boolean {
  const reason = missingRequirements(req);
  if (!reason) return false;
  const line = `[${tier}] ${reason}`;
  if (process.env.KUBESEED_REQUIRE_ALL === '1') throw new Error(`${line} — KUBESEED_REQUIRE_ALL=1 forbids skipping`);
  console.warn(`\n${'!'.repeat(78)}\n${line}\n${'!'.repeat(78)}\n`);
  return true;
}
