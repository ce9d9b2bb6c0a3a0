/**
 * Which certificates kubeseed issued each host receives from the coordinator, and when they
 * expire. Read once when `kubeseed serve` loads its state (certificates do not change while it
 * runs: a `kubeseed generate` that re-issues them needs a restart anyway), so the status
 * projection only compares numbers.
 *
 * What a host receives follows the secret kinds of its planned steps (generator/plan/build-step):
 * the shared PKI and the etcd CA for control planes, the apiserver-etcd-client certificate with
 * external etcd, and each external etcd member's own server/peer/healthcheck-client certificates.
 * The coordinator's own TLS certificate (and its CA) concern every host: agents reach the
 * coordinator only through it. Private keys and the on-demand admin kubeconfigs (24 h, minted
 * per release) are not listed.
 *
 * The certificates kubeadm makes on the control planes are learnt from the agents' step results
 * (`reportedCertificates`), not from the state directory.
 */

import type { ClusterPlan, PkiFileName, SecretKind } from '../generator/plan/types.ts';
import { type CertificateFacts, certificateFacts } from '../protocol/certificate-facts.ts';
import type { KubeadmCertificate } from '../protocol/wire.ts';
import type { CertificateExpiry, StepRecord } from './model.ts';

export type { CertificateExpiry };

export interface TrackedCertificate extends CertificateExpiry {
  /** Hosts that receive it; `*`: none receives it but every agent depends on it (the coordinator's TLS). */
  hosts: string[] | '*';
}

/** A certificate read from the state directory: also who it names and who signed it (`kubeseed certs`). */
export interface IssuedCertificate extends TrackedCertificate {
  /** Subject and issuer on one line, attributes joined by ", " (`O=…, CN=kube-apiserver-etcd-client`). */
  subject: string;
  issuer: string;
  /** Hex, as openssl prints it: tells a re-issued certificate from the one it replaced. */
  serial: string;
}

type CertName = Extract<PkiFileName, `${string}.crt`>;

/** The certificates each secret kind carries (keys are secret but expire with their certificate). */
const CERTS_BY_KIND: Partial<Record<SecretKind, { shared: CertName[]; perMember?: CertName[] }>> = {
  'shared-pki': { shared: ['ca.crt', 'front-proxy-ca.crt'] },
  'etcd-ca': { shared: ['etcd/ca.crt'] },
  'apiserver-etcd-client': { shared: ['etcd/ca.crt', 'apiserver-etcd-client.crt'] },
  'etcd-member-certs': { shared: ['etcd/ca.crt'], perMember: ['etcd/server.crt', 'etcd/peer.crt', 'etcd/healthcheck-client.crt'] },
};

function read(pem: string, file: string): CertificateFacts {
  try {
    return certificateFacts(pem);
  } catch (error) {
    throw new Error(`${file} in the state directory is not a readable certificate (${(error as Error).message}); re-run kubeseed generate`);
  }
}

/**
 * Every certificate the coordinator hands out or serves, with its notAfter and who gets it.
 * `pkiFile` is the coordinator's SecretSource; `tls` the coordinator's own certificate and CA (PEM).
 */
export function trackedCertificates(
  plan: Pick<ClusterPlan, 'steps'>,
  pkiFile: (name: PkiFileName, host?: string) => string,
  tls: { cert: string; ca: string },
): IssuedCertificate[] {
  const shared = new Map<CertName, Set<string>>();
  const members = new Map<string, CertName[]>();
  for (const step of plan.steps) {
    for (const kind of step.secrets) {
      const certs = CERTS_BY_KIND[kind];
      if (!certs) continue;
      for (const name of certs.shared) shared.set(name, (shared.get(name) ?? new Set()).add(step.host));
      if (certs.perMember) members.set(step.host, certs.perMember);
    }
  }
  const out: IssuedCertificate[] = [
    { file: 'tls/server.crt', ...read(tls.cert, 'tls/server.crt'), hosts: '*' },
    { file: 'tls/ca.crt', ...read(tls.ca, 'tls/ca.crt'), hosts: '*' },
  ];
  for (const [name, hosts] of shared) {
    const file = `pki/${name}`;
    out.push({ file, ...read(pkiFile(name), file), hosts: [...hosts].sort() });
  }
  for (const [host, names] of [...members].sort(([a], [b]) => a.localeCompare(b))) {
    for (const name of names) {
      const file = `pki/etcd/members/${host}/${name.slice('etcd/'.length)}`;
      out.push({ file, ...read(pkiFile(name, host), file), hosts: [host] });
    }
  }
  return out;
}

function earlier(a: CertificateExpiry | undefined, b: TrackedCertificate): CertificateExpiry {
  return a && a.notAfter <= b.notAfter ? a : { file: b.file, notAfter: b.notAfter };
}

/** The earliest expiry overall, and per host among the certificates that host receives (the coordinator's TLS only overall). */
export function summarizeExpiry(certificates: readonly TrackedCertificate[]): {
  overall: CertificateExpiry | null;
  byHost: Map<string, CertificateExpiry>;
} {
  let overall: CertificateExpiry | undefined;
  const byHost = new Map<string, CertificateExpiry>();
  for (const cert of certificates) {
    overall = earlier(overall, cert);
    if (cert.hosts === '*') continue;
    for (const host of cert.hosts) byHost.set(host, earlier(byHost.get(host), cert));
  }
  return { overall: overall ?? null, byHost };
}

/**
 * The certificates kubeadm keeps on each control plane, as its agent last read them (issue 22): the
 * newest succeeded step of each host whose results carry them (kubeadm init/join, renewals and
 * upgrades report them). `file` names the host and the host path (`cp1:/etc/kubernetes/pki/apiserver.crt`);
 * `readAt` is when the step finished.
 */
export function reportedCertificates(
  steps: Iterable<Pick<StepRecord, 'host' | 'state' | 'finishedAt'> & { results?: StepRecord['results'] }>,
): (IssuedCertificate & { readAt: number })[] {
  const newest = new Map<string, { at: number; certificates: KubeadmCertificate[] }>();
  for (const step of steps) {
    // Records written before results were kept (or by hand) may have none.
    const certificates = step.results?.kubeadmCertificates;
    if (step.state !== 'succeeded' || !certificates?.length) continue;
    const at = step.finishedAt ?? 0;
    if ((newest.get(step.host)?.at ?? -1) < at) newest.set(step.host, { at, certificates });
  }
  return [...newest]
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([host, { at, certificates }]) =>
      certificates.map((c) => ({
        file: `${host}:${c.path}`,
        subject: c.subject,
        issuer: c.issuer,
        serial: c.serial,
        notAfter: c.notAfter,
        hosts: [host],
        readAt: at,
      })),
    );
}
