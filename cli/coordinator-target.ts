/**
 * Where the operator commands (`status`, `hosts`, `retry`, `approve`, `rebind`, `remove`) find the
 * coordinator: its URL, the pinned CA and the operator token, from the state directory and the
 * flags. The one place that reads KUBESEED_OPERATOR_TOKEN.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OPERATOR_TOKEN_FILE } from '../generator/state/index.ts';
import { DEFAULT_STATE_DIR, type Io } from './commands.ts';
import { InputError } from './exit-codes.ts';

export interface StatusTarget {
  url: string;
  token: string;
  ca: string;
  stateDir: string;
  caFile: string;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The coordinator URL: state.json's `cluster.coordinatorUrl`, else cluster.yaml's `spec.coordinator.url`. */
async function readCoordinatorUrl(stateDir: string): Promise<string | undefined> {
  const manifest = await readOptional(join(stateDir, 'state.json'));
  if (manifest) {
    try {
      const url = (JSON.parse(manifest) as { cluster?: { coordinatorUrl?: unknown } }).cluster?.coordinatorUrl;
      if (typeof url === 'string' && url) return url;
    } catch {
      // fall through to cluster.yaml
    }
  }
  const spec = await readOptional(join(stateDir, 'cluster.yaml'));
  if (spec) {
    try {
      const url = (parseYaml(spec) as { spec?: { coordinator?: { url?: unknown } } } | null)?.spec?.coordinator?.url;
      if (typeof url === 'string' && url) return url;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export async function resolveTarget(flags: Record<string, string | boolean>, io: Io): Promise<StatusTarget> {
  const stateArg = typeof flags.state === 'string' ? flags.state : DEFAULT_STATE_DIR;
  const stateDir = isAbsolute(stateArg) ? stateArg : join(io.cwd, stateArg);
  const caFile = join(stateDir, 'tls', 'ca.crt');
  const ca = await readOptional(caFile);
  if (!ca?.includes('-----BEGIN CERTIFICATE-----')) {
    throw new InputError(
      `no coordinator CA at ${caFile}: pass --state OUT/coordinator, the state directory \`kubeseed generate --out OUT\` wrote (its tls/ca.crt pins the coordinator)`,
    );
  }
  let url = typeof flags.url === 'string' ? flags.url : await readCoordinatorUrl(stateDir);
  if (!url) {
    throw new InputError(
      `no coordinator URL: neither ${join(stateDir, 'state.json')} (cluster.coordinatorUrl) nor ${join(stateDir, 'cluster.yaml')} (spec.coordinator.url) names one; pass --url https://HOST:PORT`,
    );
  }
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:') throw new Error('not https');
    url = parsed.origin;
  } catch {
    throw new InputError(`--url ${url} is not an https:// URL (the coordinator API is HTTPS only)`);
  }
  let token = typeof flags.token === 'string' ? flags.token : io.env.KUBESEED_OPERATOR_TOKEN;
  if (!token) {
    const tokenFile = join(stateDir, OPERATOR_TOKEN_FILE);
    token = (await readOptional(tokenFile))?.trim();
    if (!token) {
      throw new InputError(
        `no operator token: ${tokenFile} does not exist. \`kubeseed serve --state ${stateArg}\` writes it (0600) when it first starts; or pass --token or set KUBESEED_OPERATOR_TOKEN`,
      );
    }
  }
  return { url, token, ca, stateDir, caFile };
}
