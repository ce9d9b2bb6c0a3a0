/**
 * Debian 12/13: cloud-init and the apt prepare script (apt.ts). Over PXE, Debian's cloud-init
 * live image runs from RAM with the fleet seed and DHCP (no per-machine seed, no installer).
 *
 * Runtime contract: pure.
 */
import { APT_PREPARATION, CONTAINERD_CONFIG_SOURCE } from './apt.ts';
import { noCloudKernelArgs } from './cloud-init-pxe.ts';
import type { OsProfile } from './types.ts';

export const DEBIAN: OsProfile = {
  family: 'debian',
  format: 'cloud-init',
  paths: { agent: '/usr/local/bin/kubeseed-agent', tools: '/usr/local/bin', containerdConfig: CONTAINERD_CONFIG_SOURCE },
  selinux: false,
  cloudInit: APT_PREPARATION,
  pxe: {
    assets: (dir) => ({ kernelUrl: `${dir}/vmlinuz`, initrdUrl: `${dir}/initrd.img` }),
    kernelArgs: (input, check) => noCloudKernelArgs(input, check),
    seed: 'fleet',
  },
};
