/**
 * Reading the state directory (`kubeseed serve`, `kubeseed kubeconfig`, and `generate` re-runs).
 */
import { join } from 'node:path';
import { createFileCipher, type FileCipher } from './envelope.ts';
import { StateError } from './errors.ts';
import { readFileIfExists } from './files.ts';
import { filesToState, isSecretFile, parseJson, STATE_FILE } from './layout.ts';
import { type CoordinatorState, STATE_FORMAT, STATE_VERSION, type StateManifest } from './types.ts';

/** Loads OUT/coordinator. `passphrase` is KUBESEED_PASSPHRASE (the CLI reads the variable). */
export async function loadState(stateDir: string, options: { passphrase?: string } = {}): Promise<CoordinatorState> {
  return readState(stateDir, createFileCipher(options.passphrase));
}

export async function readManifest(stateDir: string): Promise<StateManifest | undefined> {
  const text = await readFileIfExists(join(stateDir, STATE_FILE));
  if (text === undefined) return undefined;
  const manifest = parseJson<StateManifest>(STATE_FILE, text);
  if (manifest.format !== STATE_FORMAT) {
    throw new StateError('CORRUPT_FILE', `${join(stateDir, STATE_FILE)} is not a kubeseed coordinator state file`, STATE_FILE);
  }
  if (manifest.version !== STATE_VERSION) {
    throw new StateError(
      'UNSUPPORTED_VERSION',
      `${join(stateDir, STATE_FILE)} has state version ${String(manifest.version)}; this kubeseed reads version ${STATE_VERSION}: use the kubeseed release that generated it`,
      STATE_FILE,
    );
  }
  return manifest;
}

export async function readState(stateDir: string, cipher: FileCipher): Promise<CoordinatorState> {
  const manifest = await readManifest(stateDir);
  if (!manifest) {
    throw new StateError(
      'NO_STATE',
      `${stateDir} holds no coordinator state (no ${STATE_FILE}); run \`kubeseed generate SPEC --out DIR\` and pass DIR/coordinator`,
      STATE_FILE,
    );
  }
  return filesToState(stateDir, manifest, async (relative) => {
    const stored = await readFileIfExists(join(stateDir, relative));
    if (stored === undefined) return undefined;
    // Public files are never envelopes; opening them anyway would accept a swapped-in envelope silently.
    return isSecretFile(relative) ? cipher.open(relative, stored) : stored;
  });
}
