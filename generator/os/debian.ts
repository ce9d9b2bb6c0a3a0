/**
 * Debian 12/13: cloud-init and the apt prepare script (apt.ts). Over PXE, Debian's cloud-init
 * live image runs from RAM with the fleet seed and DHCP (no per-machine seed, no installer).
 *
 * Runtime contract: pure.
 */
import { APT_FAMILY } from './apt.ts';
import { noCloudKernelArgs } from './cloud-init-pxe.ts';
import type { OsProfile } from './types.ts';

export const DEBIAN: OsProfile = {
  ...APT_FAMILY,
  family: 'debian',
  pxe: {
    assets: (dir) => ({ kernelUrl: `${dir}/vmlinuz`, initrdUrl: `${dir}/initrd.img` }),
    kernelArgs: (input, check) => noCloudKernelArgs(input, check),
    seed: 'fleet',
  },
};
