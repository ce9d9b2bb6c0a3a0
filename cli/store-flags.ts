/**
 * The flags that name the store `kubeseed serve` keeps its records in — `--store URL` and the
 * `--etcd-ca/--etcd-cert/--etcd-key` that go with an etcd URL — as serve, store migrate, upgrade,
 * renew and certs read them.
 */
import { readFile } from 'node:fs/promises';
import type { EtcdTls } from '../server/store/etcd-client.ts';
import { type RecordStore, storeUrlProblem } from '../server/store/open.ts';
import { UsageError } from './args.ts';

/** --etcd-ca/--etcd-cert/--etcd-key read as PEM (they go with the store URL in --`urlFlag`); a file that cannot be read is bad input naming the flag. */
export async function etcdTlsOf(flags: Record<string, string | boolean>, urlFlag = 'store'): Promise<{ etcd?: EtcdTls }> {
  const tls: EtcdTls = {};
  for (const [flag, field] of [
    ['etcd-ca', 'ca'],
    ['etcd-cert', 'cert'],
    ['etcd-key', 'key'],
  ] as const) {
    const path = flags[flag] as string | undefined;
    if (path === undefined) continue;
    tls[field] = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`--${flag} ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
  }
  const url = flags[urlFlag];
  const problem = typeof url === 'string' ? storeUrlProblem(url) : null;
  if (problem) throw new UsageError(`--${urlFlag}: ${problem}`);
  if (Object.keys(tls).length > 0 && !(url as string | undefined)?.startsWith('etcd://'))
    throw new UsageError(`--etcd-ca, --etcd-cert and --etcd-key go with --${urlFlag} etcd://HOST:PORT[,…]`);
  return Object.keys(tls).length > 0 ? { etcd: tls } : {};
}

/** `--store URL` and `--etcd-*` as serve takes them: where the records are (absent: the journal in the state directory). */
export async function recordStoreOf(flags: Record<string, string | boolean>): Promise<RecordStore | undefined> {
  if (typeof flags.store !== 'string') return undefined;
  return { url: flags.store, ...(await etcdTlsOf(flags)) };
}
