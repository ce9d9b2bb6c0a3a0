/**
 * What kubeseed says about a certificate — who it names, who signed it, its serial and when it
 * expires — read from its PEM with node:crypto. The coordinator reads its state directory's
 * certificates with it and the agent the ones kubeadm keeps on a control plane, so both describe a
 * certificate the same way (`kubeseed certs`).
 */
import { X509Certificate } from 'node:crypto';

export interface CertificateFacts {
  /** Attributes on one line, joined by ", " (`O=kubeadm:cluster-admins, CN=kubernetes-admin`). */
  subject: string;
  issuer: string;
  /** Hex, as openssl prints it. */
  serial: string;
  /** Epoch milliseconds. */
  notAfter: number;
}

/** One line of an X509 name (node gives one attribute per line). */
const oneLine = (name: string) => name.split('\n').filter(Boolean).join(', ');

/** The facts of the first certificate in `pem`; throws when it is not a readable certificate. */
export function certificateFacts(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  return { subject: oneLine(cert.subject), issuer: oneLine(cert.issuer), serial: cert.serialNumber, notAfter: Date.parse(cert.validTo) };
}
