/**
 * `kubeseed certs [--state DIR] [--store URL] [-o json|yaml]`: every certificate the coordinator
 * issued or serves, read from the state directory, and every one kubeadm keeps on a control plane
 * as that host's agent last reported it (read from the coordinator's records, without changing
 * them) — who it names, who signed it, which hosts hold it, when it expires and how many days are
 * left — with the 30-day warning `status`, `hosts` and the page give. Needs no running coordinator;
 * KUBESEED_PASSPHRASE opens an encrypted state.
 *
 * Not listed, and said so: the kubelets' client certificates (rotated by the kubelet).
 */
import { loadCertificates } from '../server/load-state.ts';
import { certificateWarning, expiryDate } from '../server/model.ts';
import { DEFAULT_STATE_DIR, type Io, parseCommand } from './commands.ts';
import { printData } from './output.ts';
import { recordStoreOf } from './store-flags.ts';
import { formatTable } from './table.ts';

const DAY_MS = 86_400_000;

export const NOT_LISTED = 'not listed: the kubelet client certificates (rotated by the kubelet)';

/** Said when no agent has reported kubeadm's certificates yet. */
export const NONE_REPORTED =
  'kubeadm certificates: none reported yet (a control plane reports them after kubeadm init/join, a renewal or an upgrade); `kubeadm certs check-expiration` on the host';

export interface CertificateRow {
  /** A state-directory path, or `HOST:PATH` for a certificate kubeadm keeps on that host. */
  file: string;
  /** `state`: issued by kubeseed, read from the state directory; `kubeadm`: made by kubeadm on the host, as its agent reported it. */
  source: 'state' | 'kubeadm';
  subject: string;
  issuer: string;
  serial: string;
  /** Host names, or `*` for the coordinator's own TLS (every agent depends on it). */
  hosts: string[] | '*';
  notAfter: string;
  daysLeft: number;
  /** kubeadm's: when the agent read it on the host (the end of the step that reported it). */
  readAt?: string;
}

export async function cmdCerts(argv: string[], io: Io): Promise<number> {
  const { flags, output } = parseCommand('certs', argv);
  const stateDir = (flags.state as string | undefined) ?? DEFAULT_STATE_DIR;
  const passphrase = io.env.KUBESEED_PASSPHRASE || undefined;
  const records = await recordStoreOf(flags);
  const { issued, reported } = await loadCertificates(stateDir, { ...(passphrase ? { passphrase } : {}), ...(records ? { records } : {}) });
  const now = Date.now();
  const certificates = [
    ...issued.map((c) => ({ ...c, source: 'state' as const })),
    ...(reported ?? []).map((c) => ({ ...c, source: 'kubeadm' as const })),
  ].sort((a, b) => a.notAfter - b.notAfter || a.file.localeCompare(b.file));
  const rows: CertificateRow[] = certificates.map((c) => ({
    file: c.file,
    source: c.source,
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serial,
    hosts: c.hosts,
    notAfter: new Date(c.notAfter).toISOString(),
    daysLeft: Math.floor((c.notAfter - now) / DAY_MS),
    ...('readAt' in c ? { readAt: new Date(c.readAt).toISOString() } : {}),
  }));
  const warnings = certificates.flatMap((c) => {
    const w = certificateWarning(c, now);
    return w ? [w] : [];
  });
  const notes = [...(reported?.length ? [] : [NONE_REPORTED]), NOT_LISTED];
  printData(
    io,
    output,
    { stateDir, certificates: rows, warnings, notListed: NOT_LISTED, ...(reported?.length ? {} : { notReported: NONE_REPORTED }) },
    () => {
      io.stdout(
        formatTable([
          ['FILE', 'SUBJECT', 'HOSTS', 'NOT AFTER', 'DAYS LEFT'],
          ...rows.map((r) => [
            r.file,
            r.subject,
            r.hosts === '*' ? '(every agent)' : r.hosts.join(','),
            expiryDate(Date.parse(r.notAfter)),
            String(r.daysLeft),
          ]),
        ]),
      );
      for (const w of warnings) io.stdout(`WARNING: ${w}\n`);
      for (const n of notes) io.stdout(`${n}\n`);
    },
  );
  return 0;
}
