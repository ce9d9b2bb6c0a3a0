/**
 * parseSpec: cluster.yaml text → a validated, normalized ClusterSpec plus warnings, or a
 * SpecError that holds every problem at once, each with line, column, what was found and the fix.
 * Pure: no fs, no env, no clock.
 */
import { SpecError } from '../errors.ts';
import { findOsProfile } from '../os/index.ts';
import { cidrContains, formatCidr, isIPv4, parseCidr } from '../util/ip.ts';
import { parseDuration } from '../util/text.ts';
import { cniVersionFor, etcdVersionFor, VERSIONS_BY_MINOR } from '../versions.ts';
import { checkCni } from './checks-cni.ts';
import { checkTemplateInputs } from './checks-inputs.ts';
import { checkSubnets } from './checks-network.ts';
import { checkProxmox, writesProxmoxDeploy } from './checks-proxmox.ts';
import { expectedEndpointAddress } from './endpoint.ts';
import { checkEtcdBackup, etcdBackupOf } from './etcd-backup.ts';
import { checkFedoraCoreOs } from './fedora-coreos.ts';
import { checkDownloadIntegrity } from './integrity.ts';
import { assignDerivedMacs } from './mac.ts';
import { type PathPart, SpecReader } from './reader.ts';
import { CLUSTER_SCHEMA, DEFAULT_KUBERNETES_VERSION, MIN_ETCD, SUPPORTED_MINORS } from './schema.ts';
import type { ClusterSpec, HostSpec, SpecIssue } from './types.ts';

export interface ParsedSpec {
  spec: ClusterSpec;
  warnings: SpecIssue[];
}

export interface ParseOptions {
  /** Warnings become errors (`--strict`). */
  strict?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: the structurally checked tree is plain data of known shape
type Raw = any;

export function parseSpec(input: string | Uint8Array, file: string, options: ParseOptions = {}): ParsedSpec {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      throw new SpecError(file, [
        { path: '(file)', message: 'is not valid UTF-8 text; save the spec as UTF-8', line: 1, column: 1, severity: 'error' },
      ]);
    }
  }
  if (text.length > 4 * 1024 * 1024) {
    throw new SpecError(file, [
      { path: '(file)', message: `is ${text.length} bytes; a spec is at most 4 MiB`, line: 1, column: 1, severity: 'error' },
    ]);
  }
  const r = new SpecReader(text);
  if (r.hasErrors()) throw new SpecError(file, r.issues);
  if (r.value === null || r.value === undefined) {
    throw new SpecError(file, [
      { path: '(document)', message: 'is empty; start from `kubeseed init`', line: 1, column: 1, severity: 'error' },
    ]);
  }
  const raw = (r.check(r.value, CLUSTER_SCHEMA, []) ?? {}) as Raw;
  // Where each host stands in the file, for locating issues (hosts with errors are left out of spec.hosts).
  const sourceIndex = new WeakMap<HostSpec, number>();
  const spec = normalize(raw, r, sourceIndex);
  checkSemantics(spec, raw, r, sourceIndex);
  const issues = r.issues.map((i) => (options.strict && i.severity === 'warning' ? { ...i, severity: 'error' as const } : i));
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) throw new SpecError(file, sortIssues(issues));
  return { spec, warnings: sortIssues(issues) };
}

function sortIssues(issues: SpecIssue[]): SpecIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path));
}

function splitEndpoint(text: string | undefined): { host: string; port: number } | null {
  if (!text) return null;
  const m = /^([a-zA-Z0-9.-]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return null;
  return { host: m[1]!.toLowerCase(), port: Number(m[2]) };
}

function normalize(raw: Raw, r: SpecReader, sourceIndex: WeakMap<HostSpec, number>): ClusterSpec {
  const s: Raw = raw.spec ?? {};
  const version: string = s.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION;
  const minor = Number(version.split('.')[1] ?? 0);
  // Defaults come from the version table of the minor; an unsupported minor is an error reported below.
  const tabled = VERSIONS_BY_MINOR[minor] !== undefined;
  const endpoint = splitEndpoint(s.controlPlaneEndpoint);
  if (s.controlPlaneEndpoint !== undefined && !endpoint) {
    r.error(
      ['spec', 'controlPlaneEndpoint'],
      `"${s.controlPlaneEndpoint}" is not host:port; write the load balancer's DNS name or VIP and its port, like k8s1api.kloud.lan:6443`,
    );
  }
  const osFamily = s.os?.family ?? 'ubuntu';
  const lbType = s.loadBalancer?.type ?? 'haproxy-keepalived';
  const lbInterface = s.loadBalancer?.interface ?? 'eth0';
  const hosts: HostSpec[] = (s.hosts ?? [])
    .flatMap((h: Raw, index: number) => (h?.name && h.role ? [{ h, index }] : []))
    .map(({ h, index }: { h: Raw; index: number }): HostSpec => {
      const address = h.address ? parseCidr(h.address) : null;
      const host: HostSpec = {
        name: h.name,
        role: h.role,
        ...(h.fqdn ? { fqdn: h.fqdn } : {}),
        ...(address && h.address ? { address: { ip: h.address.split('/')[0], prefix: address.prefix, cidr: h.address } } : {}),
        ...(h.gateway ? { gateway: h.gateway } : {}),
        nameservers: h.nameservers ?? [],
        ...(h.mac ? { mac: h.mac.toLowerCase() } : {}),
        ...(h.uuid ? { uuid: h.uuid.toLowerCase() } : {}),
        labels: h.labels ?? {},
        ...(h.taints !== undefined ? { taints: h.taints } : {}),
        interface: h.interface ?? lbInterface,
        ...(h.installDisk ? { installDisk: h.installDisk } : {}),
        arch: h.arch ?? 'amd64',
        ...(h.proxmox ? { proxmox: { ...h.proxmox } } : {}),
      };
      sourceIndex.set(host, index);
      return host;
    });
  const osFormat = s.os?.format ?? findOsProfile(osFamily)?.format ?? 'cloud-init';
  // deploy.sh creates the VMs and sets each NIC's MAC, so every host has a known MAC to match.
  if (writesProxmoxDeploy(s.os?.platform, osFormat, s.proxmox?.templateVmid)) assignDerivedMacs(raw.metadata?.name ?? 'kubernetes', hosts);
  const ttl = s.rollout?.tokenTTL !== undefined ? parseDuration(s.rollout.tokenTTL) : 3600;
  const backup = etcdBackupOf(s.etcd);
  return {
    apiVersion: 'kubeseed.dev/v1alpha1',
    kind: 'Cluster',
    name: raw.metadata?.name ?? 'kubernetes',
    kubernetesVersion: version,
    kubernetesMinor: minor,
    topology: s.topology ?? 'stacked',
    controlPlaneEndpoint: endpoint ?? { host: 'invalid.invalid', port: 6443 },
    networking: {
      podSubnet: s.networking?.podSubnet ?? '10.244.0.0/16',
      serviceSubnet: s.networking?.serviceSubnet ?? '10.96.0.0/12',
      dnsDomain: s.networking?.dnsDomain ?? 'cluster.local',
      nodeCidrMaskSize: s.networking?.nodeCidrMaskSize ?? 24,
      hostsFile: s.networking?.hostsFile ?? false,
    },
    kubeProxy: { mode: s.kubeProxy?.mode ?? 'iptables' },
    cni: {
      plugin: s.cni?.plugin ?? 'calico',
      version: s.cni?.version ?? (tabled ? cniVersionFor(minor, s.cni?.plugin ?? 'calico') : ''),
    },
    loadBalancer: {
      type: lbType,
      ...(s.loadBalancer?.vip ? { vip: s.loadBalancer.vip } : {}),
      interface: lbInterface,
      virtualRouterId: s.loadBalancer?.virtualRouterId ?? 51,
    },
    etcd: {
      mode: s.etcd?.mode ?? 'static-pod',
      version: s.etcd?.version ?? (tabled ? etcdVersionFor(minor) : ''),
      ...(backup ? { backup } : {}),
    },
    certificates: {
      distribution: s.certificates?.distribution ?? 'coordinator',
      keyAlgorithm: s.certificates?.keyAlgorithm ?? 'RSA-2048',
      extraSANs: s.certificates?.extraSANs ?? [],
    },
    os: {
      family: osFamily,
      format: osFormat,
      platform: s.os?.platform ?? 'generic',
      packages: s.os?.packages ?? 'install',
      timeServers: s.os?.timeServers ?? [],
      sshAuthorizedKeys: s.os?.sshAuthorizedKeys ?? [],
      ...(s.os?.containerdVersion ? { containerdVersion: s.os.containerdVersion } : {}),
    },
    proxy: {
      ...(s.proxy?.http ? { http: s.proxy.http } : {}),
      ...(s.proxy?.https ? { https: s.proxy.https } : {}),
      noProxy: s.proxy?.noProxy ?? [],
    },
    mirrors: { ...(s.mirrors ?? {}), registryMirrors: s.mirrors?.registryMirrors ?? {} },
    proxmox: { ...(s.proxmox ?? {}) },
    coordinator: {
      url: (s.coordinator?.url ?? 'https://invalid.invalid:9443').replace(/\/$/, ''),
      listen: s.coordinator?.listen ?? '0.0.0.0:9443',
      httpListen: s.coordinator?.httpListen ?? '',
      replicaUrls: (s.coordinator?.replicaUrls ?? [])
        .filter((u: unknown): u is string => typeof u === 'string')
        .map((u: string) => u.replace(/\/$/, '')),
    },
    fleet: {
      enabled: s.fleet?.enabled ?? false,
      installUnknownMacs: s.fleet?.installUnknownMacs ?? false,
      ...(s.fleet?.installDisk ? { installDisk: s.fleet.installDisk } : {}),
    },
    day2: { keepAgent: s.day2?.keepAgent ?? true },
    rollout: {
      controlPlaneParallelism: s.rollout?.controlPlaneParallelism ?? 1,
      workerParallelism: s.rollout?.workerParallelism ?? 20,
      tokenTTL: ttl ?? 3600,
    },
    hosts,
    testing: { allowOldEtcd: s.testing?.allowOldEtcd ?? false },
  };
}

const HOSTS: PathPart[] = ['spec', 'hosts'];

function checkSemantics(spec: ClusterSpec, raw: Raw, r: SpecReader, sourceIndex: WeakMap<HostSpec, number>): void {
  const s: Raw = raw.spec ?? {};
  const rawHosts: Raw[] = Array.isArray(raw.spec?.hosts) ? raw.spec.hosts : [];
  const indexOf = (h: HostSpec) => sourceIndex.get(h) ?? 0;
  const hostPath = (h: HostSpec, ...rest: PathPart[]): PathPart[] => [...HOSTS, indexOf(h), ...rest];
  const byRole = (role: HostSpec['role']) => spec.hosts.filter((h) => h.role === role);
  const cps = byRole('control-plane');
  const etcds = byRole('etcd');
  const lbs = byRole('load-balancer');
  const workers = byRole('worker');
  const endpointHost = spec.controlPlaneEndpoint.host;
  const endpointAddress = expectedEndpointAddress(spec);

  // Version range.
  if (s.kubernetesVersion !== undefined && /^v\d+\.\d+\.\d+$/.test(s.kubernetesVersion)) {
    const [major] = s.kubernetesVersion.slice(1).split('.').map(Number);
    if (major !== 1 || spec.kubernetesMinor < SUPPORTED_MINORS.min || spec.kubernetesMinor > SUPPORTED_MINORS.max) {
      r.error(
        ['spec', 'kubernetesVersion'],
        `${s.kubernetesVersion} is not supported; use v1.${SUPPORTED_MINORS.min}–v1.${SUPPORTED_MINORS.max} (kubeadm config v1beta4 only; v1beta3 is rejected by 1.37)`,
      );
    }
  }

  if (raw.spec?.hosts !== undefined && rawHosts.length === 0) r.error(HOSTS, 'is empty; list at least one control-plane host');
  if (rawHosts.length > 0 && cps.length === 0) r.error(HOSTS, 'has no host with role control-plane; add at least one (three for HA)');

  // Topology.
  if (spec.topology === 'external-etcd' && etcds.length === 0 && rawHosts.length > 0) {
    r.error(['spec', 'topology'], 'external-etcd needs hosts with role etcd; add three etcd hosts or use topology: stacked');
  }
  if (spec.topology === 'stacked') {
    for (const h of etcds)
      r.error(hostPath(h, 'role'), 'role etcd needs topology: external-etcd; with stacked etcd the control planes run etcd');
    for (const key of ['mode', 'version'] as const)
      if (s.etcd?.[key] !== undefined)
        r.warn(['spec', 'etcd', key], 'is ignored with topology: stacked (kubeadm runs etcd on the control planes)', 'key');
  }
  checkEtcdBackup(s.etcd, r);
  if (spec.topology === 'external-etcd' && s.etcd?.version) {
    const [maj, min] = s.etcd.version.slice(1).split('.').map(Number) as [number, number];
    const tooOld = maj < MIN_ETCD.major || (maj === MIN_ETCD.major && min < MIN_ETCD.minor);
    if (tooOld && !spec.testing.allowOldEtcd) {
      r.error(
        ['spec', 'etcd', 'version'],
        `${s.etcd.version} is too old; kubeadm's preflight refuses external etcd older than 3.5: use v3.5.x or v3.6.x`,
      );
    }
  }
  if (spec.testing.allowOldEtcd) {
    if (!s.testing?.reason)
      r.error(['spec', 'testing'], 'test-only settings need a `reason` saying why; never use them for a real cluster', 'key');
    else r.warn(['spec', 'testing', 'allowOldEtcd'], 'test-only setting: etcd older than 3.5 is allowed; real kubeadm refuses it');
  }

  // Load balancer.
  const lbType = spec.loadBalancer.type;
  const keepalivedLb = lbType === 'haproxy-keepalived' || lbType === 'nginx-keepalived';
  if (keepalivedLb && lbs.length === 0 && rawHosts.length > 0) {
    r.error(
      ['spec', 'loadBalancer', 'type'],
      `${lbType} needs hosts with role load-balancer; add two (with a vip) or use type: kube-vip or external`,
    );
  }
  if (!keepalivedLb) {
    for (const h of lbs)
      r.error(
        hostPath(h, 'role'),
        `role load-balancer is only used with haproxy-keepalived or nginx-keepalived, not ${lbType}; remove the host or change spec.loadBalancer.type`,
      );
  }
  if (keepalivedLb && lbs.length >= 2 && !spec.loadBalancer.vip) {
    r.error(
      ['spec', 'loadBalancer'],
      `${lbs.length} load-balancer hosts share the endpoint through keepalived and need a vip; set spec.loadBalancer.vip to a free address in their subnet`,
      'key',
    );
  }
  if (keepalivedLb && lbs.length === 1) {
    r.warn(
      hostPath(lbs[0]!),
      'a single load-balancer host is a single point of failure; keepalived is left out and the endpoint is this host',
    );
  }
  if (lbType === 'kube-vip' && !spec.loadBalancer.vip)
    r.error(
      ['spec', 'loadBalancer'],
      "kube-vip needs a vip: set spec.loadBalancer.vip to a free address in the control planes' subnet",
      'key',
    );
  const vipHolders = lbType === 'kube-vip' ? cps : keepalivedLb && lbs.length >= 2 ? lbs : [];
  const vip = spec.loadBalancer.vip;
  if (vip) {
    if (!isIPv4(vip)) r.error(['spec', 'loadBalancer', 'vip'], `"${vip}" is not an IPv4 address`);
    else {
      for (const h of vipHolders) {
        if (!h.address) continue;
        const subnet = parseCidr(h.address.cidr)!;
        if (!cidrContains(subnet, vip)) {
          r.error(
            ['spec', 'loadBalancer', 'vip'],
            `${vip} is outside the subnet of ${h.name} (${formatCidr(subnet)}), which holds the VIP; pick an unused address there`,
          );
          break;
        }
      }
      const clash = spec.hosts.find((h) => h.address?.ip === vip);
      if (clash)
        r.error(['spec', 'loadBalancer', 'vip'], `${vip} is also the address of host ${clash.name}; the VIP must be a free address`);
      if ((keepalivedLb || lbType === 'kube-vip') && spec.os.platform === 'aws') {
        r.error(
          ['spec', 'loadBalancer', 'vip'],
          `an ARP VIP (${lbType}) does not work on aws: VPC networking ignores gratuitous ARP; use type: external with an AWS NLB`,
        );
      }
    }
  }
  if (lbType === 'external' && s.loadBalancer?.vip === undefined && rawHosts.length > 0) {
    // The endpoint itself is the user's load balancer; nothing to render.
  }

  if (pxeInstalls(spec) && spec.os.format === 'ignition' && spec.fleet.installUnknownMacs && !spec.fleet.installDisk) {
    r.error(
      ['spec', 'fleet', 'installUnknownMacs'],
      `machines with MACs the spec does not name would run ${spec.os.family} from RAM (no disk to install to); set spec.fleet.installDisk: /dev/sda (the disk the installer erases)`,
    );
  }
  // Hosts: static addresses, duplicates, subnets.
  for (const h of spec.hosts) {
    if (h.role !== 'worker' && !h.address) {
      r.error(
        hostPath(h),
        `${h.role} host ${h.name} needs a static address (address: 10.0.0.11/24); etcd peers, backends and certificate SANs are written before boot`,
        'value',
      );
    }
    if (h.address && h.gateway && !cidrContains(parseCidr(h.address.cidr)!, h.gateway)) {
      r.error(hostPath(h, 'gateway'), `${h.gateway} is outside ${h.name}'s subnet ${h.address.cidr}; use a gateway in that subnet`);
    }
    // Nodes talk to the endpoint by name (kubeadm, the kubelet's kubeconfig); with a static
    // address and no nameservers nothing resolves it, and kubeadm would fail late, on the host.
    const node = h.role === 'control-plane' || h.role === 'worker';
    if (node && h.address && !h.nameservers.length && !spec.networking.hostsFile && !isIPv4(endpointHost)) {
      const hostsFileFix = endpointAddress ? `, or set spec.networking.hostsFile: true (maps ${endpointHost} to ${endpointAddress})` : '';
      r.error(
        hostPath(h),
        `${h.name} has a static address but no nameservers, and spec.networking.hostsFile is false: nothing resolves ${endpointHost} on this host, so kubeadm would fail late; add nameservers: [<your DNS server>] to ${h.name}${hostsFileFix}, or write controlPlaneEndpoint as an address`,
      );
    }
    // Without a MAC the NIC is matched by name; an unset name is only a guess (the default).
    // Flatcar and Fedora CoreOS name NICs predictably, so there the guess is refused outright.
    const interfaceSet = rawHosts[indexOf(h)]?.interface !== undefined || s.loadBalancer?.interface !== undefined;
    if (h.address && !h.mac && !interfaceSet) {
      r.add(
        spec.os.format === 'ignition' ? 'error' : 'warning',
        hostPath(h),
        `${h.name} has a static address but no mac: its NIC is matched by the name ${h.interface} (the default), but images with predictable names call it otherwise (ens18 on Proxmox virtio, ens3, enp1s0), and then the address never applies and the host never enrolls; set mac: to the NIC's MAC (matched by MAC, renamed ${h.interface}) or set interface: to the NIC's name in the image`,
      );
    }
    // systemd.link: a name the kernel may give another NIC (ethN) makes the rename race the kernel.
    if (spec.os.format === 'ignition' && h.mac && /^eth\d+$/.test(h.interface)) {
      r.warn(
        hostPath(h),
        `the .link that renames ${h.name}'s NIC to ${h.interface} races with the kernel's own ethN names (the kernel may give ${h.interface} to another NIC first, and then the rename fails); choose a name outside ethN, e.g. interface: lan0 (spec.loadBalancer.interface for every host)`,
      );
    }
    // PXE (docs/pxe.md): Flatcar and Fedora CoreOS boot live from RAM unless told which disk to
    // install to, and then stacked etcd, images and kubelet state die with the next reboot.
    if (pxeInstalls(spec) && spec.os.format === 'ignition' && h.mac && !h.installDisk && !spec.fleet.installDisk) {
      r.error(
        hostPath(h),
        `${h.name} PXE-boots ${spec.os.family} (its MAC is served by coordinator.httpListen) but no disk to install to is set, so it would run from RAM and lose etcd, images and kubelet state at the next reboot; set installDisk: /dev/sda (the disk the installer erases) on ${h.name}, or spec.fleet.installDisk for every host`,
      );
    }
    if (h.taints !== undefined && h.taints.length === 0 && h.role === 'control-plane') {
      r.warn(
        hostPath(h, 'taints'),
        "an empty list removes the control-plane NoSchedule taint, so workloads will run on this control plane; omit taints to keep kubeadm's default",
      );
    }
    if (h.role !== 'control-plane' && h.role !== 'worker') {
      if (Object.keys(h.labels).length)
        r.error(hostPath(h, 'labels'), `${h.role} hosts are not Kubernetes nodes; labels apply only to control-plane and worker hosts`);
      if (h.taints !== undefined)
        r.error(hostPath(h, 'taints'), `${h.role} hosts are not Kubernetes nodes; taints apply only to control-plane and worker hosts`);
    }
    for (const key of Object.keys(h.labels)) {
      if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(key)) {
        r.error(
          hostPath(h, 'labels', key),
          `"${key}" is not a valid label key; use [prefix/]name, like node-role.kubernetes.io/worker`,
          'key',
        );
      }
    }
  }
  const seen = (what: string, get: (h: HostSpec) => string | undefined, field: string) => {
    const first = new Map<string, HostSpec>();
    for (const h of spec.hosts) {
      const v = get(h);
      if (v === undefined) continue;
      const prior = first.get(v);
      if (prior)
        r.error(
          hostPath(h, field),
          `duplicate ${what} ${v}: already used by host ${prior.name} (${formatPathOf(indexOf(prior))}); every host needs its own`,
        );
      else first.set(v, h);
    }
  };
  seen('name', (h) => h.name, 'name');
  seen('address', (h) => h.address?.ip, 'address');
  seen('MAC', (h) => h.mac, 'mac');
  seen('UUID', (h) => h.uuid, 'uuid');

  checkSubnets(spec, s, r, cps.length + workers.length);

  // Rollout.
  if (
    spec.rollout.controlPlaneParallelism > 1 &&
    spec.topology === 'stacked' &&
    VERSIONS_BY_MINOR[spec.kubernetesMinor]?.parallelStackedJoins === false
  ) {
    r.error(
      ['spec', 'rollout', 'controlPlaneParallelism'],
      `${spec.rollout.controlPlaneParallelism} is refused for stacked etcd below 1.37: etcd admits one learner at a time and kubeadm's join checks every member; use 1`,
    );
  }
  if (s.rollout?.tokenTTL !== undefined && parseDuration(s.rollout.tokenTTL) !== null && spec.rollout.tokenTTL < 300) {
    r.error(
      ['spec', 'rollout', 'tokenTTL'],
      `${s.rollout.tokenTTL} is too short; the coordinator renews tokens before they expire, use at least 5m`,
    );
  }

  checkDownloadIntegrity(spec, r);

  // OS and format.
  const coreos = findOsProfile(spec.os.family)?.format === 'ignition';
  if (coreos && spec.os.format === 'cloud-init')
    r.error(['spec', 'os', 'format'], `${spec.os.family} boots with Ignition; use format: ignition`);
  if (!coreos && spec.os.format === 'ignition')
    r.error(
      ['spec', 'os', 'format'],
      `${spec.os.family} uses cloud-init; use format: cloud-init (Ignition is for flatcar and fedora-coreos)`,
    );
  if (spec.os.family === 'fedora-coreos') checkFedoraCoreOs(spec, r);
  else if (spec.mirrors.kubernetesRpm || spec.mirrors.kubernetesRpmKey)
    r.warn(['spec', 'mirrors', 'kubernetesRpm'], `is only used by os.family fedora-coreos, not ${spec.os.family}; remove it`);
  if (coreos && keepalivedLb && lbs.length > 0) {
    r.error(
      ['spec', 'loadBalancer', 'type'],
      `${lbType} load-balancer hosts need apt packages (HAProxy/nginx, keepalived); with ${spec.os.family} use type: kube-vip or external`,
    );
  }
  if (coreos && spec.topology === 'external-etcd' && spec.etcd.mode === 'binary') {
    r.error(
      ['spec', 'etcd', 'mode'],
      `binary etcd under systemd is installed from apt-family hosts; with ${spec.os.family} use mode: static-pod`,
    );
  }
  checkProxmox(spec, s, r, sourceIndex);
  checkTemplateInputs(spec, r);

  // Coordinator URL and endpoint.
  if (s.coordinator?.url) {
    try {
      const u = new URL(s.coordinator.url);
      if (!u.port)
        r.warn(
          ['spec', 'coordinator', 'url'],
          `has no port; agents will use 443 — write the port \`kubeseed serve\` listens on (${spec.coordinator.listen})`,
        );
    } catch {
      r.error(
        ['spec', 'coordinator', 'url'],
        `"${s.coordinator.url}" is not a URL; write https://ADDRESS:PORT of the machine running kubeseed serve`,
      );
    }
  }
  if (isIPv4(spec.controlPlaneEndpoint.host) && vip && spec.controlPlaneEndpoint.host !== vip) {
    r.warn(
      ['spec', 'controlPlaneEndpoint'],
      `is the address ${spec.controlPlaneEndpoint.host} but the VIP is ${vip}; the endpoint should be the VIP or a name that resolves to it`,
    );
  }

  // Warnings about HA.
  const etcdMembers = spec.topology === 'stacked' ? cps.length : etcds.length;
  if (etcdMembers > 1 && etcdMembers % 2 === 0) {
    r.warn(
      HOSTS,
      `${etcdMembers} etcd members (${spec.topology === 'stacked' ? 'control planes' : 'etcd hosts'}): legal, but an even count tolerates no more failures than ${etcdMembers - 1}; use an odd number`,
      'key',
    );
  }
  if (cps.length === 1) r.warn(hostPath(cps[0]!), 'a single control plane is not highly available');
  if (spec.topology === 'external-etcd' && etcds.length === 1) r.warn(hostPath(etcds[0]!), 'a single etcd member is not highly available');
  if (spec.kubeProxy.mode === 'ipvs')
    r.warn(['spec', 'kubeProxy', 'mode'], 'ipvs is deprecated upstream (since 1.35) and kubeadm warns about it; prefer nftables');
  checkCni(spec, s, r);
}

function formatPathOf(index: number): string {
  return `spec.hosts[${index}]`;
}

/** The plain-HTTP listener serves PXE installers: fleet mode with coordinator.httpListen (docs/pxe.md). */
function pxeInstalls(spec: ClusterSpec): boolean {
  return spec.fleet.enabled && spec.coordinator.httpListen !== '';
}
