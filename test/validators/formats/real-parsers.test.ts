/**
 * The systemd units, networkd/udev files and NetworkManager keyfiles kubeseed renders for every
 * example (cloud-init and Ignition) and their Flatcar / Fedora CoreOS / PXE / proxy variants,
 * checked by the programs that read them on hosts (docs/formats.md, "What is proven, per OS"):
 *
 * - `systemd-analyze verify --root=<tmp>` on every unit and drop-in. The root holds this machine's
 *   /lib/systemd/system (targets the units name) and, for each absolute Exec*= path, a stand-in
 *   executable: the programs live on the target image, not here. So syntax, sections, keys,
 *   values, specifiers and that every command is an absolute, executable path are checked; that
 *   the target ships the program is not. A drop-in whose unit comes from an OS package
 *   (containerd, rpm-ostreed) is verified merged onto a stand-in base unit. Debian 12's systemd
 *   252 does not know `RestartSteps=`/`RestartMaxDelaySec=` (254): exactly those may be reported.
 * - real `systemd-networkd` in a throwaway network + mount namespace, with the host's `.network`
 *   files as its only configuration and a veth carrying the host's MAC: no parse warning, and the
 *   address and default route land on that NIC (udev is absent there: /sys is read-only, so
 *   networkd does not wait for it).
 * - udev's `.link` parser (`udevadm test-builtin net_setup_link`) on a veth with the host's MAC
 *   in such a namespace: no warning, the file applies, the NIC is named `interface`.
 * - `nmcli --offline connection modify` reads each keyfile and writes it back normalized: exit 0,
 *   and every key kubeseed wrote comes back with the same value (NetworkManager drops what it does
 *   not understand, e.g. a malformed MAC, without an error).
 * - `systemd-tmpfiles --root` creates the Fedora CoreOS chrony sources from kubeseed's drop-in.
 * Each check has a negative case showing it catches a broken file.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCluster } from '../../../generator/plan/plan.ts';
import type { ClusterPlan, Provisioning } from '../../../generator/plan/types.ts';
import { buildIgnitionConfig } from '../../../generator/render/ignition.ts';
import { decodeDataUrl } from '../../../generator/render/ignition-encoding.ts';
import { parseSpec } from '../../../generator/spec/parse.ts';
import type { ClusterSpec, HostSpec } from '../../../generator/spec/types.ts';
import { renderContainerdUnit } from '../../../templates/containerd.ts';
import { EXAMPLES, fixedContext, IGNITION_EXAMPLES, ROOT, TEST_COORDINATOR_CA } from '../../support/fixtures.ts';
import { skipUnless } from '../../support/requirements.ts';
import { tempDir } from '../../support/temp-dir.ts';

const NETWORKD = '/lib/systemd/systemd-networkd';
const skip = skipUnless('validators', {
  root: true,
  commands: ['systemd-analyze', 'systemd-tmpfiles', 'udevadm', 'nmcli', 'unshare', 'ip', NETWORKD],
});

/** Keys newer than Debian 12's systemd 252 that kubeseed uses on purpose (the agent unit; systemd 254). */
const NEWER_SYSTEMD_KEYS = ['RestartSteps', 'RestartMaxDelaySec'];

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 60_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}`, stdout });
    });
    child.stdin?.end(input ?? '');
  });
}

interface Unit {
  name: string;
  contents?: string;
  dropins: { name: string; contents: string }[];
}
interface Artifacts {
  units: Unit[];
  /** path → content of networkd/udev/NetworkManager/tmpfiles files. */
  files: Map<string, string>;
  host: HostSpec | null;
}

const UNIT_FILE = /^\/etc\/systemd\/system\/([^/]+\.(?:service|socket|timer|target|path|mount))$/;
const DROPIN_FILE = /^\/etc\/systemd\/system\/([^/]+)\.d\/([^/]+\.conf)$/;
const OTHER_FILE =
  /^\/etc\/(systemd\/network\/.+\.(network|link|netdev)|NetworkManager\/system-connections\/.+\.nmconnection|tmpfiles\.d\/.+\.conf)$/;

function collect(entries: Iterable<[string, string]>, units: Unit[], host: HostSpec | null): Artifacts {
  const byName = new Map(units.map((u) => [u.name, u]));
  const files = new Map<string, string>();
  const unit = (name: string) => {
    let u = byName.get(name);
    if (!u) {
      u = { name, dropins: [] };
      byName.set(name, u);
    }
    return u;
  };
  for (const [path, content] of entries) {
    const m = UNIT_FILE.exec(path);
    const d = DROPIN_FILE.exec(path);
    if (m?.[1]) unit(m[1]).contents = content;
    else if (d?.[1] && d[2]) unit(d[1]).dropins.push({ name: d[2], contents: content });
    else if (OTHER_FILE.test(path)) files.set(path, content);
  }
  return { units: [...byName.values()], files, host };
}

function fromProvisioning(p: Provisioning, host: HostSpec | null): Artifacts {
  const units = p.units.map((u) => ({ name: u.name, contents: u.contents, dropins: [] }));
  return collect(
    p.files.map((f) => [f.path, f.content] as [string, string]),
    units,
    host,
  );
}

function fromIgnition(p: Provisioning, host: HostSpec | null, spec: ClusterSpec): Artifacts {
  const cfg = buildIgnitionConfig(p, host, spec, { coordinatorCa: TEST_COORDINATOR_CA });
  const entries: [string, string][] = [];
  for (const f of cfg.storage.files) {
    if (!f.contents.source.startsWith('data:')) continue; // fetched at boot (agent, images, keys)
    const raw = decodeDataUrl(f.contents.source);
    entries.push([f.path, (f.contents.compression === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')]);
  }
  const units = cfg.systemd.units.map((u) => ({ name: u.name, contents: u.contents, dropins: u.dropins ?? [] }));
  return collect(entries, units, host);
}

function planText(text: string, name: string): ClusterPlan {
  const { spec, warnings } = parseSpec(text, name);
  return planCluster(spec, fixedContext(spec.hosts.map((h) => h.name)), warnings);
}

const example = (name: string) => readFileSync(join(ROOT, 'examples', `${name}.yaml`), 'utf8');

/** Every example and variant: label → artifacts per host (and the fleet machine). */
function allArtifacts(): [string, Artifacts][] {
  const out: [string, Artifacts][] = [];
  const add = (label: string, plan: ClusterPlan) => {
    const ignition = plan.spec.os.format === 'ignition';
    for (const hp of plan.hosts) {
      const host = plan.spec.hosts.find((h) => h.name === hp.name) ?? null;
      if (!hp.provisioning) continue;
      out.push([
        `${label}/${hp.name}`,
        ignition ? fromIgnition(hp.provisioning, host, plan.spec) : fromProvisioning(hp.provisioning, host),
      ]);
    }
    if (plan.fleet) out.push([`${label}/fleet`, ignition ? fromIgnition(plan.fleet, null, plan.spec) : fromProvisioning(plan.fleet, null)]);
  };
  for (const name of [...EXAMPLES, ...IGNITION_EXAMPLES]) add(name, planText(example(name), `${name}.yaml`));
  const proxy = '  proxy: { http: "http://proxy.lan:3128", https: "http://proxy.lan:3128", noProxy: [.lan] }\n  coordinator:\n';
  add('fedora-coreos-kube-vip+proxy', planText(example('fedora-coreos-kube-vip').replace('  coordinator:\n', proxy), 'p.yaml'));
  add('flatcar-kube-vip+proxy', planText(example('flatcar-kube-vip').replace('  coordinator:\n', proxy), 'p.yaml'));
  // Flatcar and Fedora CoreOS PXE hosts install to a disk (docs/pxe.md): the fleet names one.
  for (const family of ['flatcar', 'fedora-coreos']) {
    const pxe = example('fleet-pxe')
      .replace('family: ubuntu', `family: ${family}`)
      .replace('fleet: { enabled: true }', 'fleet: { enabled: true, installDisk: /dev/sda }');
    add(`fleet-pxe(${family})`, planText(pxe, 'f.yaml'));
  }
  // The apt path's containerd unit is written by the prepare script, not as a provisioning file.
  out.push([
    'prepare-host',
    { units: [{ name: 'containerd.service', contents: renderContainerdUnit(), dropins: [] }], files: new Map(), host: null },
  ]);
  return out;
}

let work = '';
let baseUnits = '';

/**
 * `systemd-analyze verify` of one unit (with its drop-ins) in a fresh root; returns the output lines.
 * The host's other units with contents are installed beside it, so `Requires=`/`After=` between
 * kubeseed's own units resolve as on the host.
 */
async function verifyUnit(u: Unit, siblings: Unit[] = []): Promise<{ code: number; lines: string[] }> {
  const root = mkdtempSync(join(work, 'root-'));
  cpSync(baseUnits, join(root, 'usr/lib/systemd/system'), { recursive: true });
  const etc = join(root, 'etc/systemd/system');
  mkdirSync(etc, { recursive: true });
  const others = siblings.filter((o) => o.name !== u.name && o.contents !== undefined);
  for (const o of others) writeFileSync(join(etc, o.name), o.contents ?? '');
  const texts = [u.contents ?? '', ...u.dropins.map((d) => d.contents), ...others.map((o) => o.contents ?? '')];
  if (u.contents !== undefined) writeFileSync(join(etc, u.name), u.contents);
  else
    writeFileSync(
      join(root, 'usr/lib/systemd/system', u.name),
      `[Unit]\nDescription=stand-in for the OS package's ${u.name}\n\n[Service]\nExecStart=/usr/bin/${u.name.replace(/\.service$/, '')}\n`,
    );
  if (u.dropins.length > 0) mkdirSync(join(etc, `${u.name}.d`));
  for (const d of u.dropins) writeFileSync(join(etc, `${u.name}.d`, d.name), d.contents);
  // Stand-ins for every absolute command path (and the stand-in base unit's).
  const commands = new Set<string>([`/usr/bin/${u.name.replace(/\.service$/, '')}`]);
  for (const text of texts) for (const m of text.matchAll(/^Exec[A-Za-z]*=[-@:+!|]*(\S+)/gm)) if (m[1]?.startsWith('/')) commands.add(m[1]);
  for (const c of commands) {
    mkdirSync(dirname(join(root, c)), { recursive: true });
    writeFileSync(join(root, c), '#!/bin/sh\n');
    chmodSync(join(root, c), 0o755);
  }
  const r = await run('systemd-analyze', ['verify', `--root=${root}`, '--man=no', u.name]);
  rmSync(root, { recursive: true, force: true });
  const lines = r.out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(root, '<root>'));
  return { code: r.code, lines };
}

const unexpected = (lines: string[]) =>
  lines.filter((l) => !NEWER_SYSTEMD_KEYS.some((k) => l.includes(`Unknown key '${k}' in section [Service], ignoring.`)));

/** Runs `script` (sh) in a new network + mount namespace with `dir` as /etc/systemd/network. */
function inNetns(dir: string, script: string): Promise<{ code: number; out: string; stdout: string }> {
  chmodSync(dir, 0o755); // networkd reads its configuration as the systemd-network user
  return run('timeout', [
    '30',
    'unshare',
    '-n',
    '-m',
    '--propagation',
    'private',
    'sh',
    '-euc',
    `mount -t sysfs -o ro sysfs /sys\nmount --bind ${dir} /etc/systemd/network\nmount -t tmpfs tmpfs /run/systemd\n${script}`,
  ]);
}

/** networkd with `.network` files in `dir`, a veth named `iface` with `mac`: its log and `ip` output. */
async function runNetworkd(dir: string, iface: string, mac: string): Promise<{ log: string; addr: string; route: string }> {
  const r = await inNetns(
    dir,
    [
      `ip link add ${iface} type veth peer name kspeer0`,
      `ip link set dev ${iface} address ${mac}`,
      'ip link set kspeer0 up',
      // Bounded: networkd runs until killed; 4 s covers loading, enumeration and static configuration.
      'LOG=$(mktemp)',
      `SYSTEMD_LOG_TARGET=console timeout 4 ${NETWORKD} > "$LOG" 2>&1 || true`,
      'echo ===LOG; cat "$LOG"; rm -f "$LOG"',
      `echo ===ADDR; ip -4 -o addr show dev ${iface}`,
      `echo ===ROUTE; ip -4 route show default`,
    ].join('\n'),
  );
  const part = (name: string) => r.stdout.split(`===${name}\n`)[1]?.split('\n===')[0] ?? '';
  return { log: part('LOG'), addr: part('ADDR'), route: part('ROUTE') };
}

/** udev's net_setup_link on a veth carrying `mac`, with `.link` files in `dir`. */
async function runLinkBuiltin(dir: string, mac: string): Promise<string> {
  const r = await inNetns(
    dir,
    [
      'mount -o remount,rw /sys', // writable again: udevadm reads device attributes
      'ip link add ksnic0 type veth peer name kspeer0',
      `ip link set dev ksnic0 address ${mac}`,
      'udevadm test-builtin net_setup_link /sys/class/net/ksnic0 2>&1',
    ].join('\n'),
  );
  return r.out;
}

const NETWORKD_PROBLEM = /Unknown key|Unknown section|Failed to parse|ignoring|Invalid|No valid settings/;

/** `[section] key=value` triples of a keyfile. */
function keyfileEntries(text: string): string[] {
  const out: string[] = [];
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line);
    if (s?.[1]) section = s[1];
    // NetworkManager writes MAC addresses in upper case.
    else if (/^[^#;].*=/.test(line)) out.push(`${section}.${/^(cloned-)?mac-address=/.test(line) ? line.toLowerCase() : line}`);
  }
  return out;
}
/** Values NetworkManager leaves out when they are its default. */
const NM_DEFAULTS = ['connection.autoconnect=true'];

async function nmcliRoundTrip(keyfile: string): Promise<{ code: number; out: string; missing: string[] }> {
  const id = /^id=(.*)$/m.exec(keyfile)?.[1] ?? 'kubeseed';
  const r = await run('nmcli', ['--offline', 'connection', 'modify', 'connection.id', id], keyfile);
  const back = new Set(keyfileEntries(r.stdout));
  const missing = keyfileEntries(keyfile).filter((e) => !back.has(e) && !NM_DEFAULTS.includes(e));
  return { code: r.code, out: r.out, missing };
}

describe.skipIf(skip)('rendered units and network files against the programs that read them', () => {
  const artifacts = skip ? [] : allArtifacts();

  beforeAll(() => {
    work = tempDir('ks-parsers-');
    baseUnits = join(work, 'base-units');
    cpSync('/lib/systemd/system', baseUnits, { recursive: true, dereference: false });
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('covers every example and variant, with units, networkd, .link and keyfiles present', () => {
    const labels = artifacts.map(([l]) => l);
    for (const name of [...EXAMPLES, ...IGNITION_EXAMPLES]) expect(labels.some((l) => l.startsWith(`${name}/`))).toBe(true);
    const files = artifacts.flatMap(([, a]) => [...a.files.keys()]);
    expect(files.some((f) => f.endsWith('.network'))).toBe(true);
    expect(files.some((f) => f.endsWith('.link'))).toBe(true);
    expect(files.some((f) => f.endsWith('.nmconnection'))).toBe(true);
    const units = artifacts.flatMap(([, a]) => a.units.map((u) => u.name));
    for (const u of ['kubeseed-agent.service', 'kubeseed-rpm-ostree-install.service', 'containerd.service', 'rpm-ostreed.service'])
      expect(units).toContain(u);
    expect(artifacts.some(([, a]) => a.units.some((u) => u.contents === undefined && u.dropins.length > 0))).toBe(true);
  });

  it('systemd-analyze verify accepts every unit and drop-in', async () => {
    // Identical units (most hosts share them) are verified once.
    const distinct = new Map<string, { unit: Unit; where: string; siblings: Unit[] }>();
    for (const [label, a] of artifacts)
      for (const u of a.units) {
        const key = createHash('sha256').update(JSON.stringify(u)).digest('hex');
        if (!distinct.has(key)) distinct.set(key, { unit: u, where: label, siblings: a.units });
      }
    const problems: string[] = [];
    for (const { unit, where, siblings } of distinct.values()) {
      const r = await verifyUnit(unit, siblings);
      const bad = unexpected(r.lines);
      if (r.code !== 0 || bad.length > 0) problems.push(`${where} ${unit.name} (exit ${r.code}):\n  ${bad.join('\n  ')}`);
    }
    expect(problems).toEqual([]);
    expect(distinct.size).toBeGreaterThanOrEqual(10);
  }, 600_000);

  it('systemd-analyze verify catches a misspelled key, a bad value and a drop-in error (the check can fail)', async () => {
    const typo = await verifyUnit({
      name: 'ks-typo.service',
      contents: '[Service]\nExecStrat=/usr/bin/true\nExecStart=/usr/bin/true\n',
      dropins: [],
    });
    expect(unexpected(typo.lines).join('\n')).toContain("Unknown key 'ExecStrat' in section [Service]");
    const value = await verifyUnit({
      name: 'ks-value.service',
      contents: '[Service]\nExecStart=/usr/bin/true\nRestart=sometimes\n',
      dropins: [],
    });
    expect(unexpected(value.lines).join('\n')).toMatch(/Failed to parse service restart specifier|Restart.*sometimes/);
    const dropin = await verifyUnit({
      name: 'containerd.service',
      dropins: [{ name: '10-x.conf', contents: '[Service]\nEnvironmnet=A=1\n' }],
    });
    expect(unexpected(dropin.lines).join('\n')).toContain("Unknown key 'Environmnet'");
    // The allow-list hides only the two newer keys, nothing else.
    expect(unexpected(["/x.service:3: Unknown key 'RestartSteps' in section [Service], ignoring.", 'other'])).toEqual(['other']);
  });

  const networkHosts = () =>
    artifacts.filter(([, a]) => a.host?.mac && a.host.address && [...a.files.keys()].some((f) => f.endsWith('.network')));

  it('real systemd-networkd parses every .network without a warning and puts the address on the NIC with the MAC', async () => {
    const hosts = networkHosts();
    expect(hosts.length).toBeGreaterThanOrEqual(3);
    for (const [label, a] of hosts) {
      const dir = mkdtempSync(join(work, 'net-'));
      for (const [path, content] of a.files) if (path.endsWith('.network')) writeFileSync(join(dir, path.split('/').pop()!), content);
      const host = a.host!;
      const r = await runNetworkd(dir, host.interface, host.mac!);
      expect(
        r.log.split('\n').filter((l) => NETWORKD_PROBLEM.test(l)),
        label,
      ).toEqual([]);
      expect(r.log, label).toContain(`${host.interface}: Configuring with /etc/systemd/network/10-kubeseed-${host.interface}.network`);
      expect(r.addr, label).toContain(`inet ${host.address!.cidr}`);
      if (host.gateway) expect(r.route, label).toContain(`default via ${host.gateway} dev ${host.interface}`);
    }
  }, 300_000);

  it('networkd reports a misspelled key and leaves a NIC with another MAC alone (the check can fail)', async () => {
    const dir = mkdtempSync(join(work, 'net-bad-'));
    writeFileSync(join(dir, '10-bad.network'), '[Match]\nMACAddress=52:54:00:aa:bb:cc\nType=ether\n\n[Network]\nAdress=10.9.0.2/24\n');
    const typo = await runNetworkd(dir, 'lan0', '52:54:00:aa:bb:cc');
    expect(typo.log).toMatch(/Unknown key 'Adress' in section \[Network\]/);
    writeFileSync(join(dir, '10-bad.network'), '[Match]\nMACAddress=52:54:00:aa:bb:cc\nType=ether\n\n[Network]\nAddress=10.9.0.2/24\n');
    const other = await runNetworkd(dir, 'lan0', '52:54:00:aa:bb:cd');
    expect(other.addr).not.toContain('10.9.0.2');
    const applied = await runNetworkd(dir, 'lan0', '52:54:00:aa:bb:cc');
    expect(applied.addr).toContain('inet 10.9.0.2/24');
  }, 120_000);

  it("udev's .link parser applies every .link to the NIC with the host's MAC and names it", async () => {
    const withLink = artifacts.filter(([, a]) => a.host?.mac && [...a.files.keys()].some((f) => f.endsWith('.link')));
    expect(withLink.length).toBeGreaterThanOrEqual(4);
    for (const [label, a] of withLink) {
      const dir = mkdtempSync(join(work, 'link-'));
      for (const [path, content] of a.files) if (path.endsWith('.link')) writeFileSync(join(dir, path.split('/').pop()!), content);
      const out = await runLinkBuiltin(dir, a.host!.mac!);
      expect(
        out.split('\n').filter((l) => /\/etc\/systemd\/network\/.*(Unknown|ignoring|Failed)/.test(l)),
        label,
      ).toEqual([]);
      expect(out, label).toContain(`Config file /etc/systemd/network/10-kubeseed-${a.host!.interface}.link is applied`);
      expect(out, label).toContain(`ID_NET_NAME=${a.host!.interface}`);
    }
  }, 300_000);

  it('the .link parser reports a misspelled key and does not apply a .link to another MAC (the check can fail)', async () => {
    const dir = mkdtempSync(join(work, 'link-bad-'));
    writeFileSync(join(dir, '10-kubeseed-lan0.link'), '[Match]\nMACAddress=52:54:00:aa:bb:cc\nType=ether\n\n[Link]\nNmae=lan0\n');
    expect(await runLinkBuiltin(dir, '52:54:00:aa:bb:cc')).toMatch(/Unknown key 'Nmae' in section \[Link\]/);
    writeFileSync(join(dir, '10-kubeseed-lan0.link'), '[Match]\nMACAddress=52:54:00:aa:bb:cc\nType=ether\n\n[Link]\nName=lan0\n');
    expect(await runLinkBuiltin(dir, '52:54:00:aa:bb:cd')).not.toContain('10-kubeseed-lan0.link is applied');
  }, 120_000);

  it('nmcli --offline reads every NetworkManager keyfile and keeps every key kubeseed wrote', async () => {
    const keyfiles = artifacts.flatMap(([label, a]) =>
      [...a.files].filter(([p]) => p.endsWith('.nmconnection')).map(([p, c]) => [`${label} ${p}`, c] as const),
    );
    expect(keyfiles.length).toBeGreaterThanOrEqual(3);
    for (const [where, content] of keyfiles) {
      const r = await nmcliRoundTrip(content);
      expect(r.code, `${where}: ${r.out}`).toBe(0);
      expect(r.missing, where).toEqual([]);
    }
  });

  it('nmcli --offline refuses a broken keyfile and the round trip catches a value NetworkManager drops (the check can fail)', async () => {
    const good =
      '[connection]\nid=kubeseed-lan0\ntype=ethernet\n\n[ethernet]\nmac-address=52:54:00:07:01:65\n\n[ipv4]\nmethod=manual\naddress1=10.9.0.2/24,10.9.0.1\n';
    expect(await nmcliRoundTrip(good)).toMatchObject({ code: 0, missing: [] });
    const noAddress = await nmcliRoundTrip(good.replace(/address1=.*\n/, ''));
    expect(noAddress.code).not.toBe(0);
    expect(noAddress.out).toContain('ipv4.addresses: this property cannot be empty');
    // A malformed MAC is dropped silently (exit 0): only the comparison notices.
    const badMac = await nmcliRoundTrip(good.replace('52:54:00:07:01:65', '52:54:00:07:01'));
    expect(badMac.missing).toEqual(['ethernet.mac-address=52:54:00:07:01']);
    const typo = await nmcliRoundTrip(good.replace('method=manual', 'method=manual\nmay-fial=false'));
    expect(typo.missing).toEqual(['ipv4.may-fial=false']);
  });

  it('systemd-tmpfiles creates the Fedora CoreOS chrony sources from the drop-in', async () => {
    const [, fcos] = artifacts.find(([l]) => l.startsWith('fedora-coreos-kube-vip/cp1'))!;
    const dropin = fcos.files.get('/etc/tmpfiles.d/kubeseed-chrony.conf')!;
    const root = mkdtempSync(join(work, 'tmpfiles-'));
    mkdirSync(join(root, 'etc/tmpfiles.d'), { recursive: true });
    writeFileSync(join(root, 'etc/tmpfiles.d/kubeseed-chrony.conf'), dropin);
    const r = await run('systemd-tmpfiles', [`--root=${root}`, '--create', join(root, 'etc/tmpfiles.d/kubeseed-chrony.conf')]);
    expect(r).toMatchObject({ code: 0, out: '' });
    expect(readFileSync(join(root, 'run/chrony-dhcp/kubeseed.sources'), 'utf8')).toBe('server 10.107.1.1 iburst\n');
    // The check can fail: an unknown line type is reported.
    writeFileSync(join(root, 'etc/tmpfiles.d/kubeseed-chrony.conf'), dropin.replace('f+ ', 'F? '));
    const bad = await run('systemd-tmpfiles', [`--root=${root}`, '--create', join(root, 'etc/tmpfiles.d/kubeseed-chrony.conf')]);
    expect(bad.out).toMatch(/kubeseed-chrony\.conf:4: Unknown modifiers in command 'F\?'/);
  });
});
