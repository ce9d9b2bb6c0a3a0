/**
 * Ubuntu 22.04/24.04: cloud-init, the apt prepare script (apt.ts), and a PXE boot into the
 * live-server installer, whose autoinstall document carries the host's cloud-config into the
 * installed system (render/pxe.ts `renderUbuntuAutoinstall`).
 *
 * Runtime contract: pure.
 */
import { APT_FAMILY } from './apt.ts';
import { noCloudKernelArgs } from './cloud-init-pxe.ts';
import type { OsProfile } from './types.ts';

export const UBUNTU: OsProfile = {
  ...APT_FAMILY,
  family: 'ubuntu',
  pxe: {
    assets: (dir) => ({ kernelUrl: `${dir}/vmlinuz`, initrdUrl: `${dir}/initrd`, isoUrl: `${dir}/ubuntu-live-server-amd64.iso` }),
    kernelArgs(input, check) {
      if (!input.isoUrl) throw new Error('ubuntu PXE boot needs isoUrl (the live-server ISO the installer loads)');
      // cloud-init would read `url=` as cloud-config-url and fetch the ISO as a config.
      return noCloudKernelArgs(input, check, [`url=${check.httpUrl(input.isoUrl, 'isoUrl')}`, 'cloud-config-url=/dev/null', 'autoinstall']);
    },
    seed: 'autoinstall',
  },
};
