/**
 * etcd-snapshot (spec.etcd.backup, ADR 0041): `etcdctl snapshot save` against the local member
 * with kubeadm's healthcheck client, `snapshot status` on the file, etcd's own hash checked, the
 * file uploaded to the coordinator and deleted here whatever happened.
 *
 * Which etcdctl: the host's own when it has one (Debian's etcd-client 3.4; binary-mode members
 * get etcdctl and etcdutl from the release tarball in /usr/local/bin), else the one inside the
 * running etcd container (`crictl exec`: kubeadm's etcd image ships etcdctl and, from 3.5,
 * etcdutl; its static pod mounts /var/lib/etcd and /etc/kubernetes/pki/etcd at the same paths as
 * the host, so the file lands in /var/lib/etcd where the agent reads it). `snapshot status` is
 * etcdutl's from 3.5 (deprecated in etcdctl 3.5, gone in 3.6) and etcdctl's before.
 */
import { createReadStream } from 'node:fs';
import { type BackupUploadResponse, SNAPSHOT_SAVE_TIMEOUT_MS, type SnapshotStatus } from '../../protocol/backup.ts';
import { SnapshotIntegrity } from '../../protocol/snapshot-integrity.ts';
import type { StepResults } from '../../protocol/wire.ts';
import { StepFailure, type StepRun } from './step-run.ts';

/** Where the snapshot is written when etcdctl runs in the etcd container (its data directory, mounted from the host). */
export const CONTAINER_SNAPSHOT_PATH = '/var/lib/etcd/kubeseed-snapshot.db';

interface Tooling {
  /** `[]` on the host, `['crictl', 'exec', ID]` in the etcd container. */
  prefix: string[];
  statusTool: SnapshotStatus['tool'];
  /** The snapshot path as etcdctl sees it, and as the agent's file system sees it. */
  file: string;
  hostFile: string;
}

async function answers(run: StepRun, argv: string[]): Promise<boolean> {
  const result = await run.command(argv, { quiet: true, timeoutMs: 30_000 });
  return !result.notFound && result.code === 0;
}

async function findTooling(run: StepRun<'etcd-snapshot'>): Promise<Tooling> {
  const real = (path: string) => run.fs.realPath?.(path) ?? path;
  if (await answers(run, ['etcdctl', 'version'])) {
    const file = `${run.ctx.stateDir}/etcd-snapshot.db`;
    const statusTool = (await answers(run, ['etcdutl', 'version'])) ? 'etcdutl' : 'etcdctl';
    run.note(`etcdctl: the host's; snapshot status: ${statusTool}`);
    return { prefix: [], statusTool, file: real(file), hostFile: file };
  }
  const ps = await run.command(['crictl', 'ps', '--name', '^etcd$', '--state', 'running', '-q'], { quiet: true, timeoutMs: 30_000 });
  const id =
    ps.code === 0
      ? ps.output
          .split('\n')
          .map((l) => l.trim())
          .find((l) => /^[0-9a-f]{12,64}$/.test(l))
      : undefined;
  if (id) {
    const prefix = ['crictl', 'exec', id];
    const statusTool = (await answers(run, [...prefix, 'etcdutl', 'version'])) ? 'etcdutl' : 'etcdctl';
    run.note(`etcdctl: inside the etcd container ${id.slice(0, 12)}; snapshot status: ${statusTool}`);
    return { prefix, statusTool, file: CONTAINER_SNAPSHOT_PATH, hostFile: CONTAINER_SNAPSHOT_PATH };
  }
  throw new StepFailure(
    'etcdctl-not-found',
    'no etcdctl on this host and no running etcd container to run it in (crictl ps --name ^etcd$): install etcdctl (Debian/Ubuntu: apt-get install etcd-client) or put the etcd release’s etcdctl and etcdutl in /usr/local/bin',
    true,
  );
}

/** `snapshot status -w json` prints one object; etcdctl 3.4 may log around it. */
export function parseSnapshotStatus(output: string, tool: SnapshotStatus['tool']): SnapshotStatus | undefined {
  for (const match of output.matchAll(/\{[^{}]*"revision"[^{}]*\}/g)) {
    try {
      const v = JSON.parse(match[0]) as { hash?: unknown; revision?: unknown; totalKey?: unknown };
      if (typeof v.revision === 'number' && typeof v.totalKey === 'number' && typeof v.hash === 'number')
        return { tool, revision: v.revision, totalKey: v.totalKey, hash: v.hash };
    } catch {}
  }
  return undefined;
}

async function checkFile(path: string): Promise<ReturnType<SnapshotIntegrity['result']>> {
  const integrity = new SnapshotIntegrity();
  for await (const chunk of createReadStream(path)) integrity.update(chunk as Buffer);
  return integrity.result();
}

export async function runEtcdSnapshot(run: StepRun<'etcd-snapshot'>): Promise<StepResults> {
  const upload = run.ctx.uploadSnapshot;
  if (!upload) throw new StepFailure('not-enrolled', 'etcd-snapshot needs the coordinator session to upload to', true);
  const { etcdEndpoint, etcdClient } = run.step.params;
  const tooling = await findTooling(run);
  // In the container the certificates are at the host's paths (kubeadm mounts /etc/kubernetes/pki/etcd).
  const cert = (path: string) => (tooling.prefix.length > 0 ? path : (run.fs.realPath?.(path) ?? path));
  for (const path of [etcdClient.caFile, etcdClient.certFile, etcdClient.keyFile]) await run.require(path, 'etcd-client-missing');
  const etcdctl = [...tooling.prefix, 'etcdctl', `--endpoints=${etcdEndpoint}`, `--cacert=${cert(etcdClient.caFile)}`];
  etcdctl.push(`--cert=${cert(etcdClient.certFile)}`, `--key=${cert(etcdClient.keyFile)}`);
  const env = tooling.prefix.length === 0 ? { ETCDCTL_API: '3' } : undefined;
  await run.fs.remove(tooling.hostFile);
  try {
    await run.mustRun([...etcdctl, 'snapshot', 'save', tooling.file], { timeoutMs: SNAPSHOT_SAVE_TIMEOUT_MS, ...(env ? { env } : {}) });
    const statusRun = await run.mustRun([...tooling.prefix, tooling.statusTool, 'snapshot', 'status', tooling.file, '-w', 'json'], {
      timeoutMs: SNAPSHOT_SAVE_TIMEOUT_MS,
      ...(env ? { env } : {}),
    });
    const status = parseSnapshotStatus(statusRun.output, tooling.statusTool);
    if (!status) throw new StepFailure('snapshot-status-unreadable', `${tooling.statusTool} snapshot status printed no revision`);
    const local = run.fs.realPath?.(tooling.hostFile) ?? tooling.hostFile;
    const checked = await checkFile(local);
    if (checked.problem) throw new StepFailure('snapshot-damaged', `the snapshot just taken fails its check: ${checked.problem}`);
    run.note(`snapshot: ${checked.bytes} bytes, revision ${status.revision}, ${status.totalKey} keys, sha256 ${checked.sha256}`);
    const res = await upload({ file: local, sha256: checked.sha256, stepId: run.step.id, status });
    if (res.status !== 200) {
      const message = (res.body as { message?: unknown } | null)?.message;
      // 409/413/400 say what to change (spec, passphrase, size); 5xx and transport errors are worth a retry.
      throw new StepFailure(
        `upload-${res.status}`,
        `the coordinator refused the snapshot (${res.status}): ${String(message ?? res.body)}`,
        res.status === 409 || res.status === 413,
      );
    }
    const stored = res.body as BackupUploadResponse;
    run.note(`uploaded: the coordinator keeps it as ${stored.id}`);
    return {};
  } finally {
    await run.fs.remove(tooling.hostFile);
  }
}
