/**
 * A day-2 operation (`kubeseed upgrade`, `kubeseed renew`) as it lives in the state directory:
 * `DIR/day2.json` holds its steps (server/day2/order.ts), and the coordinator appends them to the
 * rollout's plan when it loads the state (load-state.ts). The rollout's steps have all succeeded by
 * then, so the scheduler releases the day-2 steps by their `after` edges alone, to the idle agents
 * (ADR 0033, 0039); a failed one waits for `kubeseed retry HOST` like any rollout step.
 *
 * `readRolloutHosts` reads the coordinator's records (the journal in DIR/store, or the store serve
 * runs on: `--store etcd://…`, with every replica stopped) to say which hosts finished the rollout
 * and which have a failed step: the planner refuses to start otherwise.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterPlan, PlannedStep, SecretKind } from '../../generator/plan/types.ts';
import { StateError } from '../../generator/state/index.ts';
import { isStepKind, type StepKind } from '../../protocol/index.ts';
import type { HostRecord, StepRecord } from '../model.ts';
import { SECRET_RECORD_PREFIXES } from '../rollout/repository.ts';
import { etcdLeaderOf, openStore } from '../store/index.ts';
import { type RecordStore, recordStoreTarget, schemeOf } from '../store/open.ts';
import type { Day2Host, Day2Plan, Day2Step } from './order.ts';

export const DAY2_FILE = 'day2.json';

export interface Day2Operation {
  /** Prefix of its step ids: `upgrade-1.37.2`, `renew-20261206T060000Z`. */
  id: string;
  operation: Day2Plan['operation'];
  steps: Day2Step[];
}

/** The operation in `stateDir`, or null when there is none. */
export async function readDay2Operation(stateDir: string): Promise<Day2Operation | null> {
  const text = await readFile(join(stateDir, DAY2_FILE), 'utf8').catch(() => null);
  if (text === null) return null;
  const op = JSON.parse(text) as Day2Operation;
  for (const s of op.steps)
    if (!isStepKind(s.kind))
      throw new Error(
        `${join(stateDir, DAY2_FILE)}: step ${s.id} has kind ${s.kind}, which no agent implements yet; remove the file and plan again`,
      );
  return op;
}

export async function writeDay2Operation(stateDir: string, op: Day2Operation): Promise<void> {
  const file = join(stateDir, DAY2_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(op, null, 2)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** What each day-2 kind carries from the coordinator's secrets (buildStep asks for exactly these). */
function secretsOf(step: Day2Step, topology: string): SecretKind[] {
  switch (step.kind) {
    case 'node-drain':
    case 'node-uncordon':
      return step.role === 'control-plane' ? [] : ['admin-kubeconfig'];
    case 'etcd-cert-renew':
      return ['etcd-member-certs'];
    case 'control-plane-cert-renew':
      return topology === 'stacked' ? [] : ['apiserver-etcd-client'];
    default:
      return [];
  }
}

/** The rollout's plan with the operation's steps after it (none: the plan as it is). */
export function withDay2Steps(plan: ClusterPlan, op: Day2Operation | null): ClusterPlan {
  if (!op) return plan;
  const extra: PlannedStep[] = op.steps.map((s) => ({
    id: s.id,
    kind: s.kind as StepKind,
    host: s.host,
    role: s.role,
    after: s.after,
    waitsFor: s.waitsFor,
    secrets: secretsOf(s, plan.spec.topology),
  }));
  return { ...plan, steps: [...plan.steps, ...extra] };
}

const OK = new Set(['succeeded', 'cancelled']);

export type { RecordStore };

/**
 * Each spec host as the day-2 planner sees it, from the coordinator's records: `failed` when one
 * of its steps is failed (or waiting for a retry), `ready` when it finished the rollout (every step of
 * it succeeded). Reads the journal in `stateDir/store`, or `records` (serve's `--store`, with the
 * default prefix serve uses); serve must not be running: the caller holds the state directory's
 * serve lock, and on etcd — where replicas on other machines share the records — this refuses
 * while a replica holds the leader lease.
 */
export async function readRolloutHosts(
  stateDir: string,
  plan: ClusterPlan,
  passphrase?: string,
  records?: RecordStore,
): Promise<Day2Host[]> {
  const { url, options } = recordStoreTarget(stateDir, plan.spec.name, SECRET_RECORD_PREFIXES, passphrase, records);
  if (schemeOf(url) === 'etcd') {
    const held = await etcdLeaderOf(url, options);
    if (held)
      throw new StateError(
        'LOCKED',
        `replica ${held.leader.id}${held.leader.url ? ` (${held.leader.url})` : ''} holds the leader lease in etcd (key ${held.key}): a coordinator runs on these records; stop every replica first (every \`kubeseed serve --store ${url}\`), then plan again`,
      );
  }
  const store = await openStore(url, options);
  try {
    const steps = store.list<StepRecord>('step/').map((r) => r.value);
    const removed = new Set(
      store
        .list<HostRecord>('host/')
        .map((r) => r.value)
        .filter((h) => h.removed)
        .map((h) => h.name),
    );
    return plan.spec.hosts
      .filter((h) => !removed.has(h.name))
      .map((h) => {
        const own = steps.filter((s) => s.host === h.name);
        const planned = plan.steps.filter((s) => s.host === h.name);
        const byId = new Map(own.map((s) => [s.id, s]));
        return {
          name: h.name,
          role: h.role,
          // A failed scheduled snapshot blocks nothing: the next due time takes a fresh one (ADR 0044).
          failed: own.some((s) => s.origin !== 'snapshot' && (s.state === 'failed' || s.state === 'retry-wait')),
          ready: planned.length > 0 && planned.every((s) => OK.has(byId.get(s.id)?.state ?? 'pending')),
        };
      });
  } finally {
    await store.close();
  }
}
