import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { type CertKeyPem, generateCertificateAuthority, generateCoordinatorTls } from '../../../generator/pki/index.ts';

/** A TLS handshake on loopback, as the agent does it: the CA pinned, the name checked. */
async function handshake(server: CertKeyPem, ca: string, servername?: string): Promise<{ authorized: boolean; error?: string }> {
  const listener = createServer({ cert: server.cert, key: server.key }, (socket) => socket.end());
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca, ...(servername ? { servername } : {}) });
      socket.once('secureConnect', () => {
        resolve({ authorized: socket.authorized });
        socket.destroy();
      });
      socket.once('error', (err) => resolve({ authorized: false, error: err.message }));
    });
  } finally {
    listener.close();
  }
}

describe('coordinator TLS in a real handshake', () => {
  it('is accepted with the pinned coordinator CA and refused with another CA', async () => {
    const tls = await generateCoordinatorTls({ url: 'https://127.0.0.1:9443', now: new Date() });
    expect(await handshake(tls.server, tls.ca.cert)).toEqual({ authorized: true });
    const other = await generateCertificateAuthority('someone-else', 'ECDSA-P256', new Date());
    const refused = await handshake(tls.server, other.cert);
    expect(refused.authorized).toBe(false);
    expect(refused.error).toMatch(/certificate/);
  });

  it('checks the name: a certificate for another host is refused', async () => {
    const tls = await generateCoordinatorTls({ url: 'https://seed.kloud.lan:9443', now: new Date() });
    expect(await handshake(tls.server, tls.ca.cert, 'seed.kloud.lan')).toEqual({ authorized: true });
    const wrong = await handshake(tls.server, tls.ca.cert, 'other.kloud.lan');
    expect(wrong.error).toMatch(/Hostname\/IP does not match/);
  });
});
