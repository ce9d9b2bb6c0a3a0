/**
 * `kubeseed renew`'s side of the state (issue 22): re-issues every coordinator-held leaf from the
 * CAs kept in the state directory, whatever its expiry — each external etcd member's
 * server/peer/healthcheck-client, apiserver-etcd-client, and the coordinator's TLS server
 * certificate. The CAs, bootstrap secrets and enrollment records stay as they are, so no user-data
 * changes. Written like `generate` writes (ensure.ts): under the state lock, atomically, sealed when
 * the state is, state.json last.
 */
import { join } from 'node:path';
import type { ClusterSpec } from '../spec/types.ts';
import { reconcilePki, refuseKeyAlgorithmChange, removeStaleFiles, syncFiles } from './ensure.ts';
import { createFileCipher } from './envelope.ts';
import { StateError } from './errors.ts';
import { syncDirs, writeFileAtomic } from './files.ts';
import { STATE_FILE, stateToFiles, toJson } from './layout.ts';
import { readManifest, readState } from './load.ts';
import { acquireStateLock } from './lock.ts';
import type { CoordinatorState, StateManifest } from './types.ts';

export interface RenewLeavesOptions {
  /** OUT/coordinator. */
  stateDir: string;
  /** The spec kept in the state directory (its hosts and key algorithm match the state's). */
  spec: ClusterSpec;
  /** KUBESEED_PASSPHRASE; required when the state is encrypted. */
  passphrase?: string;
  now?: Date;
}

export interface RenewLeavesResult {
  state: CoordinatorState;
  /** What was re-issued, named as `generate` names what it creates: `pki/etcd/members/etcd1`, `pki/apiserver-etcd-client`, `tls/server`. */
  renewed: string[];
}

export async function renewLeaves(options: RenewLeavesOptions): Promise<RenewLeavesResult> {
  const release = await acquireStateLock(options.stateDir);
  try {
    return await renewLeavesLocked(options);
  } finally {
    await release();
  }
}

async function renewLeavesLocked({ stateDir, spec, passphrase, now = new Date() }: RenewLeavesOptions): Promise<RenewLeavesResult> {
  const manifest = await readManifest(stateDir);
  if (manifest?.encrypted && !passphrase)
    throw new StateError(
      'PASSPHRASE_REQUIRED',
      `${join(stateDir, STATE_FILE)}: the state is encrypted and renew re-issues its keys sealed like the rest: set KUBESEED_PASSPHRASE to the passphrase the state was generated with`,
      STATE_FILE,
    );
  // The state keeps its encryption: a passphrase given for a plaintext state does not seal it.
  const cipher = createFileCipher(manifest?.encrypted ? passphrase : undefined);
  const previous = await readState(stateDir, cipher);
  refuseKeyAlgorithmChange(stateDir, previous, spec);
  const renewed: string[] = [];
  const removed: string[] = [];
  const { pki, tls } = await reconcilePki(previous.pki, previous.tls, spec, now, renewed, removed, true);
  if (removed.length > 0)
    throw new StateError(
      'INCOMPLETE_STATE',
      `${stateDir}: its PKI holds ${removed.join(', ')}, which its spec (cluster.yaml) no longer names; run \`kubeseed generate\` with that spec first, then renew`,
      STATE_FILE,
    );
  const next: StateManifest = { ...previous.manifest, updatedAt: now.toISOString() };
  const state: CoordinatorState = { ...previous, manifest: next, pki, tls };
  const files = stateToFiles(state);
  await syncFiles(stateDir, files, cipher, false, '');
  await removeStaleFiles(stateDir, files);
  await writeFileAtomic(join(stateDir, STATE_FILE), toJson(next));
  await syncDirs([stateDir]);
  return { state, renewed: renewed.sort() };
}
