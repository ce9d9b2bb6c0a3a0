/**
 * The coordinator's secrets as one value, and the shapes of its JSON files. Plain data (PEM and
 * strings): the state directory is its serialization (see layout.ts, docs/pki.md).
 */
import type { ClusterPki, CoordinatorTls, EnrollmentRecord } from '../pki/index.ts';
import type { ClusterSpec, KeyAlgorithm, Topology } from '../spec/types.ts';

export const STATE_FORMAT = 'kubeseed-coordinator-state';
export const STATE_VERSION = 1;

/** `state.json`: public facts about the state and the spec it was made for. Written last (commit marker). */
export interface StateManifest {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  cluster: {
    name: string;
    kubernetesVersion: string;
    kubernetesMinor: number;
    topology: Topology;
    controlPlaneEndpoint: ClusterSpec['controlPlaneEndpoint'];
    keyAlgorithm: KeyAlgorithm;
    coordinatorUrl: string;
  };
  /** Hosts with certificates under pki/etcd/members/. */
  etcdMembers: string[];
  /** Whether private files are encrypted with a passphrase. */
  encrypted: boolean;
  createdAt: string;
  updatedAt: string;
}

/** `secrets.json` */
export interface BootstrapSecrets {
  bootstrapToken: string;
  certificateKey: string;
  bootstrapTokenCreatedAt: string;
  certificateKeyCreatedAt: string;
}

/** `enrollment.json`: hashes only, never a credential. */
export interface EnrollmentRecords {
  hosts: Record<string, EnrollmentRecord>;
  /** Present when spec.fleet.enabled. */
  fleet?: EnrollmentRecord;
}

export interface CoordinatorState {
  /** The state directory (OUT/coordinator) it was read from or written to. */
  dir: string;
  manifest: StateManifest;
  pki: ClusterPki;
  tls: CoordinatorTls;
  secrets: BootstrapSecrets;
  enrollment: EnrollmentRecords;
}

/**
 * The fleet credential's name: its key in `credentials` maps (PlanContext.enrollmentCredentials uses
 * the same) and the host an EnrollmentVerifier returns for a valid fleet credential (server/load-state.ts).
 */
export const FLEET_KEY = '*';
