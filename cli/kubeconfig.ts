/** `kubeseed kubeconfig --state DIR [--out FILE] [--validity 24h]`: an admin kubeconfig minted from the cluster CA. */
import { writeFile } from 'node:fs/promises';
import { mintAdminKubeconfig } from '../generator/pki/index.ts';
import { clusterFactsOf, loadState } from '../generator/state/index.ts';
import { parseDuration } from '../generator/util/text.ts';
import { UsageError } from './args.ts';
import { DEFAULT_STATE_DIR, type Io, parseCommand } from './commands.ts';

export async function cmdKubeconfig(argv: string[], io: Io): Promise<number> {
  const { flags } = parseCommand('kubeconfig', argv);
  const stateDir = (flags.state as string | undefined) ?? DEFAULT_STATE_DIR;
  const validity = flags.validity === undefined ? 24 * 3600 : parseDuration(flags.validity as string);
  if (validity === null || validity < 60 || validity > 366 * 24 * 3600)
    throw new UsageError('--validity takes a duration between 1m and 8784h, like 24h');
  const passphrase = io.env.KUBESEED_PASSPHRASE || undefined;
  const state = await loadState(stateDir, passphrase ? { passphrase } : {});
  const kubeconfig = mintAdminKubeconfig({ state, spec: clusterFactsOf(state), now: new Date(), validitySeconds: validity });
  const out = flags.out as string | undefined;
  if (!out) {
    io.stdout(kubeconfig);
    return 0;
  }
  await writeFile(out, kubeconfig, { mode: 0o600, flag: flags.force ? 'w' : 'wx' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST') throw new UsageError(`${out} exists; pass --force to overwrite it`);
    throw e;
  });
  io.stderr(`wrote ${out} (0600), valid for ${Math.round(validity / 3600)}h: export KUBECONFIG=${out}\n`);
  return 0;
}
