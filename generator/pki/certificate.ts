/**
 * One certificate-building path for RSA and ECDSA: node-forge describes the structure (names,
 * extensions, ASN.1/DER), Node's native crypto signs the TBSCertificate. node-forge alone can
 * neither hold an ECDSA public key nor sign quickly (pure-JS RSA, ~60 ms per certificate), so
 * the SubjectPublicKeyInfo comes from Node's DER export and the signature from `crypto.sign`.
 * See docs/adr/0001-pki-signing.md.
 *
 * Runtime contract: synchronous, no I/O; randomness only for serial numbers (crypto.randomBytes).
 */
import { createHash, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { PkiError } from './errors.ts';
import { exportPublicKeyDer } from './keys.ts';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
/** Functions node-forge exports at runtime that its type definitions leave out. */
const forgeInternals = forge.pki as unknown as {
  certificateExtensionsToAsn1(extensions: object[]): Asn1;
};
const fromDerWithOptions = asn1.fromDer as unknown as (
  bytes: forge.util.ByteStringBuffer,
  options: { decodeBitStrings: boolean; strict: boolean },
) => Asn1;

const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const YEAR_2050 = Date.UTC(2050, 0, 1);

export type ExtendedKeyUsage = 'serverAuth' | 'clientAuth';

/** What a certificate says. Validity is absolute; callers decide backdating (see `validityFrom`). */
export interface CertificateProfile {
  commonName: string;
  organizations?: string[];
  isCa: boolean;
  keyUsage: { digitalSignature?: boolean; keyEncipherment?: boolean; keyCertSign?: boolean };
  extendedKeyUsage?: ExtendedKeyUsage[];
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore: Date;
  notAfter: Date;
}

/** A CA that signs: its certificate (DER, for the issuer name and key id) and its private key. */
export interface SigningAuthority {
  certificateDer: Buffer;
  privateKey: KeyObject;
}

export interface IssuedCertificate {
  pem: string;
  der: Buffer;
}

/** kubeadm's backdating: NotBefore one hour before `now`, NotAfter `seconds` after `now`. */
export const BACKDATE_SECONDS = 3600;
export function validityFrom(now: Date, seconds: number): { notBefore: Date; notAfter: Date } {
  const t = Math.floor(now.getTime() / 1000) * 1000;
  return { notBefore: new Date(t - BACKDATE_SECONDS * 1000), notAfter: new Date(t + seconds * 1000) };
}

/**
 * Builds and signs a certificate for `publicKey`. Without `issuer` it is self-signed with
 * `selfSigningKey` (the private half of `publicKey`).
 */
export function issueCertificate(options: {
  profile: CertificateProfile;
  publicKey: KeyObject;
  issuer?: SigningAuthority;
  selfSigningKey?: KeyObject;
}): IssuedCertificate {
  const { profile, publicKey, issuer } = options;
  const signingKey = issuer?.privateKey ?? options.selfSigningKey;
  if (!signingKey) throw new PkiError('UNSUPPORTED_KEY', `${profile.commonName}: a self-signed certificate needs its private key`);

  const spki = fromDer(exportPublicKeyDer(publicKey));
  const subjectKeyId = keyIdentifierOf(spki);
  const subject = nameToAsn1(profile);
  let issuerName: Asn1 = subject;
  let authorityKeyId: string | undefined;
  if (issuer) {
    const parent = readTbsParts(issuer.certificateDer);
    issuerName = parent.subject;
    authorityKeyId = parent.subjectKeyId ?? keyIdentifierOf(parent.spki);
  }

  const signatureAlgorithm = signatureAlgorithmOf(signingKey);
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [integer(asn1.integerToDer(2).getBytes())]),
    integer(randomSerial()),
    signatureAlgorithm,
    issuerName,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [timeToAsn1(profile.notBefore), timeToAsn1(profile.notAfter)]),
    subject,
    spki,
    forgeInternals.certificateExtensionsToAsn1(extensionsOf(profile, subjectKeyId, authorityKeyId)),
  ]);
  const tbsDer = toBuffer(tbs);
  const signature = sign('sha256', tbsDer, signingKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    fromDer(tbsDer),
    signatureAlgorithmOf(signingKey),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${signature.toString('binary')}`),
  ]);
  const der = toBuffer(certificate);
  return { der, pem: derToPem(der, 'CERTIFICATE') };
}

/** PEM armor with 64-character lines, as OpenSSL and Go write it. */
export function derToPem(der: Buffer, label: string): string {
  const body = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** The DER of the first certificate in `pem`; the error names `what`. */
export function certificateDerOf(pem: string, what: string): Buffer {
  try {
    return Buffer.from(new X509Certificate(pem).raw);
  } catch {
    throw new PkiError('INVALID_PEM', `${what}: not a readable certificate PEM`);
  }
}

function signatureAlgorithmOf(key: KeyObject): Asn1 {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        oid(OID_SHA256_WITH_RSA),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
      ]);
    case 'ec':
      // RFC 5758: the parameters of ecdsa-with-SHA256 are absent.
      return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [oid(OID_ECDSA_WITH_SHA256)]);
    default:
      throw new PkiError('UNSUPPORTED_KEY', `cannot sign with a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
}

function extensionsOf(profile: CertificateProfile, subjectKeyId: string, authorityKeyId: string | undefined): object[] {
  const extensions: object[] = [
    { name: 'keyUsage', critical: true, ...profile.keyUsage },
    { name: 'basicConstraints', critical: true, cA: profile.isCa },
  ];
  if (profile.extendedKeyUsage?.length) {
    extensions.push({ name: 'extKeyUsage', ...Object.fromEntries(profile.extendedKeyUsage.map((u) => [u, true])) });
  }
  extensions.push({
    name: 'subjectKeyIdentifier',
    value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, subjectKeyId),
  });
  if (authorityKeyId !== undefined) {
    extensions.push({
      name: 'authorityKeyIdentifier',
      value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, authorityKeyId),
      ]),
    });
  }
  const altNames = [
    ...(profile.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(profile.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  // forge fills each extension's DER value from these fields; the ones with `value` are kept as given.
  const holder = forge.pki.createCertificate();
  holder.setExtensions(extensions);
  return holder.extensions;
}

/** Subject as Go writes it: O before CN; PrintableString when the text allows it, else UTF8String. */
function nameToAsn1(profile: CertificateProfile): Asn1 {
  const attributes = [
    ...(profile.organizations ?? []).map((value) => ({ type: forge.pki.oids.organizationName!, value })),
    { type: forge.pki.oids.commonName!, value: profile.commonName },
  ].map(({ type, value }) =>
    PRINTABLE.test(value) ? { type, value, valueTagClass: asn1.Type.PRINTABLESTRING } : { type, value, valueTagClass: asn1.Type.UTF8 },
  );
  return forge.pki.distinguishedNameToAsn1({ attributes } as unknown as forge.pki.Certificate['subject']);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents. */
function keyIdentifierOf(spki: Asn1): string {
  const bits = (spki.value as Asn1[])[1]!.value as string;
  return createHash('sha1')
    .update(Buffer.from(bits.slice(1), 'binary'))
    .digest()
    .toString('binary');
}

function readTbsParts(certificateDer: Buffer): { subject: Asn1; spki: Asn1; subjectKeyId?: string } {
  const tbs = (fromDer(certificateDer).value as Asn1[])[0]!;
  const fields = tbs.value as Asn1[];
  // [0] version, serial, signature, issuer, validity, subject, spki, ..., [3] extensions
  const subject = fields[5]!;
  const spki = fields[6]!;
  let subjectKeyId: string | undefined;
  const extensions = fields.find((f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
  for (const ext of ((extensions?.value as Asn1[] | undefined)?.[0]?.value as Asn1[] | undefined) ?? []) {
    const parts = ext.value as Asn1[];
    if (asn1.derToOid(parts[0]!.value as string) !== OID_SUBJECT_KEY_IDENTIFIER) continue;
    const octets = parts[parts.length - 1]!.value as string;
    subjectKeyId = (fromDer(Buffer.from(octets, 'binary')).value as string) ?? undefined;
  }
  return subjectKeyId === undefined ? { subject, spki } : { subject, spki, subjectKeyId };
}

function randomSerial(): string {
  // 126 random bits, positive and minimally encoded: the first byte is in 0x40..0x7f.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('binary');
}

function timeToAsn1(date: Date): Asn1 {
  return date.getTime() < YEAR_2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function integer(bytes: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
}

function oid(dotted: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(dotted).getBytes());
}

function fromDer(der: Buffer): Asn1 {
  // Bit strings stay opaque so that keys and signatures are re-emitted byte for byte.
  return fromDerWithOptions(forge.util.createBuffer(der.toString('binary')), { decodeBitStrings: false, strict: true });
}

function toBuffer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}
