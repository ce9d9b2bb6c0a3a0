/**
 * The field schema of `kubeseed.dev/v1alpha1 Cluster` (SPEC.md) and its defaults. Every field a
 * user can write is listed here; anything else is an "unknown field" with a did-you-mean.
 */
import { OS_FAMILIES } from '../os/families.ts';
import { BACKUP_SCHEDULE, BACKUP_SCHEDULE_EXPECT, MAX_BACKUP_RETENTION } from './etcd-backup.ts';
import type { Schema } from './reader.ts';

/**
 * Values written into host scripts and configs are refused here, located, before a template's own
 * last-line check (templates/text.ts and friends) would fail `generate` without a location.
 * test/unit/spec/template-inputs.test.ts pairs each pattern with the assertion it guards.
 */
/** No whitespace, quotes, backslashes, backticks or `$` (templates/text.ts assertUrl). */
const SAFE = '[^\\s"\'`\\\\$]';
/** A base URL the hosts fetch from; plan and render parse it (no_proxy, Ignition's proxy list). */
const HTTP_URL = new RegExp(`^https?://[^\\s/?#"'\`\\\\$]+(/${SAFE}*)?$`);
/** A URL scripts embed (apt sources, proxies, download mirrors): a scheme, then only safe characters (assertUrl). */
const SAFE_URL = new RegExp(`^[a-z][a-z0-9+.-]*://${SAFE}+$`, 'i');
const safeUrl = (what: string, like: string): Schema => ({
  t: 'string',
  pattern: SAFE_URL,
  expect: `${what} URL like ${like} (without spaces, quotes, backslashes, backticks or "$")`,
});
/** A network interface name that keepalived and systemd .link files take (ifnamsiz 15; keepalived wants a letter or digit first). */
const INTERFACE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

const str = (extra: Omit<Extract<Schema, { t: 'string' }>, 't'> = {}): Schema => ({ t: 'string', ...extra });
const int = (min?: number, max?: number): Schema => ({
  t: 'int',
  ...(min !== undefined ? { min } : {}),
  ...(max !== undefined ? { max } : {}),
});
const bool: Schema = { t: 'bool' };
const strList: Schema = { t: 'list', of: str() };

export const DEFAULT_KUBERNETES_VERSION = 'v1.37.0';
export { SUPPORTED_MINORS } from '../versions.ts';
export const MIN_ETCD = { major: 3, minor: 5 } as const;

// Default CNI and etcd versions depend on the Kubernetes minor: see generator/versions.ts.

export const HOST_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const IP = /^\d{1,3}(\.\d{1,3}){3}$/;
const DURATION = /^(\d+h)?(\d+m)?(\d+s)?$/;
/** A disk the PXE installers erase: a /dev path without `.`/`..` steps (it also becomes a kernel argument). */
const INSTALL_DISK = /^\/dev(\/(?!\.\.?(\/|$))[A-Za-z0-9._:+@-]+)+$/;
const installDisk = str({ pattern: INSTALL_DISK, expect: 'a disk device path like /dev/sda, /dev/nvme0n1 or /dev/disk/by-id/…' });

/** Proxmox VM sizes (`qm set --cores`, `--memory` in MiB, `qm disk resize` absolute size). */
const proxmoxSize = {
  cores: int(1, 8192),
  memory: int(16, 4_194_304),
  disk: str({ pattern: /^[1-9][0-9]*(\.[0-9]+)?[MGT]$/, expect: 'a disk size with unit M, G or T, like 40G (qm disk resize)' }),
};

const PROXMOX_STORAGE = /^[A-Za-z][A-Za-z0-9._-]*$/;

const taint: Schema = {
  t: 'object',
  fields: { key: str(), value: str(), effect: str({ enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] }) },
  required: ['key', 'effect'],
};

const host: Schema = {
  t: 'object',
  required: ['name', 'role'],
  fields: {
    name: str({ pattern: HOST_NAME, expect: 'a lower-case DNS label (a-z, 0-9, "-", at most 63 characters)' }),
    role: str({ enum: ['control-plane', 'worker', 'etcd', 'load-balancer'] }),
    fqdn: str({ pattern: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, expect: 'a lower-case DNS name' }),
    address: str({ pattern: CIDR, expect: 'an IPv4 address with prefix, like 10.101.1.101/24' }),
    gateway: str({ pattern: IP, expect: 'an IPv4 address' }),
    nameservers: { t: 'list', of: str({ pattern: IP, expect: 'an IPv4 address' }) },
    mac: str({ pattern: MAC, expect: 'a MAC address like 52:54:00:12:34:56' }),
    uuid: str({ pattern: UUID, expect: 'an SMBIOS UUID like 4c4c4544-0042-3510-8052-b4c04f4e4d32' }),
    labels: { t: 'map', of: str() },
    taints: { t: 'list', of: taint },
    interface: str({ pattern: INTERFACE, expect: 'a network interface name (at most 15 characters, starting with a letter or digit)' }),
    installDisk,
    arch: str({ enum: ['amd64', 'arm64'] }),
    proxmox: { t: 'object', fields: { vmid: int(100, 999_999_999), ...proxmoxSize } },
  },
};

export const CLUSTER_SCHEMA: Schema = {
  t: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  fields: {
    apiVersion: str({ enum: ['kubeseed.dev/v1alpha1'] }),
    kind: str({ enum: ['Cluster'] }),
    metadata: {
      t: 'object',
      required: ['name'],
      fields: { name: str({ pattern: HOST_NAME, expect: 'a lower-case DNS label' }) },
    },
    spec: {
      t: 'object',
      required: ['controlPlaneEndpoint', 'coordinator', 'hosts'],
      fields: {
        kubernetesVersion: str({ pattern: /^v\d+\.\d+\.\d+$/, expect: 'a version like v1.37.0' }),
        topology: str({ enum: ['stacked', 'external-etcd'] }),
        controlPlaneEndpoint: str({ expect: 'host:port, like k8s1api.kloud.lan:6443' }),
        networking: {
          t: 'object',
          fields: {
            podSubnet: str({ pattern: CIDR, expect: 'an IPv4 CIDR like 100.64.0.0/16' }),
            serviceSubnet: str({ pattern: CIDR, expect: 'an IPv4 CIDR like 198.18.0.0/23' }),
            dnsDomain: str({ pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, expect: 'a DNS domain like cluster.local' }),
            nodeCidrMaskSize: int(8, 30),
            hostsFile: bool,
          },
        },
        kubeProxy: { t: 'object', fields: { mode: str({ enum: ['iptables', 'nftables', 'ipvs', 'disabled'] }) } },
        cni: {
          t: 'object',
          fields: {
            plugin: str({ enum: ['calico', 'cilium', 'flannel', 'none'] }),
            version: str({ pattern: /^v\d+\.\d+\.\d+$/, expect: 'a version like v3.30.0' }),
          },
        },
        loadBalancer: {
          t: 'object',
          fields: {
            type: str({ enum: ['haproxy-keepalived', 'nginx-keepalived', 'kube-vip', 'external'] }),
            vip: str({ pattern: IP, expect: 'an IPv4 address' }),
            interface: str({
              pattern: INTERFACE,
              expect: 'a network interface name (at most 15 characters, starting with a letter or digit)',
            }),
            virtualRouterId: int(1, 255),
          },
        },
        etcd: {
          t: 'object',
          fields: {
            mode: str({ enum: ['static-pod', 'binary'] }),
            version: str({ pattern: /^v\d+\.\d+\.\d+$/, expect: 'a version like v3.6.5' }),
            backup: {
              t: 'object',
              fields: {
                schedule: str({ pattern: BACKUP_SCHEDULE, expect: BACKUP_SCHEDULE_EXPECT }),
                retention: int(1, MAX_BACKUP_RETENTION),
              },
            },
          },
        },
        certificates: {
          t: 'object',
          fields: {
            distribution: str({ enum: ['coordinator', 'upload-certs'] }),
            keyAlgorithm: str({ enum: ['RSA-2048', 'ECDSA-P256'] }),
            extraSANs: strList,
          },
        },
        os: {
          t: 'object',
          fields: {
            family: str({ enum: [...OS_FAMILIES] }),
            format: str({ enum: ['cloud-init', 'ignition'] }),
            platform: str({ enum: ['generic', 'aws', 'openstack', 'proxmox', 'pxe'] }),
            packages: str({ enum: ['install', 'preinstalled'] }),
            // chrony/timesyncd lines and the prepare script (templates/prepare-host.ts, rpm-ostree.ts).
            timeServers: {
              t: 'list',
              of: str({
                pattern: /^[A-Za-z0-9][A-Za-z0-9.:-]*$/,
                expect: 'a time server: a host name or IP address, like ntp.lan or 10.0.0.1',
              }),
            },
            containerdVersion: str({
              pattern: /^[2-9]\.\d+\.\d+$/,
              expect:
                'a containerd release of 2.0 or newer without "v", like 2.3.4 (kubeseed writes config version 3, which containerd 1.x refuses)',
            }),
            sshAuthorizedKeys: {
              t: 'list',
              of: str({ pattern: /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-\S+) \S+/, expect: 'an OpenSSH public key line' }),
            },
          },
        },
        proxy: {
          t: 'object',
          fields: {
            http: safeUrl('a proxy', 'http://proxy.lan:3128'),
            https: safeUrl('a proxy', 'http://proxy.lan:3128'),
            // templates/containerd.ts assertNoProxyEntry: systemd Environment= and shell exports.
            noProxy: {
              t: 'list',
              of: str({
                pattern: /^[A-Za-z0-9.:/*_-]+$/,
                expect: 'a no_proxy entry: a host, domain, address or CIDR (letters, digits and .:/*_-)',
              }),
            },
          },
        },
        mirrors: {
          t: 'object',
          fields: {
            kubernetesApt: safeUrl('an apt repository', 'https://mirror.lan/kubernetes/core:/stable:/v1.37/deb/'),
            kubernetesAptKey: safeUrl('a signing key', 'https://mirror.lan/kubernetes/Release.key'),
            containerd: safeUrl('an apt repository', 'https://mirror.lan/docker/linux/{distro}'),
            containerdKey: safeUrl('a signing key', 'https://mirror.lan/docker/gpg'),
            etcd: safeUrl('a base', 'https://mirror.lan/etcd'),
            cni: safeUrl('a base', 'https://mirror.lan/cni'),
            cilium: str({
              pattern: new RegExp(`^https?://${SAFE}+$`),
              expect: 'an http(s) base URL holding the cilium CLI tarballs and Cilium charts, without quotes or "$"',
            }),
            kubernetesRpm: str({
              pattern: HTTP_URL,
              expect: 'an http(s) base URL of the Kubernetes RPM repository of the minor, like https://mirror.lan/core:/stable:/v1.37/rpm/',
            }),
            kubernetesRpmKey: str({
              pattern: new RegExp(`^https://[^\\s/?#"'\`\\\\$]+(/${SAFE}*)?$`),
              expect: "an https URL of the RPM repository's signing key (it is the trust root of every layered package)",
            }),
            sysext: str({
              pattern: HTTP_URL,
              expect: 'an http(s) base URL serving the system extension images, like https://mirror.lan/sysext/',
            }),
            sysextSha256: {
              t: 'map',
              of: str({ pattern: /^[0-9a-f]{64}$/, expect: 'a SHA-256 as sha256sum prints it: 64 lower-case hex digits' }),
            },
            // etcd release tarballs by file name (etcd-v3.6.8-linux-amd64.tar.gz): what `kubeseed upgrade` pins (ADR 0043).
            etcdSha256: {
              t: 'map',
              of: str({ pattern: /^[0-9a-f]{64}$/, expect: 'a SHA-256 as sha256sum prints it: 64 lower-case hex digits' }),
            },
            agent: str({
              pattern: HTTP_URL,
              expect: 'an http(s) base URL serving the linux-amd64/linux-arm64 agent executables, like https://mirror.lan/kubeseed/agent/',
            }),
            // becomes `<imageRepository>/pause:<tag>` in containerd's config (templates/containerd.ts).
            imageRepository: str({ pattern: /^[a-z0-9][a-z0-9.:/_@-]*$/i, expect: 'an image repository like registry.lan/k8s' }),
            // keys (registry host[:port] or _default) and non-empty lists: generator/spec/checks-inputs.ts
            registryMirrors: {
              t: 'map',
              of: {
                t: 'list',
                of: str({
                  pattern: new RegExp(`^([a-z][a-z0-9+.-]*://)?${SAFE}+$`, 'i'),
                  expect: 'a registry mirror like https://mirror.lan:5000, without spaces, quotes or "$"',
                }),
              },
            },
          },
        },
        proxmox: {
          t: 'object',
          fields: {
            // the names deploy.sh passes to qm and pvesm (generator/render/proxmox.ts checkProxmoxSpec)
            node: str({ pattern: /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, expect: 'a Proxmox VE node name like pve1' }),
            templateVmid: int(100, 999_999_999),
            storage: str({ pattern: PROXMOX_STORAGE, expect: 'a Proxmox storage id like local-lvm' }),
            snippetStorage: str({ pattern: PROXMOX_STORAGE, expect: 'a Proxmox storage id like local' }),
            bridge: str({ pattern: /^[A-Za-z0-9._-]{1,15}$/, expect: 'a bridge name like vmbr0' }),
            onboot: bool,
            // Proxmox's tag syntax (pve-tag-list in qemu-server's VM schema), lower case.
            tags: {
              t: 'list',
              of: str({ pattern: /^[a-z0-9_][a-z0-9_+.-]*$/, expect: 'a Proxmox tag: a-z, 0-9, "_", then also "-", "+", "."' }),
            },
            bootDisk: str({ pattern: /^(scsi|virtio|sata|ide)[0-9]{1,2}$/, expect: 'a disk of the template like scsi0 or virtio0' }),
            roles: {
              t: 'object',
              fields: Object.fromEntries(
                ['control-plane', 'worker', 'etcd', 'load-balancer'].map((role) => [role, { t: 'object', fields: proxmoxSize }]),
              ),
            },
          },
        },
        coordinator: {
          t: 'object',
          required: ['url'],
          fields: {
            url: str({
              pattern: /^https:\/\/[^/\s"'`\\$]+\/?$/,
              expect: 'an https:// URL with host and port, like https://10.101.1.5:9443',
            }),
            listen: str(),
            httpListen: str(),
            replicaUrls: {
              t: 'list',
              of: str({
                pattern: /^https:\/\/[^/\s"'`\\$]+\/?$/,
                expect: 'an https:// URL with host and port of another kubeseed serve on the same etcd, like https://10.101.1.6:9443',
              }),
            },
          },
        },
        fleet: { t: 'object', fields: { enabled: bool, installUnknownMacs: bool, installDisk } },
        day2: { t: 'object', fields: { keepAgent: bool } },
        rollout: {
          t: 'object',
          fields: {
            controlPlaneParallelism: int(1, 10),
            workerParallelism: int(1, 100_000),
            tokenTTL: str({ pattern: DURATION, expect: 'a duration like 1h or 30m' }),
          },
        },
        hosts: { t: 'list', of: host },
        testing: { t: 'object', fields: { allowOldEtcd: bool, reason: str() } },
      },
    },
  },
};
