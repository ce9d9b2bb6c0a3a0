/**
 * Certificates made by the real openssl for tests (ECDSA P-256, as kubeadm and kubeseed make them):
 * a self-signed CA and leaves it signs, written to `dir` as `<name>.crt` / `<name>.key`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pem {
  crt: string;
  key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const ssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
const read = (dir: string, name: string): Pem => ({
  crt: readFileSync(join(dir, `${name}.crt`), 'utf8'),
  key: readFileSync(join(dir, `${name}.key`), 'utf8'),
});

/** A CA valid `days` days for `subject` (`/CN=…`). */
export function opensslCa(dir: string, name: string, subject: string, days: number): Pem {
  ssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    String(days),
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  return read(dir, name);
}

/** A leaf signed by the CA `<ca>.crt/.key` in `dir`, valid `days` days, with openssl extension lines `ext`. */
export function opensslLeaf(dir: string, ca: string, name: string, subject: string, days: number, ext = ''): Pem {
  ssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  ssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    String(days),
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
  return read(dir, name);
}
