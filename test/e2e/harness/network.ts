/**
 * The test network: a bridge that lives in a network namespace of its own, and one veth pair per
 * test host (the host's end is `eth0` inside the host's namespace). Nothing is configured in the
 * root namespace and no namespace has a route to the outside, so a wrong address can never leave
 * the machine. Every namespace is registered for cleanup by name.
 */
import { deleteNetns, registerCleanup, registerLastResort } from './cleanup.ts';
import { run } from './exec.ts';

export class TestNetwork {
  readonly bridgeNs: string;
  private links = 0;

  private constructor(readonly prefix: string) {
    this.bridgeNs = `${prefix}br`;
  }

  /** Creates the bridge namespace `<prefix>br` with bridge `br0`. `prefix` must be unique per run (e.g. `ks-<pid>-1-`). */
  static async create(prefix: string): Promise<TestNetwork> {
    const net = new TestNetwork(prefix);
    await addNetns(net.bridgeNs);
    await run('ip', ['-n', net.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', net.bridgeNs, 'link', 'set', 'br0', 'up']);
    await run('ip', ['-n', net.bridgeNs, 'link', 'set', 'lo', 'up']);
    return net;
  }

  /**
   * Creates namespace `<prefix><name>` with `eth0` on the bridge, the address `cidr` and optionally
   * a MAC. Returns the namespace name and the bridge-side link name (for link faults).
   */
  async addHost(name: string, cidr: string, mac?: string): Promise<{ netns: string; bridgePort: string }> {
    const netns = `${this.prefix}${name}`;
    const bridgePort = `p${++this.links}`;
    await addNetns(netns);
    await run('ip', ['-n', this.bridgeNs, 'link', 'add', bridgePort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await run('ip', ['-n', this.bridgeNs, 'link', 'set', bridgePort, 'master', 'br0', 'up']);
    if (mac) await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'address', mac]);
    await run('ip', ['-n', netns, 'addr', 'add', cidr, 'dev', 'eth0']);
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    return { netns, bridgePort };
  }

  /**
   * Gives an existing namespace (a host of another network) a second link on this bridge: `ifname`
   * inside it, address `cidr`. Returns the bridge-side link name (for link faults).
   */
  async attach(netns: string, cidr: string, ifname: string): Promise<string> {
    const bridgePort = `p${++this.links}`;
    await run('ip', ['-n', this.bridgeNs, 'link', 'add', bridgePort, 'type', 'veth', 'peer', 'name', ifname, 'netns', netns]);
    await run('ip', ['-n', this.bridgeNs, 'link', 'set', bridgePort, 'master', 'br0', 'up']);
    await run('ip', ['-n', netns, 'addr', 'add', cidr, 'dev', ifname]);
    await run('ip', ['-n', netns, 'link', 'set', ifname, 'up']);
    return bridgePort;
  }

  /** Takes a host's bridge port down or up (the host sees NO-CARRIER on eth0). */
  async setPort(bridgePort: string, up: boolean): Promise<void> {
    await run('ip', ['-n', this.bridgeNs, 'link', 'set', bridgePort, up ? 'up' : 'down']);
  }
}

async function addNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  registerCleanup(`netns ${name}`, () => deleteNetns(name));
  registerLastResort(() => deleteNetns(name));
}
