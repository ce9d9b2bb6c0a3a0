/**
 * Fedora CoreOS: Ignition; rpm-ostree layers kubelet/kubeadm/kubectl from the pkgs.k8s.io RPM
 * repository and containerd is the image's own (fedora-coreos-rpm.ts, docs/adr/0023); SELinux
 * enforcing; NetworkManager and chronyd; Zincati updates off; PXE from the live kernel, initramfs
 * and root file system, installing to disk with coreos-installer from kernel arguments.
 *
 * Runtime contract: pure.
 */
import { CHRONY_TMPFILES_PATH, renderChronyTmpfiles } from '../../templates/index.ts';
import { hostOfUrl } from '../util/ip.ts';
import { planFedoraCoreOsPackages } from './fedora-coreos-rpm.ts';
import { READ_ONLY_USR_PATHS } from './read-only-usr.ts';
import type { IgnitionPreparationItem, OsProfile } from './types.ts';

export const FEDORA_COREOS: OsProfile = {
  family: 'fedora-coreos',
  format: 'ignition',
  paths: READ_ONLY_USR_PATHS,
  // SELinux enforcing: containerd labels containers.
  selinux: true,
  ignition: {
    network: 'networkmanager',
    // chronyd; its chrony.conf (and the platform sources FCOS derives from it) stays.
    timeFile: (servers) => ({ path: CHRONY_TMPFILES_PATH, content: renderChronyTmpfiles(servers) }),
    updatePolicy: {
      path: '/etc/zincati/config.d/90-kubeseed-updates.toml',
      content:
        '# written by kubeseed: Zincati would reboot as soon as an update is staged. Enable updates with the\n' +
        '# fleet_lock strategy once the cluster is verified; docs/formats.md.\n[updates]\nenabled = false\n',
    },
    // Only /usr/local is writable (a link to /var/usrlocal).
    writableUnderUsr: ['/usr/local/'],
    fetchesFrom: (spec) => (spec.mirrors.kubernetesRpm ? [hostOfUrl(spec.mirrors.kubernetesRpm).host] : []),
    prepare(spec, input) {
      const fcos = planFedoraCoreOsPackages(spec, input.proxy);
      return [
        ...fcos.files.map((file): IgnitionPreparationItem => ({ file })),
        ...fcos.remote.map(
          (r): IgnitionPreparationItem => ({
            fetched: { path: r.path, mode: 0o644, source: r.source, owner: 'the Kubernetes RPM repository key' },
          }),
        ),
        ...fcos.units.map((unit): IgnitionPreparationItem => ({ unit, reservedFor: 'rpm-ostree layering' })),
      ];
    },
    // Fedora CoreOS's presets leave the image's containerd off.
    enableContainerd: true,
  },
  pxe: {
    assets: (dir) => ({
      kernelUrl: `${dir}/fedora-coreos-live-kernel-x86_64`,
      initrdUrl: `${dir}/fedora-coreos-live-initramfs.x86_64.img`,
      rootfsUrl: `${dir}/fedora-coreos-live-rootfs.x86_64.img`,
    }),
    kernelArgs(input, check) {
      if (!input.ignitionUrl) throw new Error('fedora-coreos PXE boot needs ignitionUrl');
      if (!input.rootfsUrl) throw new Error('fedora-coreos PXE boot needs rootfsUrl (coreos.live.rootfs_url)');
      const args = [`coreos.live.rootfs_url=${check.httpUrl(input.rootfsUrl, 'rootfsUrl')}`];
      if (input.installDevice) {
        args.push(`coreos.inst.install_dev=${check.token(input.installDevice, 'installDevice')}`);
        args.push(`coreos.inst.ignition_url=${check.httpUrl(input.ignitionUrl, 'ignitionUrl')}`);
      } else {
        args.push(
          'ignition.firstboot',
          'ignition.platform.id=metal',
          `ignition.config.url=${check.httpUrl(input.ignitionUrl, 'ignitionUrl')}`,
        );
      }
      return args;
    },
    installer: 'kernel-args',
  },
};
