/**
 * SecretSource implementations over CoordinatorState: the real one for the coordinator, and a
 * public one for OUT/plan/ and `kubeseed plan` that gives public values (certificates, sa.pub,
 * the discovery hash) and SECRET_PLACEHOLDER for every private value.
 */

import { discoveryHash, mintAdminKubeconfig, PkiError } from '../pki/index.ts';
import { type PkiFileName, SECRET_PLACEHOLDER, type SecretSource } from '../plan/types.ts';
import type { CoordinatorState } from './types.ts';

/** Lifetime of the admin kubeconfig released inside steps (cni-apply, label-nodes, verify). */
export const STEP_KUBECONFIG_VALIDITY_SECONDS = 24 * 3600;

/** A PKI file's PEM from the state; throws (without secret content) for an unknown name or host. */
export function readPkiFile(state: Pick<CoordinatorState, 'pki'>, name: PkiFileName, host?: string): string {
  const { pki } = state;
  const member = () => {
    if (!host) throw new PkiError('MISSING_HOST', `${name} is per etcd member: pass the host name`);
    const found = pki.etcdMembers[host];
    if (!found)
      throw new PkiError('MISSING_HOST', `${name}: ${host} is not an etcd member of this state (external-etcd topology, role etcd)`);
    return found;
  };
  const client = () => {
    if (!pki.apiserverEtcdClient) throw new PkiError('UNKNOWN_PKI_FILE', `${name} exists only with the external-etcd topology`);
    return pki.apiserverEtcdClient;
  };
  switch (name) {
    case 'ca.crt':
      return pki.ca.cert;
    case 'ca.key':
      return pki.ca.key;
    case 'sa.key':
      return pki.sa.key;
    case 'sa.pub':
      return pki.sa.pub;
    case 'front-proxy-ca.crt':
      return pki.frontProxyCa.cert;
    case 'front-proxy-ca.key':
      return pki.frontProxyCa.key;
    case 'etcd/ca.crt':
      return pki.etcdCa.cert;
    case 'etcd/ca.key':
      // External etcd: members get certificates issued here, so no host ever needs the etcd CA key.
      if (Object.keys(pki.etcdMembers).length > 0 || pki.apiserverEtcdClient) {
        throw new PkiError(
          'UNKNOWN_PKI_FILE',
          'etcd/ca.key is never released with the external-etcd topology (hosts get etcd/ca.crt only)',
        );
      }
      return pki.etcdCa.key;
    case 'etcd/server.crt':
      return member().server.cert;
    case 'etcd/server.key':
      return member().server.key;
    case 'etcd/peer.crt':
      return member().peer.cert;
    case 'etcd/peer.key':
      return member().peer.key;
    case 'etcd/healthcheck-client.crt':
      return member().healthcheckClient.cert;
    case 'etcd/healthcheck-client.key':
      return member().healthcheckClient.key;
    case 'apiserver-etcd-client.crt':
      return client().cert;
    case 'apiserver-etcd-client.key':
      return client().key;
    default: {
      const unknown: never = name;
      throw new PkiError('UNKNOWN_PKI_FILE', `unknown PKI file ${String(unknown)}`);
    }
  }
}

/** Private files carry `.key`; everything else in the PKI is public. */
export function isPrivatePkiFile(name: PkiFileName): boolean {
  return name.endsWith('.key');
}

/**
 * The coordinator's SecretSource. The admin kubeconfig is minted on first use and re-minted once
 * half of its lifetime has passed.
 */
export function createSecretSource(
  state: CoordinatorState,
  options: { now?: () => Date; kubeconfigValiditySeconds?: number } = {},
): SecretSource {
  const clock = options.now ?? (() => new Date());
  const validity = options.kubeconfigValiditySeconds ?? STEP_KUBECONFIG_VALIDITY_SECONDS;
  const hash = discoveryHash(state.pki.ca.cert);
  let kubeconfig: { text: string; renewAt: number } | undefined;
  return {
    bootstrapToken: () => state.secrets.bootstrapToken,
    certificateKey: () => state.secrets.certificateKey,
    discoveryHash: () => hash,
    pkiFile: (name, host) => readPkiFile(state, name, host),
    adminKubeconfig() {
      const now = clock();
      if (!kubeconfig || now.getTime() >= kubeconfig.renewAt) {
        const text = mintAdminKubeconfig({ state, spec: clusterFactsOf(state), now, validitySeconds: validity });
        kubeconfig = { text, renewAt: now.getTime() + (validity * 1000) / 2 };
      }
      return kubeconfig.text;
    },
  };
}

/** Public values for OUT/plan/: certificates, sa.pub and the discovery hash; SECRET_PLACEHOLDER for the rest. */
export function createPublicSecretSource(state: Pick<CoordinatorState, 'pki'>): SecretSource {
  const hash = discoveryHash(state.pki.ca.cert);
  return {
    bootstrapToken: () => SECRET_PLACEHOLDER,
    certificateKey: () => SECRET_PLACEHOLDER,
    discoveryHash: () => hash,
    pkiFile: (name, host) => {
      const value = readPkiFile(state, name, host);
      return isPrivatePkiFile(name) ? SECRET_PLACEHOLDER : value;
    },
    adminKubeconfig: () => SECRET_PLACEHOLDER,
  };
}

/** The spec facts a kubeconfig needs, from the state's manifest. */
export function clusterFactsOf(state: Pick<CoordinatorState, 'manifest'>): {
  name: string;
  controlPlaneEndpoint: { host: string; port: number };
  kubernetesMinor: number;
} {
  const { cluster } = state.manifest;
  return { name: cluster.name, controlPlaneEndpoint: cluster.controlPlaneEndpoint, kubernetesMinor: cluster.kubernetesMinor };
}
