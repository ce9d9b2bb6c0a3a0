/**
 * Leader election among coordinator replicas on a real etcd (Debian's 3.4, TLS, 127.0.0.1): one
 * leader of three; a leader that stops hands over at the standbys' next tick; a leader cut off
 * from etcd (a loopback TCP relay the test breaks, as a partition would) stops leading within
 * its lease TTL without hearing from anyone, a standby takes over once the lease expires, the old
 * leader's store writes are fenced, and when the link returns it stays a standby.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdLeaderElection, type EtcdLeaderOptions } from '../../../server/store/etcd-leader.ts';
import { EtcdStore } from '../../../server/store/etcd-store.ts';
import { StoreError } from '../../../server/store/types.ts';
import { startTestEtcd, type TestEtcd } from '../../support/etcd-server.ts';
import { skipUnless } from '../../support/requirements.ts';

const skip = skipUnless('validators', { commands: ['etcd', 'etcdctl', 'openssl'] });
const TTL = 2;

let etcd: TestEtcd | undefined;
let elections = 0;
const started: EtcdLeaderElection[] = [];

/** A TCP relay on 127.0.0.1 to the test etcd that the test can cut (every socket) and restore. */
class Relay {
  private readonly sockets = new Set<Socket>();
  private cut = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async to(target: URL): Promise<Relay> {
    let relay: Relay | undefined;
    const server = createServer((client) => {
      if (relay!.cut) {
        client.destroy();
        return;
      }
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        relay!.sockets.add(s);
        s.on('close', () => relay!.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    relay = new Relay(server, (server.address() as { port: number }).port);
    return relay;
  }

  partition(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.cut = false;
  }

  close(): Promise<void> {
    this.partition();
    return new Promise((r) => this.server.close(() => r()));
  }
}

function election(key: string, id: string, endpoint = etcd!.clientUrl, extra: Partial<EtcdLeaderOptions> = {}): EtcdLeaderElection {
  const e = new EtcdLeaderElection({
    endpoints: [endpoint],
    tls: etcd!.clientTls(),
    key,
    self: { id, url: `https://${id}.test:9443` },
    ttlSeconds: TTL,
    requestTimeoutMs: 1_000,
    ...extra,
  });
  started.push(e);
  return e;
}

async function eventually<T>(what: string, ms: number, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  if (!skip) etcd = await startTestEtcd('ks-etcd-leader-');
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(started.map((e) => e.stop()));
  etcd?.stop();
});

describe.skipIf(skip)('leader election on a real etcd', () => {
  it('one leader of three; when it stops, one standby takes over', async () => {
    const key = `test/${process.pid}/${++elections}/leader`;
    const replicas = ['r1', 'r2', 'r3'].map((id) => election(key, id));
    const states = await Promise.all(replicas.map((r) => r.start()));
    expect(states.filter((s) => s.role === 'leader')).toHaveLength(1);
    const leader = replicas.find((r) => r.isLeader())!;
    const others = replicas.filter((r) => r !== leader);
    await leader.stop();
    expect(leader.isLeader()).toBe(false);
    // Revoked lease: the key is gone at once, a standby wins at its next tick (TTL/3).
    await eventually('a standby leads', (TTL * 1000 * 2) / 3 + 1_000, () => others.some((r) => r.isLeader()));
    await new Promise((r) => setTimeout(r, (TTL * 1000) / 3 + 200));
    expect(others.filter((r) => r.isLeader())).toHaveLength(1);
  });

  it('a partitioned leader steps down within its TTL, is fenced, and rejoins as a standby', async () => {
    const prefix = `test/${process.pid}/${++elections}/`;
    const key = `${prefix}leader`;
    const relay = await Relay.to(new URL(etcd!.clientUrl));
    try {
      const changes: string[] = [];
      const a = election(key, 'a', `https://127.0.0.1:${relay.port}`, { onChange: (s) => changes.push(s.role) });
      expect((await a.start()).role).toBe('leader');
      const b = election(key, 'b');
      expect(await b.start()).toEqual({ role: 'standby', leader: { id: 'a', url: 'https://a.test:9443' } });

      // a's store, written through the same relay and fenced by its leadership.
      const store = new EtcdStore({
        endpoints: [`https://127.0.0.1:${relay.port}`],
        tls: etcd!.clientTls(),
        prefix,
        requestTimeoutMs: 1_000,
        fence: () => a.fence(),
      });
      await store.open();
      expect((await store.commit({ puts: [{ key: 'lock/init', value: { holder: 'cp1' } }] })).ok).toBe(true);

      const cutAt = Date.now();
      relay.partition();
      await eventually('a steps down', TTL * 1000 + 1_000, () => !a.isLeader());
      expect(Date.now() - cutAt).toBeLessThanOrEqual(TTL * 1000 + 500);
      await expect(store.commit({ puts: [{ key: 'step/x', value: 1 }] })).rejects.toThrow(StoreError);
      expect(store.get('step/x')).toBeUndefined();

      // b takes over once a's lease has expired in etcd (TTL after a's last renewal).
      await eventually('b leads', TTL * 1000 * 3, () => b.isLeader());
      relay.heal();
      await new Promise((r) => setTimeout(r, TTL * 1000));
      expect(a.isLeader()).toBe(false);
      expect(a.current()).toEqual({ role: 'standby', leader: { id: 'b', url: 'https://b.test:9443' } });
      expect(changes.slice(0, 2)).toEqual(['leader', 'standby']);
      expect(changes.filter((c) => c === 'leader')).toHaveLength(1);
      // Even with its link back, a's old term cannot write.
      await expect(store.commit({ puts: [{ key: 'step/y', value: 1 }] })).rejects.toThrow(/not the leader/);
      await store.close();
    } finally {
      await relay.close();
    }
  });
});
