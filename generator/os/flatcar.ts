/**
 * Flatcar Container Linux: Ignition; kubelet/kubeadm from a systemd-sysext image and containerd
 * the built-in one when it is 2.0 or newer, else the stored extension image, picked at boot
 * (render/sysext.ts, templates/containerd-flatcar.ts, docs/adr/0021); systemd-networkd and
 * systemd-timesyncd; locksmithd told never to reboot on its own; PXE from Flatcar's PXE image,
 * installing to disk with flatcar-install from a live Ignition config (render/pxe-hosts.ts).
 *
 * Runtime contract: pure.
 */
import {
  CONTAINERD_SELECT_SCRIPT,
  CONTAINERD_SELECT_UNIT,
  renderContainerdSelectScript,
  renderContainerdSelectUnit,
} from '../../templates/index.ts';
import { FLATCAR_BUILTIN_EXTENSIONS_TO_MASK, planSysextImages } from '../render/sysext.ts';
import { READ_ONLY_USR_PATHS } from './read-only-usr.ts';
import type { IgnitionPreparationItem, OsProfile } from './types.ts';

export const FLATCAR: OsProfile = {
  family: 'flatcar',
  format: 'ignition',
  paths: READ_ONLY_USR_PATHS,
  selinux: false,
  ignition: {
    network: 'networkd',
    // Flatcar synchronises with systemd-timesyncd by default.
    timeFile: (servers) => ({ path: '/etc/systemd/timesyncd.conf.d/10-kubeseed.conf', content: `[Time]\nNTP=${servers.join(' ')}\n` }),
    updatePolicy: {
      path: '/etc/flatcar/update.conf',
      content:
        '# written by kubeseed: update_engine still installs updates, nothing reboots on its own.\n' +
        '# Reboot nodes one at a time after draining (FLUO or kured); docs/formats.md.\nREBOOT_STRATEGY=off\n',
    },
    // Flatcar's /usr (with /usr/local) is the read-only, verity-protected OS partition.
    writableUnderUsr: [],
    fetchesFrom: () => [],
    prepare(spec, input) {
      const items: IgnitionPreparationItem[] = [];
      for (const img of planSysextImages(spec, { arch: input.arch, containerdVersion: input.containerdVersion })) {
        const owner = `the ${img.name} system extension`;
        items.push({ fetched: { path: img.storePath, mode: 0o644, source: img.url, ...(img.hash ? { hash: img.hash } : {}), owner } });
        if (img.linkedBy === 'ignition') items.push({ link: { path: img.linkPath, target: img.storePath } });
        else {
          // The built-in containerd runs when it is ≥ 2.0; the stored image only otherwise (ADR 0021).
          const script = renderContainerdSelectScript({ imagePath: img.storePath, linkPath: img.linkPath });
          items.push(
            { file: { path: CONTAINERD_SELECT_SCRIPT, content: script, mode: 0o755 } },
            { unit: { name: CONTAINERD_SELECT_UNIT, enabled: true, contents: renderContainerdSelectUnit() } },
          );
        }
      }
      for (const path of FLATCAR_BUILTIN_EXTENSIONS_TO_MASK) items.push({ link: { path, target: '/dev/null' } });
      items.push({ unit: { name: 'systemd-sysext.service', enabled: true }, ifAbsent: true });
      return items;
    },
    // Flatcar's containerd extension enables its own unit.
    enableContainerd: false,
  },
  pxe: {
    assets: (dir) => ({ kernelUrl: `${dir}/flatcar_production_pxe.vmlinuz`, initrdUrl: `${dir}/flatcar_production_pxe_image.cpio.gz` }),
    kernelArgs(input, check) {
      if (!input.ignitionUrl) throw new Error('flatcar PXE boot needs ignitionUrl');
      return ['flatcar.first_boot=1', `ignition.config.url=${check.httpUrl(input.ignitionUrl, 'ignitionUrl')}`];
    },
    installer: 'live-ignition',
  },
};
