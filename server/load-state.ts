/**
 * Builds the coordinator's inputs from the state directory `kubeseed generate` wrote: the plan
 * re-derived from the spec kept there, the secrets, TLS, enrollment verification and the
 * Kubernetes API client. Used by `kubeseed serve`, the demo, the bench and tests.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signClientCertificate, verifyEnrollmentCredential } from '../generator/pki/index.ts';
import { buildStep } from '../generator/plan/build-step.ts';
import { planRollout } from '../generator/plan/plan.ts';
import { UNAUTHENTICATED_CREDENTIAL } from '../generator/plan/provision.ts';
import { parseSpec } from '../generator/spec/parse.ts';
import { type CoordinatorState, createSecretSource, FLEET_KEY, loadState, StateError } from '../generator/state/index.ts';
import { type IssuedCertificate, reportedCertificates, trackedCertificates } from './certificates.ts';
import { readDay2Operation, withDay2Steps } from './day2/operation.ts';
import { createKubernetesApi } from './kubernetes-api.ts';
import type { HostRecord, StepRecord } from './model.ts';
import { SECRET_RECORD_PREFIXES } from './rollout/repository.ts';
import type { LoadedState } from './serve.ts';
import { openStore, type RecordStore, recordStoreTarget } from './store/open.ts';

/** The coordinator's own client certificate for the API server (bootstrap tokens): short-lived, re-signed as it nears expiry. */
const COORDINATOR_CLIENT_VALIDITY_SECONDS = 3600;

/** The state, the spec kept in it, the plan re-derived from that spec, and its secrets. */
async function loadPlanned(stateDir: string, options: { passphrase?: string }) {
  const state = await loadState(stateDir, options);
  const specFile = join(stateDir, 'cluster.yaml');
  const specText = await readFile(specFile).catch(() => {
    throw new StateError(
      'NO_STATE',
      `${specFile} is missing; re-run \`kubeseed generate SPEC --out DIR\` so the state directory holds the spec it was made from`,
      specFile,
    );
  });
  const { spec, warnings } = parseSpec(specText, specFile);
  // A day-2 operation (`kubeseed upgrade`/`renew`) runs as steps after the rollout's.
  const plan = withDay2Steps(planRollout(spec, warnings), await readDay2Operation(stateDir));
  const secrets = createSecretSource(state);
  const tls = { cert: state.tls.server.cert, key: state.tls.server.key, ca: state.tls.ca.cert };
  return { state, spec, plan, secrets, tls };
}

/** A certificate kubeadm keeps on a control plane, as its agent last reported it. */
export type ReportedCertificate = IssuedCertificate & { readAt: number };

/**
 * `kubeseed certs`: every certificate the coordinator issued or serves, read from the state
 * directory, and those the control planes' agents reported (kubeadm's own), read from the
 * coordinator's records without changing them: beside a running `kubeseed serve` or not. `reported`
 * is `null` when the journal in DIR/store does not exist yet (serve never ran) and no `records`
 * store is named.
 */
export async function loadCertificates(
  stateDir: string,
  options: { passphrase?: string; records?: RecordStore },
): Promise<{ issued: IssuedCertificate[]; reported: ReportedCertificate[] | null }> {
  const { spec, plan, secrets, tls } = await loadPlanned(stateDir, options);
  const issued = trackedCertificates(plan, secrets.pkiFile, tls);
  if (!options.records && !existsSync(join(stateDir, 'store'))) return { issued, reported: null };
  return { issued, reported: await reportedCertificatesIn(stateDir, spec.name, options) };
}

async function reportedCertificatesIn(
  stateDir: string,
  clusterName: string,
  options: { passphrase?: string; records?: RecordStore },
): Promise<ReportedCertificate[]> {
  const target = recordStoreTarget(stateDir, clusterName, SECRET_RECORD_PREFIXES, options.passphrase, options.records);
  const store = await openStore(target.url, { ...target.options, readOnly: true });
  try {
    // A removed host's certificates are gone with it (`kubeseed remove`): not listed.
    const removed = new Set(
      store
        .list<HostRecord>('host/')
        .filter((r) => r.value.removed)
        .map((r) => r.value.name),
    );
    return reportedCertificates(
      store
        .list<StepRecord>('step/')
        .map((r) => r.value)
        .filter((s) => !removed.has(s.host)),
    );
  } finally {
    await store.close();
  }
}

/** Builds everything the coordinator needs from the state directory `kubeseed generate` wrote. */
export async function loadCoordinatorState(stateDir: string, options: { passphrase?: string }): Promise<LoadedState> {
  const { state, spec, plan, secrets, tls } = await loadPlanned(stateDir, options);
  return {
    plan,
    secrets,
    buildStep,
    tls,
    // Expiry dates for status/hosts and the page, read once here (certificates do not change while serving).
    certificates: trackedCertificates(plan, secrets.pkiFile, tls),
    enrollment: {
      verify(host, credential) {
        if (host !== undefined) {
          const record = state.enrollment.hosts[host];
          return record && verifyEnrollmentCredential(record, credential) ? { host } : null;
        }
        if (!spec.fleet.enabled) return null;
        // Content served over plain HTTP (PXE) carries no credential: such a machine is matched from
        // its facts like any fleet machine, but always waits for `kubeseed approve`.
        if (credential === UNAUTHENTICATED_CREDENTIAL) return { host: FLEET_KEY, requiresApproval: true };
        // Fleet mode: the credential proves membership of the fleet; the host is matched from facts.
        return state.enrollment.fleet && verifyEnrollmentCredential(state.enrollment.fleet, credential) ? { host: FLEET_KEY } : null;
      },
    },
    kubernetes: createKubernetesApi({
      endpoint: `https://${spec.controlPlaneEndpoint.host}:${spec.controlPlaneEndpoint.port}`,
      caPem: state.pki.ca.cert,
      clientCredentials: async () => coordinatorClientCredentials(state),
    }),
  };
}

function coordinatorClientCredentials(state: CoordinatorState): { cert: string; key: string; expiresAt: number } {
  const now = new Date();
  const pair = signClientCertificate({
    ca: state.pki.ca,
    commonName: 'kubeseed-coordinator',
    organizations: ['kubeadm:cluster-admins'],
    validitySeconds: COORDINATOR_CLIENT_VALIDITY_SECONDS,
    now,
  });
  return { cert: pair.cert, key: pair.key, expiresAt: now.getTime() + COORDINATOR_CLIENT_VALIDITY_SECONDS * 1000 };
}
