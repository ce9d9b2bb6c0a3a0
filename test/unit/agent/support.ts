/**
 * Helpers for the agent's unit tests: temporary roots, a scripted Net, TLS material made in the
 * test (node-forge), and a tiny fake coordinator on 127.0.0.1 that verifies request signatures.
 */
import { createPublicKey, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import forge from 'node-forge';
import type { Net, TcpProbeResult, TlsClientFiles } from '../../../agent/io.ts';
import { sha256Hex } from '../../../agent/signing.ts';
import { canonicalRequest, HEADER_HOST, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP } from '../../../protocol/wire.ts';

export function makeTempRoot(prefix = 'ks-agent-'): {
  root: string;
  write(path: string, content: string, mode?: number): void;
  cleanup(): void;
} {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return {
    root,
    write(path, content, mode = 0o644) {
      const full = join(root, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content, { mode });
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A host that passes the kube preflight: no swap, ip_forward on, a physical NIC. */
/** The preflight checks of a control plane or worker after cloud-init and the clock, in order (agent/preflight.ts). */
export const PACKAGE_CHECKS = ['containerd', 'kubelet', 'kubeadm', 'swap', 'ip_forward', 'endpoint-dns', 'endpoint-tcp'];

export function seedHealthyHost(write: (path: string, content: string, mode?: number) => void): void {
  write('/proc/swaps', 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
  write('/proc/sys/net/ipv4/ip_forward', '1\n');
  write('/etc/machine-id', '0123456789abcdef0123456789abcdef\n');
  write('/sys/class/dmi/id/product_uuid', '4C4C4544-0042-3010-8053-B4C04F564433\n');
  write('/sys/class/net/eth0/address', '52:54:00:12:34:56\n');
  write('/sys/class/net/eth0/device/vendor', '0x1af4\n');
  write('/sys/class/net/lo/address', '00:00:00:00:00:00\n');
  write('/sys/class/net/veth1/address', '9a:00:00:00:00:01\n');
  write('/etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n');
}

export interface ScriptedNet extends Net {
  tcpAnswers: Map<string, TcpProbeResult>;
  dns: Map<string, string[]>;
  tls: Array<{ url: string; method: string; body?: string }>;
  tlsHandler: (url: string, method: string, body: string | undefined, tls: TlsClientFiles) => { status: number; body: string };
}

export function scriptedNet(): ScriptedNet {
  const net: ScriptedNet = {
    tcpAnswers: new Map(),
    dns: new Map(),
    tls: [],
    tlsHandler: () => ({ status: 200, body: '{"health":"true"}' }),
    async resolve(host) {
      const a = net.dns.get(host);
      if (!a) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
      return a;
    },
    async tcpProbe(host, port) {
      return net.tcpAnswers.get(`${host}:${port}`) ?? net.tcpAnswers.get('*') ?? 'timeout';
    },
    async tlsRequest({ url, method, body, tls }) {
      net.tls.push({ url, method, ...(body === undefined ? {} : { body }) });
      return net.tlsHandler(url, method, body, tls);
    },
  };
  return net;
}

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A CA and a server certificate for 127.0.0.1 / localhost (RSA: node-forge has no ECDSA). */
export function makeTlsMaterial(): TlsMaterial {
  const pki = forge.pki;
  const caKeys = pki.rsa.generateKeyPair(2048);
  const ca = pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = '01';
  ca.validity.notBefore = new Date(Date.now() - 3600_000);
  ca.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const caName = [{ name: 'commonName', value: 'kubeseed-test-ca' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());
  const keys = pki.rsa.generateKeyPair(2048);
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '02';
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: 'kubeseed-coordinator' }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 2, value: 'localhost' },
      ],
    },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  return { caPem: pki.certificateToPem(ca), certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  signed: boolean;
  signatureValid: boolean;
}

export type Handler = (req: RecordedRequest) => { status: number; body?: unknown; delayMs?: number };

export interface FakeCoordinator {
  url: string;
  requests: RecordedRequest[];
  publicKeyPem: string | null;
  close(): Promise<void>;
}

/** HTTPS on 127.0.0.1; checks every signed request against the key the agent enrolled with. */
export async function startFakeCoordinator(tls: TlsMaterial, handler: Handler): Promise<FakeCoordinator> {
  const state: FakeCoordinator = { url: '', requests: [], publicKeyPem: null, close: async () => undefined };
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      const path = req.url ?? '/';
      if (path === '/v1/enroll' && body && typeof body === 'object') state.publicKeyPem = (body as { publicKey: string }).publicKey;
      const signature = req.headers[HEADER_SIGNATURE];
      let signatureValid = false;
      if (typeof signature === 'string' && state.publicKeyPem) {
        const canonical = canonicalRequest(
          req.method ?? '',
          path,
          String(req.headers[HEADER_TIMESTAMP]),
          String(req.headers[HEADER_NONCE]),
          sha256Hex(raw),
        );
        signatureValid = verify('sha256', Buffer.from(canonical), createPublicKey(state.publicKeyPem), Buffer.from(signature, 'base64'));
        signatureValid &&= typeof req.headers[HEADER_HOST] === 'string';
      }
      const recorded: RecordedRequest = { method: req.method ?? '', path, body, signed: typeof signature === 'string', signatureValid };
      state.requests.push(recorded);
      const answer =
        recorded.signed && !signatureValid
          ? { status: 401, body: { error: 'Unauthorized', code: 'UNAUTHORIZED', message: 'bad signature' } }
          : handler(recorded);
      const send = () => {
        if (answer.body === undefined) {
          res.writeHead(answer.status).end();
          return;
        }
        const text = JSON.stringify(answer.body);
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((done) => {
      server.closeAllConnections();
      server.close(() => done());
    });
  return state;
}
