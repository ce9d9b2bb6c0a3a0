/** Builds dist/ (npm run build) when the agent executables are missing or older than agent/ and protocol/. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');
export const AGENT_X64 = join(REPO, 'dist', 'kubeseed-agent-linux-x64');
export const AGENT_ARM64 = join(REPO, 'dist', 'kubeseed-agent-linux-arm64');

function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(REPO, 'agent'));
  walk(join(REPO, 'protocol'));
  return newest;
}

export function ensureAgentBuilt(): void {
  const newest = newestSource();
  const stale = [AGENT_X64, AGENT_ARM64].some((f) => !existsSync(f) || statSync(f).mtimeMs < newest);
  if (stale) execFileSync(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { stdio: 'inherit', timeout: 110_000 });
}
