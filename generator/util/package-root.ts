/**
 * The kubeseed package directory, found by walking up from a module's own directory to the
 * `package.json` named kubeseed. Modules reach files beside the sources (dist/, doubles/,
 * the status page's client) through it, so they find the same files whether they run from
 * their source file or from the CLI bundle in dist/cli/ (docs/adr/0013).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const found = new Map<string, string>();

export function packageRoot(from: string): string {
  const known = found.get(from);
  if (known) return known;
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'kubeseed') {
        found.set(from, dir);
        return dir;
      }
    } catch {
      // No package.json here (or not JSON): keep walking up.
    }
    if (dirname(dir) === dir) throw new Error(`no kubeseed package.json above ${from}`);
  }
}
