// Finds the esbuild bundle of the CLI (dist/cli/, made by `npm run build` and by `npm ci`'s
// `prepare`) and tells whether it still matches the sources. The bundle records the size and
// mtime of every source file it was built from; one that differs, or is gone, makes the bundle
// stale and the CLI runs its TypeScript sources through tsx instead (docs/adr/0013).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const CLI_BUNDLE_DIR = join('dist', 'cli');
export const CLI_MANIFEST = 'manifest.json';
export const CLI_MANIFEST_VERSION = 1;

/**
 * The absolute path of the bundle's entry module when the bundle exists and every input is
 * unchanged, else null with the reason. Cost: one stat per source file (about 100, ~1 ms).
 */
export function freshCliBundle(root) {
  const dir = join(root, CLI_BUNDLE_DIR);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, CLI_MANIFEST), 'utf8'));
  } catch {
    return { entry: null, reason: `no CLI bundle in ${dir} (npm run build makes one)` };
  }
  if (manifest?.version !== CLI_MANIFEST_VERSION || typeof manifest.entry !== 'string' || typeof manifest.inputs !== 'object') {
    return { entry: null, reason: `${join(dir, CLI_MANIFEST)} is not a manifest this CLI reads` };
  }
  for (const [file, recorded] of Object.entries(manifest.inputs)) {
    let st;
    try {
      st = statSync(join(root, file));
    } catch {
      return { entry: null, reason: `${file} is gone since the CLI bundle was built` };
    }
    if (st.size !== recorded.size || st.mtimeMs !== recorded.mtimeMs) {
      return { entry: null, reason: `${file} changed since the CLI bundle was built` };
    }
  }
  return { entry: join(dir, manifest.entry), reason: null };
}
