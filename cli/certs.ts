/**
 * `kubeseed certs [--state DIR] [-o json|yaml]`: every certificate the coordinator issued or
 * serves, read from the state directory — who it names, who signed it, which hosts receive it,
 * when it expires and how many days are left — with the 30-day warning `status`, `hosts` and the
 * page give. Needs no running coordinator; KUBESEED_PASSPHRASE opens an encrypted state.
 *
 * Not listed, and said so: the leaves kubeadm makes on each control plane at init/join (valid one
 * year from then; `kubeadm certs check-expiration` on the host) and the kubelets' client
 * certificates (rotated by the kubelet).
 */
import { loadIssuedCertificates } from '../server/load-state.ts';
import { certificateWarning, expiryDate } from '../server/model.ts';
import { DEFAULT_STATE_DIR, type Io, parseCommand } from './commands.ts';
import { printData } from './output.ts';
import { formatTable } from './table.ts';

const DAY_MS = 86_400_000;

export const NOT_LISTED =
  'not listed: the certificates kubeadm makes on each control plane at init/join (valid one year from then; `kubeadm certs check-expiration` there) and the kubelet client certificates (rotated by the kubelet)';

export interface CertificateRow {
  file: string;
  subject: string;
  issuer: string;
  serial: string;
  /** Host names, or `*` for the coordinator's own TLS (every agent depends on it). */
  hosts: string[] | '*';
  notAfter: string;
  daysLeft: number;
}

export async function cmdCerts(argv: string[], io: Io): Promise<number> {
  const { flags, output } = parseCommand('certs', argv);
  const stateDir = (flags.state as string | undefined) ?? DEFAULT_STATE_DIR;
  const passphrase = io.env.KUBESEED_PASSPHRASE || undefined;
  const certificates = await loadIssuedCertificates(stateDir, passphrase ? { passphrase } : {});
  const now = Date.now();
  const rows: CertificateRow[] = [...certificates]
    .sort((a, b) => a.notAfter - b.notAfter || a.file.localeCompare(b.file))
    .map((c) => ({
      file: c.file,
      subject: c.subject,
      issuer: c.issuer,
      serial: c.serial,
      hosts: c.hosts,
      notAfter: new Date(c.notAfter).toISOString(),
      daysLeft: Math.floor((c.notAfter - now) / DAY_MS),
    }));
  const warnings = certificates.flatMap((c) => {
    const w = certificateWarning(c, now);
    return w ? [w] : [];
  });
  printData(io, output, { stateDir, certificates: rows, warnings, notListed: NOT_LISTED }, () => {
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
    io.stdout(`${NOT_LISTED}\n`);
  });
  return 0;
}
