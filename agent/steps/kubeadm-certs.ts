/**
 * The certificates kubeadm makes and keeps on a control plane, read after each step that creates
 * or renews them, so the coordinator can list them (`kubeseed certs`, status, the page) and warn
 * before they expire (issue 22): the list `kubeadm certs check-expiration` prints (kubeadm's
 * cmd/phases/certs and renewal manager: the PKI leaves, then the client certificate embedded in
 * each kubeconfig kubeadm writes). CAs are not read here: kubeseed issues them (the coordinator
 * lists them from its state). The kubelet's own client certificate is rotated by the kubelet.
 *
 * A missing file is simply absent (an external-etcd control plane has no etcd/server.crt); a file
 * that is not a readable certificate is said in the step's log and not reported.
 */
import { certificateFacts } from '../../protocol/certificate-facts.ts';
import type { StepKind } from '../../protocol/steps.ts';
import type { KubeadmCertificate } from '../../protocol/wire.ts';
import { PKI_DIR, type StepRun } from './step-run.ts';

/** The steps after which a control plane's kubeadm certificates are new or renewed. */
export const READS_KUBEADM_CERTIFICATES: ReadonlySet<StepKind> = new Set<StepKind>([
  'kubeadm-init',
  'kubeadm-join-control-plane',
  'control-plane-cert-renew',
  // kubeadm upgrade apply|node renew every certificate by default (--certificate-renewal=true).
  'kubeadm-upgrade-apply',
  'kubeadm-upgrade-node',
]);

const PKI_LEAVES = [
  'apiserver.crt',
  'apiserver-kubelet-client.crt',
  'apiserver-etcd-client.crt',
  'front-proxy-client.crt',
  'etcd/server.crt',
  'etcd/peer.crt',
  'etcd/healthcheck-client.crt',
].map((f) => `${PKI_DIR}/${f}`);

const KUBECONFIGS = ['admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf'].map((f) => `/etc/kubernetes/${f}`);

/** The PEM a kubeconfig embeds as its user's client certificate, or null when it embeds none. */
export function embeddedClientCertificate(kubeconfig: string): string | null {
  const data = /^\s*client-certificate-data:\s*"?([^\s"]+)"?\s*$/m.exec(kubeconfig)?.[1];
  return data ? Buffer.from(data, 'base64').toString('utf8') : null;
}

export async function readKubeadmCertificates(run: StepRun): Promise<KubeadmCertificate[]> {
  const found: KubeadmCertificate[] = [];
  const unreadable: string[] = [];
  const read = async (path: string, pemOf: (text: string) => string | null) => {
    const text = await run.fs.readText(path);
    if (text === null) return;
    const pem = pemOf(text);
    if (pem === null) return;
    try {
      found.push({ path, ...certificateFacts(pem) });
    } catch {
      unreadable.push(path);
    }
  };
  for (const path of PKI_LEAVES) await read(path, (text) => text);
  for (const path of KUBECONFIGS) await read(path, embeddedClientCertificate);
  if (unreadable.length > 0) run.note(`not a readable certificate, not reported to the coordinator: ${unreadable.join(', ')}`);
  return found;
}

/** A succeeded step's results with the host's kubeadm certificates when its kind creates or renews them. */
export async function withKubeadmCertificates<R extends { kubeadmCertificates?: KubeadmCertificate[] }>(
  run: StepRun,
  results: R,
): Promise<R> {
  if (!READS_KUBEADM_CERTIFICATES.has(run.step.kind)) return results;
  try {
    const certificates = await readKubeadmCertificates(run);
    return certificates.length > 0 ? { ...results, kubeadmCertificates: certificates } : results;
  } catch (error) {
    // The step itself succeeded: not knowing the expiry dates must not undo it.
    run.note(`could not read kubeadm's certificates: ${(error as Error).message}`);
    return results;
  }
}
