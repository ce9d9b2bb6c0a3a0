/**
 * The agent's coordinator client with replicas (agent/http.ts, ADR 0036), against real HTTPS
 * servers on 127.0.0.1 with the pinned test CA: a standby's 503 naming the leader moves the next
 * request there; a leader header outside the list is ignored; an unreachable replica moves the next
 * request to the next one; the answer itself (503, or the thrown error) still reaches the caller,
 * whose retry and backoff are unchanged.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPinnedHttp } from '../../../agent/http.ts';
import { freePort } from '../server/child-server.ts';
import { createTestTls } from '../server/support.ts';

const servers: Server[] = [];
let leader = '';
let standby = '';
let rogue = '';
const hits: string[] = [];

function serve(name: string, answer: (res: import('node:http').ServerResponse) => void): Promise<string> {
  const tls = createTestTls();
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    hits.push(`${name} ${req.url}`);
    answer(res);
  });
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

beforeAll(async () => {
  leader = await serve('leader', (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  rogue = await serve('rogue', (res) => res.writeHead(200).end('{}'));
  standby = await serve('standby', (res) =>
    res
      .writeHead(503, { 'content-type': 'application/json', 'retry-after': '2', 'x-kubeseed-leader': process.env.KS_TEST_LEADER ?? leader })
      .end('{"code":"UNAVAILABLE","message":"standby"}'),
  );
});

afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

const request = (http: ReturnType<typeof createPinnedHttp>) => http.request({ method: 'GET', path: '/v1/next?wait=0', timeoutMs: 2000 });

describe('agent http with replicas', () => {
  it('a standby 503 naming a listed leader: the caller sees the 503, the next request goes to the leader', async () => {
    const http = createPinnedHttp([standby, leader], createTestTls().ca);
    try {
      hits.length = 0;
      expect((await request(http)).status).toBe(503);
      expect(http.current()).toBe(leader);
      expect((await request(http)).status).toBe(200);
      expect(hits).toEqual(['standby /v1/next?wait=0', 'leader /v1/next?wait=0']);
    } finally {
      await http.close();
    }
  });

  it('a leader header naming a URL outside the list is not followed', async () => {
    process.env.KS_TEST_LEADER = rogue;
    const http = createPinnedHttp([standby, leader], createTestTls().ca);
    try {
      hits.length = 0;
      expect((await request(http)).status).toBe(503);
      expect(http.current()).toBe(standby);
      expect((await request(http)).status).toBe(503);
      expect(hits.every((h) => h.startsWith('standby'))).toBe(true);
    } finally {
      delete process.env.KS_TEST_LEADER;
      await http.close();
    }
  });

  it('an unreachable replica: the error reaches the caller, the next request tries the next URL, and the list wraps', async () => {
    const dead = `https://127.0.0.1:${await freePort()}`;
    const http = createPinnedHttp([dead, leader], createTestTls().ca);
    try {
      hits.length = 0;
      await expect(request(http)).rejects.toThrow(/ECONNREFUSED/);
      expect(http.current()).toBe(leader);
      expect((await request(http)).status).toBe(200);
      expect(hits).toEqual(['leader /v1/next?wait=0']);
    } finally {
      await http.close();
    }
    const only = createPinnedHttp([dead], createTestTls().ca);
    try {
      await expect(request(only)).rejects.toThrow(/ECONNREFUSED/);
      expect(only.current()).toBe(dead);
    } finally {
      await only.close();
    }
  });
});
