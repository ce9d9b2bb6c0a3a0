/**
 * etcd-member-remove: on a healthy control plane, remove a failed peer's etcd member through
 * etcd's v3 JSON gateway (by name; a learner that never started has no name yet and is removed
 * too — joins are serial, so it can only be the failed one), then delete its Node object.
 */
import type { StepResults } from '../../protocol/wire.ts';
import { listEtcdMembers, loadEtcdClient, removeEtcdMember } from './etcd.ts';
import { ADMIN_CONF, kubectlArgv, LOCAL_ETCD_CLIENT_URL, StepFailure, type StepRun } from './step-run.ts';

export async function runEtcdMemberRemove(run: StepRun<'etcd-member-remove'>): Promise<StepResults> {
  const name = run.step.params.memberName;
  if (!name) throw new StepFailure('bad-params', 'etcd-member-remove needs params.memberName', true);
  await run.writeFiles();
  const tls = await loadEtcdClient(run, run.step.params.etcdClient);
  const url = run.step.params.etcdEndpoints?.[0] ?? LOCAL_ETCD_CLIENT_URL;
  const members = await listEtcdMembers(run, url, tls);
  const doomed = members.filter((m) => m.name === name || (m.name === '' && m.isLearner));
  if (doomed.length === members.length) throw new StepFailure('refused', `removing ${name} would remove every etcd member`, true);
  for (const m of doomed) {
    await removeEtcdMember(run, url, tls, m.ID);
    run.note(`removed etcd member ${m.name || '(unstarted learner)'} ${m.ID}`);
  }
  if (doomed.length === 0) run.note(`etcd member ${name} not present (already removed)`);
  if (await run.fs.exists(ADMIN_CONF)) {
    await run.mustRun(kubectlArgv(ADMIN_CONF, 'delete', 'node', name, '--ignore-not-found'), { timeoutMs: 60_000 });
  }
  return {};
}
